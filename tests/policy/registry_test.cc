// The registry: validation of the check list and the ordered list per level and version.

#include "policy/registry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace palisade::policy {
namespace {

std::vector<std::string> Ids(Level level, int minor) {
  std::vector<std::string> ids;
  for (const RegisteredCheck& check : DefaultRegistry().ChecksFor(level, Version{minor})) {
    ids.emplace_back(check.id);
  }
  return ids;
}

TEST(Registry, DefaultChecksAreValid) {
  std::string error;
  const auto registry = CheckRegistry::Build(DefaultChecks(), &error);
  ASSERT_TRUE(registry) << error;
  EXPECT_EQ(registry->checks().size(), 19u);
  EXPECT_EQ(registry->MaxVersion(), Version::Latest());
}

TEST(Registry, BaselineOrder) {
  const std::vector<std::string> v1_0{"appArmorProfile",
                                      "capabilities_baseline",
                                      "hostNamespaces",
                                      "hostPathVolumes",
                                      "hostPorts",
                                      "privileged",
                                      "procMount",
                                      "seLinuxOptions",
                                      "seccompProfile_baseline",
                                      "sysctls",
                                      "windowsHostProcess"};
  EXPECT_EQ(Ids(Level::kBaseline, 0), v1_0);
  EXPECT_EQ(Ids(Level::kBaseline, 33), v1_0);
  const std::vector<std::string> v1_34{
      "appArmorProfile", "capabilities_baseline",      "hostNamespaces", "hostPathVolumes",
      "hostPorts",       "hostProbesAndHostLifecycle", "privileged",     "procMount",
      "seLinuxOptions",  "seccompProfile_baseline",    "sysctls",        "windowsHostProcess"};
  EXPECT_EQ(Ids(Level::kBaseline, 34), v1_34);
  EXPECT_EQ(Ids(Level::kBaseline, Version::kLatestMinor), v1_34);
}

TEST(Registry, RestrictedOrderAndReplacements) {
  EXPECT_EQ(Ids(Level::kRestricted, 0),
            (std::vector<std::string>{"appArmorProfile", "capabilities_baseline", "hostNamespaces",
                                      "hostPorts", "privileged", "procMount", "seLinuxOptions",
                                      "seccompProfile_baseline", "sysctls", "windowsHostProcess",
                                      "restrictedVolumes", "runAsNonRoot"}));
  EXPECT_EQ(
      Ids(Level::kRestricted, 19),
      (std::vector<std::string>{"appArmorProfile", "capabilities_baseline", "hostNamespaces",
                                "hostPorts", "privileged", "procMount", "seLinuxOptions", "sysctls",
                                "windowsHostProcess", "allowPrivilegeEscalation",
                                "restrictedVolumes", "runAsNonRoot", "seccompProfile_restricted"}));
  EXPECT_EQ(Ids(Level::kRestricted, Version::kLatestMinor),
            (std::vector<std::string>{
                "appArmorProfile", "hostNamespaces", "hostPorts", "hostProbesAndHostLifecycle",
                "privileged", "seLinuxOptions", "sysctls", "windowsHostProcess",
                "allowPrivilegeEscalation", "capabilities_restricted", "procMount_restricted",
                "restrictedVolumes", "runAsNonRoot", "runAsUser", "seccompProfile_restricted"}));
}

TEST(Registry, CountsPerVersion) {
  struct Expectation {
    int minor;
    std::size_t baseline;
    std::size_t restricted;
  };
  for (const Expectation e : {Expectation{0, 11, 12},
                              {7, 11, 12},
                              {8, 11, 13},
                              {19, 11, 13},
                              {22, 11, 13},
                              {23, 11, 14},
                              {34, 12, 15},
                              {35, 12, 15},
                              {Version::kLatestMinor, 12, 15}}) {
    EXPECT_EQ(Ids(Level::kBaseline, e.minor).size(), e.baseline) << "v1." << e.minor;
    EXPECT_EQ(Ids(Level::kRestricted, e.minor).size(), e.restricted) << "v1." << e.minor;
  }
  EXPECT_TRUE(Ids(Level::kPrivileged, Version::kLatestMinor).empty());
  EXPECT_EQ(Ids(Level::kRestricted, 99), Ids(Level::kRestricted, Version::kLatestMinor));
}

Findings Pass(const Pod&) { return {}; }
RenderedFailure Say(const Findings&) { return {}; }

std::string BuildError(std::vector<Check> checks) {
  std::string error;
  const auto registry = CheckRegistry::Build(std::move(checks), &error);
  EXPECT_FALSE(registry);
  return error;
}

TEST(Registry, RejectsInvalidChecks) {
  EXPECT_EQ(BuildError({Check{"a", Level::kBaseline, {{Version{0}, Pass, {}}}, Say},
                        Check{"a", Level::kRestricted, {{Version{0}, Pass, {}}}, Say}}),
            "multiple checks registered for id a");
  EXPECT_EQ(BuildError({Check{"a", Level::kPrivileged, {{Version{0}, Pass, {}}}, Say}}),
            "check a: invalid level privileged");
  EXPECT_EQ(BuildError({Check{"a", Level::kBaseline, {}, Say}}), "check a: no versions");
  EXPECT_EQ(BuildError({Check{"a", Level::kBaseline, {{Version{0}, Pass, {}}}, nullptr}}),
            "check a: no render function");
  EXPECT_EQ(BuildError({Check{
                "a", Level::kBaseline, {{Version{5}, Pass, {}}, {Version{5}, Pass, {}}}, Say}}),
            "check a: versions must be strictly increasing");
  EXPECT_EQ(BuildError({Check{
                "a", Level::kBaseline, {{Version{9}, Pass, {}}, {Version{5}, Pass, {}}}, Say}}),
            "check a: versions must be strictly increasing");
  EXPECT_EQ(BuildError({Check{"a", Level::kBaseline, {{Version{99}, Pass, {}}}, Say}}),
            "check a: version v1.99 is out of range");
  EXPECT_EQ(BuildError({Check{"a", Level::kBaseline, {{Version{0}, nullptr, {}}}, Say}}),
            "check a: version v1.0 has no function");
  EXPECT_EQ(BuildError({Check{"a", Level::kBaseline, {{Version{0}, Pass, {"b"}}}, Say},
                        Check{"b", Level::kBaseline, {{Version{0}, Pass, {}}}, Say}}),
            "check a: only restricted checks may replace others");
  EXPECT_EQ(BuildError({Check{"a", Level::kRestricted, {{Version{0}, Pass, {"zzz"}}}, Say}}),
            "check a: replaces unknown check zzz");
  EXPECT_EQ(BuildError({Check{"a", Level::kRestricted, {{Version{0}, Pass, {"b"}}}, Say},
                        Check{"b", Level::kRestricted, {{Version{0}, Pass, {}}}, Say}}),
            "check a: replaces non-baseline check b");
}

// A replacement applies only while the replacing version is in force.
TEST(Registry, ReplacementFollowsVersions) {
  std::string error;
  const auto registry = CheckRegistry::Build(
      {Check{"base", Level::kBaseline, {{Version{0}, Pass, {}}}, Say},
       Check{"strict", Level::kRestricted, {{Version{3}, Pass, {"base"}}}, Say}},
      &error);
  ASSERT_TRUE(registry) << error;
  EXPECT_EQ(registry->MaxVersion(), Version{3});
  const auto ids = [&](Level level, int minor) {
    std::vector<std::string_view> out;
    for (const auto& c : registry->ChecksFor(level, Version{minor})) out.push_back(c.id);
    return out;
  };
  EXPECT_EQ(ids(Level::kRestricted, 2), std::vector<std::string_view>{"base"});
  EXPECT_EQ(ids(Level::kRestricted, 3), std::vector<std::string_view>{"strict"});
  EXPECT_EQ(ids(Level::kRestricted, 30), std::vector<std::string_view>{"strict"});
  EXPECT_EQ(ids(Level::kBaseline, 30), std::vector<std::string_view>{"base"});
}

}  // namespace
}  // namespace palisade::policy
