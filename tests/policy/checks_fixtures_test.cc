// The check fixtures (fixtures/, one file per check ID) at every level and version, the coverage
// of every registered check version, and cases that are about the evaluator rather than a check.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fixture_cases.h"
#include "policy/registry.h"

namespace palisade::policy::testing {
namespace {

// The registered check IDs, and "" for the cases about several checks.
std::vector<std::string> FixtureGroups() {
  std::vector<std::string> groups{""};
  for (const Check& check : DefaultRegistry().checks()) groups.emplace_back(check.id);
  return groups;
}

std::vector<std::string> FailureIds(const Evaluation& evaluation) {
  std::vector<std::string> ids;
  for (const auto& failure : evaluation.failures) ids.push_back(std::string(failure.id));
  return ids;
}

class CheckFixtures : public ::testing::TestWithParam<std::string> {};

// Every case of one check at every level and version in its range: the whole message, and a
// failing case names its own check among the failures.
TEST_P(CheckFixtures, EveryCaseAtEveryVersion) {
  int evaluated = 0;
  for (const FixtureCase& c : AllFixtureCases()) {
    if (c.check != GetParam()) continue;
    ASSERT_LE(c.from, c.to) << c.name;
    bool names_its_check = c.check.empty() || c.expected.empty();
    for (Level level : c.levels) {
      for (int minor = c.from; minor <= c.to; ++minor) {
        rapidjson::Document doc = MinimalPod(level, minor);
        c.tweak(doc);
        const Evaluation evaluation = Evaluate(doc, level, minor);
        const std::string where =
            c.name + " at " + std::string(LevelName(level)) + ":v1." + std::to_string(minor);
        EXPECT_TRUE(evaluation.errors.empty()) << where << ": " << evaluation.Message();
        EXPECT_EQ(evaluation.allowed, c.expected.empty()) << where;
        EXPECT_EQ(evaluation.Message(), c.expected) << where;
        for (const std::string& id : FailureIds(evaluation)) names_its_check |= id == c.check;
        ++evaluated;
      }
    }
    EXPECT_TRUE(names_its_check) << c.name << ": never fails check " << c.check;
  }
  EXPECT_GT(evaluated, 0) << "no fixtures for check " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(ByCheck, CheckFixtures, ::testing::ValuesIn(FixtureGroups()),
                         [](const auto& info) {
                           return info.param.empty() ? std::string("several") : info.param;
                         });

// As PSA's fixture test: every version of every registered check has, at the check's level, a
// case that passes and a case that fails at its minimum version.
TEST(ChecksFixtures, EveryCheckVersionHasPassingAndFailingCases) {
  const std::vector<FixtureCase> cases = AllFixtureCases();
  for (const Check& check : DefaultRegistry().checks()) {
    for (const VersionedCheck& version : check.versions) {
      const int minor = version.minimum.minor;
      bool passes = false, fails = false;
      for (const FixtureCase& c : cases) {
        if (c.check != check.id || minor < c.from || minor > c.to) continue;
        if (std::find(c.levels.begin(), c.levels.end(), check.level) == c.levels.end()) continue;
        (c.expected.empty() ? passes : fails) = true;
      }
      EXPECT_TRUE(passes) << check.id << " v1." << minor << " has no passing case";
      EXPECT_TRUE(fails) << check.id << " v1." << minor << " has no failing case";
    }
  }
}

// Privileged runs no checks, whatever the pod does.
TEST(ChecksFixtures, PrivilegedRunsNothing) {
  rapidjson::Document doc = MinimalPod(Level::kBaseline, Version::kLatestMinor);
  Set(doc, "/spec/hostNetwork", "true");
  Set(doc, "/spec/containers/0/securityContext/privileged", "true");
  const Evaluation evaluation = Evaluate(doc, Level::kPrivileged, Version::kLatestMinor);
  EXPECT_TRUE(evaluation.allowed);
  EXPECT_EQ(evaluation.Message(), "");
  EXPECT_FALSE(Evaluate(doc, Level::kBaseline, Version::kLatestMinor).allowed);
}

TEST(ChecksFixtures, FailuresCarryIds) {
  rapidjson::Document doc = MinimalPod(Level::kRestricted, Version::kLatestMinor);
  Set(doc, "/spec/hostPID", "true");
  Erase(doc, "/spec/containers/0/securityContext/capabilities");
  const Evaluation evaluation = Evaluate(doc, Level::kRestricted, Version::kLatestMinor);
  ASSERT_EQ(evaluation.failures.size(), 2u);
  EXPECT_EQ(evaluation.failures[0].id, "hostNamespaces");
  EXPECT_EQ(evaluation.failures[0].reason, "host namespaces");
  EXPECT_EQ(evaluation.failures[0].detail, "hostPID=true");
  EXPECT_EQ(evaluation.failures[1].id, "capabilities_restricted");
}

// A wrong-typed field is never allowed, even when the checks pass; errors come first.
TEST(ChecksFixtures, WrongTypesAreDenied) {
  rapidjson::Document doc = MinimalPod(Level::kBaseline, Version::kLatestMinor);
  Set(doc, "/spec/containers/0/securityContext/privileged", R"("true")");
  Set(doc, "/spec/volumes", R"({"name":"v"})");
  const Evaluation evaluation = Evaluate(doc, Level::kBaseline, Version::kLatestMinor);
  EXPECT_FALSE(evaluation.allowed);
  EXPECT_TRUE(evaluation.failures.empty());
  EXPECT_EQ(evaluation.Message(),
            "spec.volumes: must be a list, got object, "
            "spec.containers[0].securityContext.privileged: must be a boolean, got string");

  // Also at privileged, and followed by the check failures.
  EXPECT_FALSE(Evaluate(doc, Level::kPrivileged, Version::kLatestMinor).allowed);
  Set(doc, "/spec/hostIPC", "true");
  EXPECT_EQ(Evaluate(doc, Level::kBaseline, Version::kLatestMinor).Message(),
            "spec.volumes: must be a list, got object, "
            "spec.containers[0].securityContext.privileged: must be a boolean, got string, "
            "host namespaces (hostIPC=true)");
}

TEST(ChecksFixtures, WrongTypeInRestrictedField) {
  rapidjson::Document doc = MinimalPod(Level::kRestricted, Version::kLatestMinor);
  Set(doc, "/spec/initContainers/0/securityContext/capabilities/drop", R"("ALL")");
  const Evaluation evaluation = Evaluate(doc, Level::kRestricted, Version::kLatestMinor);
  EXPECT_FALSE(evaluation.allowed);
  EXPECT_EQ(evaluation.Message(),
            "spec.initContainers[0].securityContext.capabilities.drop: must be a list, got string, "
            R"(unrestricted capabilities (container "init" must set )"
            R"(securityContext.capabilities.drop=["ALL"]))");
}

// The reader looks up a container's, a security context's and a spec's fields in one pass over
// their members: wrong types are still reported in the reader's order, whatever the document's,
// and of duplicate keys (which plain RapidJSON keeps) the first is read, null or not.
TEST(ChecksFixtures, FieldsReadInOnePassKeepTheReadersOrder) {
  rapidjson::Document doc;
  doc.Parse(R"({"spec":{"hostNetwork":false,"containers":[{"livenessProbe":3,"securityContext":null,
    "ports":"x","image":5,"name":"c","securityContext":{"privileged":true}}],"hostNetwork":true,
    "securityContext":{"sysctls":{},"runAsUser":"0"}}})");
  ASSERT_FALSE(doc.HasParseError());
  const PodReadResult read = ReadPod(doc);
  std::vector<std::string> errors;
  for (const FieldError& error : read.errors) errors.push_back(error.path + ": " + error.message);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "spec.securityContext.runAsUser: must be an integer, got string",
                        "spec.securityContext.sysctls: must be a list, got object",
                        "spec.containers[0].image: must be a string, got number",
                        "spec.containers[0].ports: must be a list, got string",
                        "spec.containers[0].livenessProbe: must be an object, got number",
                    }));
  EXPECT_EQ(read.pod.host_network, false);
  ASSERT_EQ(read.pod.containers.size(), 1u);
  EXPECT_EQ(read.pod.containers[0].name, "c");
  EXPECT_FALSE(read.pod.containers[0].security_context.present);
}

// A version newer than the binary knows is evaluated as the newest.
TEST(ChecksFixtures, NewerVersionEvaluatesAsLatest) {
  rapidjson::Document doc = MinimalPod(Level::kBaseline, Version::kLatestMinor);
  Set(doc, "/spec/securityContext/sysctls", R"([{"name":"net.ipv4.tcp_notsent_lowat"}])");
  EXPECT_TRUE(Evaluate(doc, Level::kBaseline, 99).allowed);
  Set(doc, "/spec/securityContext/sysctls", R"([{"name":"kernel.msgmax"}])");
  EXPECT_EQ(Evaluate(doc, Level::kBaseline, 99).Message(), "forbidden sysctls (kernel.msgmax)");
}

}  // namespace
}  // namespace palisade::policy::testing
