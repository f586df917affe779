// policy::AuditObject and policy::NamespaceReport alone: verdicts and results of objects as the API
// returns them, the cap with the remainder counted, report order.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "policy/audit_report.h"
#include "server/policy_loader.h"

namespace palisade {
namespace {

using policy::AuditOutcome;

constexpr char kPolicies[] = R"(apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata: {name: teams}
spec:
  namespaces: ["team-*"]
  podSecurity: {enforce: baseline, warn: "restricted:v1.30"}
)";

std::shared_ptr<const policy::PolicySet> Policies() {
  server::PolicySource source;
  source.files.push_back({"teams.yaml", kPolicies, ""});
  server::PolicyLoadResult loaded = server::BuildPolicies(source, nullptr);
  EXPECT_TRUE(loaded.ok());
  return loaded.set;
}

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  EXPECT_FALSE(document.HasParseError()) << text;
  return document;
}

std::string Pod(const std::string& ns, const std::string& name, const std::string& container) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns + R"(","uid":"u-)" + name +
         R"(","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-1","uid":"r","controller":true}]},"spec":{"containers":[)" +
         container + "]}}";
}
const std::string kPrivileged =
    R"({"name":"app","image":"nginx","securityContext":{"privileged":true}})";
const std::string kPlain = R"({"name":"app","image":"nginx"})";
const std::string kRestricted =
    R"({"name":"app","image":"nginx","securityContext":{"allowPrivilegeEscalation":false,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}}})";

policy::AuditedObject Audit(const std::string& json, const std::string& ns,
                            policy::ObjectType type = policy::ObjectType::kPod) {
  const auto policies = Policies();
  const rapidjson::Document object = Json(json);
  return policy::AuditObject(object, type, *policies->ForNamespace(ns), {});
}

TEST(AuditObjectTest, EnforceFailureIsOneFailPerCheckWithItsPolicyLevelAndMessage) {
  const policy::AuditedObject audited = Audit(Pod("team-a", "web-1-x", kPrivileged), "team-a");
  EXPECT_EQ(audited.verdict, AuditOutcome::kFail);
  EXPECT_EQ(audited.subject.kind, "Pod");
  EXPECT_EQ(audited.subject.api_version, "v1");
  EXPECT_EQ(audited.subject.uid, "u-web-1-x");
  EXPECT_EQ(audited.subject.owner, "ReplicaSet/web-1");
  EXPECT_NE(audited.message.find("violates PodSecurity \"baseline:v1.37\""), std::string::npos)
      << audited.message;
  ASSERT_EQ(audited.results.size(), 1u);
  const policy::AuditResult& result = audited.results[0];
  EXPECT_EQ(result.outcome, AuditOutcome::kFail);
  EXPECT_EQ(result.policy, "teams");
  EXPECT_EQ(result.rule, "privileged");
  EXPECT_EQ(result.category, "Pod Security Standards (Baseline)");
  EXPECT_EQ(result.message,
            "privileged (container \"app\" must not set securityContext.privileged=true)");
  const std::vector<std::pair<std::string, std::string>> expected_properties = {
      {"level", "baseline"},
      {"mode", "enforce"},
      {"owner", "ReplicaSet/web-1"},
      {"policyRevision", Policies()->policies()[0].revision},
      {"version", "v1.37"}};
  EXPECT_EQ(result.properties, expected_properties);
}

TEST(AuditObjectTest, AdmittedWithWarningsIsPassPlusOneWarnPerCheck) {
  const policy::AuditedObject audited = Audit(Pod("team-a", "p", kPlain), "team-a");
  EXPECT_EQ(audited.verdict, AuditOutcome::kWarn);
  ASSERT_EQ(audited.warnings.size(), 1u);
  std::vector<std::string> rules;
  for (const auto& result : audited.results) {
    rules.push_back(std::string(policy::AuditOutcomeName(result.outcome)) + " " + result.rule);
  }
  EXPECT_EQ(rules, (std::vector<std::string>{
                       "warn allowPrivilegeEscalation", "warn capabilities_restricted",
                       "warn runAsNonRoot", "warn seccompProfile_restricted", "pass podSecurity"}));
  for (const auto& result : audited.results) {
    if (result.outcome != AuditOutcome::kWarn) continue;
    EXPECT_EQ(result.category, "Pod Security Standards (Restricted)");
    EXPECT_NE(std::find(result.properties.begin(), result.properties.end(),
                        std::pair<std::string, std::string>{"version", "v1.30"}),
              result.properties.end());
  }
}

TEST(AuditObjectTest, CleanPodIsOnePass) {
  const policy::AuditedObject audited = Audit(Pod("team-a", "p", kRestricted), "team-a");
  EXPECT_EQ(audited.verdict, AuditOutcome::kPass);
  ASSERT_EQ(audited.results.size(), 1u);
  EXPECT_EQ(audited.results[0].rule, "podSecurity");
  EXPECT_EQ(audited.results[0].message, "admitted by enforce: PodSecurity \"baseline:v1.37\"");
}

TEST(AuditObjectTest, NamespaceWithoutPolicyIsSkipped) {
  const policy::AuditedObject audited = Audit(Pod("other", "p", kPrivileged), "other");
  EXPECT_EQ(audited.verdict, AuditOutcome::kSkip);
  ASSERT_EQ(audited.results.size(), 1u);
  EXPECT_EQ(audited.results[0].outcome, AuditOutcome::kSkip);
}

TEST(AuditObjectTest, LevelOverrideJudgesEveryNamespace) {
  const auto policies = Policies();
  const rapidjson::Document object = Json(Pod("other", "p", kPlain));
  policy::AuditOptions options;
  std::string error;
  options.level_override = policy::ParseLevelVersion("restricted", &error);
  const policy::AuditedObject audited = policy::AuditObject(
      object, policy::ObjectType::kPod, *policies->ForNamespace("other"), options);
  EXPECT_EQ(audited.verdict, AuditOutcome::kFail);
  EXPECT_EQ(audited.results.front().policy, "--level");
}

TEST(AuditObjectTest, UnreadableObjectIsAnError) {
  const policy::AuditedObject audited = Audit(
      R"({"metadata":{"name":"d","namespace":"team-a"},"spec":{"template":{"spec":{"containers":"x"}}}})",
      "team-a", policy::ObjectType::kDeployment);
  EXPECT_EQ(audited.verdict, AuditOutcome::kError);
  EXPECT_EQ(audited.subject.api_version, "apps/v1");
  EXPECT_NE(audited.message.find("cannot read the object as a Deployment"), std::string::npos)
      << audited.message;
}

TEST(NamespaceReportTest, KeepsTheFirstResultsInReportOrderAndCountsEveryOne) {
  policy::NamespaceReport report("team-a", 200);
  // Passes first, then failures: the failures must still win the 200 places.
  for (int i = 0; i < 300; ++i) {
    report.Add(Audit(Pod("team-a", "ok-" + std::to_string(1000 + i), kRestricted), "team-a"));
  }
  for (int i = 0; i < 250; ++i) {
    report.Add(Audit(Pod("team-a", "bad-" + std::to_string(1000 + i), kPrivileged), "team-a"));
  }
  EXPECT_EQ(report.summary()[AuditOutcome::kFail], 250);
  EXPECT_EQ(report.summary()[AuditOutcome::kPass], 300);
  EXPECT_EQ(report.resources()[AuditOutcome::kFail], 250);
  EXPECT_EQ(report.omitted(), 350);
  const auto kept = report.Kept();
  ASSERT_EQ(kept.size(), 200u);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i].second->outcome, AuditOutcome::kFail);
    EXPECT_EQ(kept[i].first->name, "bad-" + std::to_string(1000 + i));  // sorted by name
  }

  policy::AuditRun run;
  run.started = "2024-05-01T10:00:00Z";
  run.started_unix_seconds = 1714557600;
  run.duration_seconds = 1.5;
  const rapidjson::Document object = report.ToReport(run, "42");
  EXPECT_STREQ(object["kind"].GetString(), "Report");
  EXPECT_STREQ(object["metadata"]["name"].GetString(), "palisade");
  EXPECT_STREQ(object["metadata"]["resourceVersion"].GetString(), "42");
  EXPECT_STREQ(object["metadata"]["annotations"]["palisade.dev/results-omitted"].GetString(),
               "350");
  EXPECT_STREQ(object["metadata"]["annotations"]["palisade.dev/results-total"].GetString(), "550");
  EXPECT_STREQ(object["metadata"]["annotations"]["palisade.dev/run-duration-seconds"].GetString(),
               "1.500");
  EXPECT_EQ(object["summary"]["fail"].GetInt(), 250);
  EXPECT_EQ(object["results"].Size(), 200u);
  EXPECT_EQ(object["configuration"]["limits"]["maxResults"].GetInt(), 200);
  EXPECT_STREQ(object["results"][0]["resources"][0]["name"].GetString(), "bad-1000");
  EXPECT_EQ(object["results"][0]["timestamp"]["seconds"].GetInt64(), 1714557600);
}

}  // namespace
}  // namespace palisade
