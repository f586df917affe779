// Structured findings: what each check reports (container, field, values), and that PSA's text is
// rendered from them alone (every fixture case, and any subset of a failure's findings).

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fixture_cases.h"

namespace palisade::policy::testing {
namespace {

// Every failing fixture case: the failure's words are the render of its findings, and dropping
// any one finding still renders (what an exception does).
TEST(Findings, RenderReproducesEveryFixtureMessage) {
  int failures = 0;
  for (const FixtureCase& c : AllFixtureCases()) {
    for (Level level : c.levels) {
      for (int minor = c.from; minor <= c.to; ++minor) {
        rapidjson::Document doc = MinimalPod(level, minor);
        c.tweak(doc);
        const Evaluation evaluation = Evaluate(doc, level, minor);
        for (const CheckFailure& failure : evaluation.failures) {
          const std::string where =
              c.name + " v1." + std::to_string(minor) + " " + std::string(failure.id);
          ASSERT_FALSE(failure.findings.empty()) << where;
          const RenderedFailure rendered = RenderFindings(failure.id, failure.findings);
          EXPECT_EQ(rendered.reason, failure.reason) << where;
          EXPECT_EQ(rendered.detail, failure.detail) << where;
          for (const Finding& finding : failure.findings) EXPECT_FALSE(finding.field.empty());
          for (std::size_t skip = 0; skip < failure.findings.size() && failure.findings.size() > 1;
               ++skip) {
            Findings rest = failure.findings;
            rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(skip));
            EXPECT_FALSE(RenderFindings(failure.id, rest).detail.empty()) << where;
          }
          ++failures;
        }
      }
    }
  }
  EXPECT_GT(failures, 500);
}

struct FindingsCase {
  std::string name;
  std::string level;  // "restricted:v1.37"
  Tweak tweak;
  std::string check;
  Findings expected;
};

Findings FindingsOf(const rapidjson::Document& doc, const std::string& level_text,
                    const std::string& check) {
  std::string error;
  const auto level = ParseLevelVersion(level_text, &error);
  EXPECT_TRUE(level) << error;
  const Evaluation evaluation = EvaluatePod(ReadPod(doc), *level);
  for (const CheckFailure& failure : evaluation.failures) {
    if (failure.id == check) return failure.findings;
  }
  return {};
}

class FindingsTable : public ::testing::TestWithParam<FindingsCase> {};

TEST_P(FindingsTable, Reports) {
  const FindingsCase& c = GetParam();
  const int minor = 37;
  rapidjson::Document doc =
      MinimalPod(c.level.starts_with("restricted") ? Level::kRestricted : Level::kBaseline, minor);
  c.tweak(doc);
  EXPECT_EQ(FindingsOf(doc, c.level, c.check), c.expected);
}

std::vector<FindingsCase> Cases() {
  return {
      {"capabilities per container",
       "baseline:v1.37",
       [](auto& d) {
         Set(d, "/spec/initContainers/0/securityContext/capabilities/add", R"(["NET_ADMIN"])");
         Set(d, "/spec/containers/0/securityContext/capabilities/add",
             R"(["CHOWN","SYS_TIME","NET_RAW"])");
       },
       "capabilities_baseline",
       {{"init", "securityContext.capabilities.add", {"NET_ADMIN"}},
        {"app", "securityContext.capabilities.add", {"SYS_TIME", "NET_RAW"}}}},
      {"restricted capabilities: missing drop has no value",
       "restricted:v1.37",
       [](auto& d) {
         Set(d, "/spec/containers/0/securityContext/capabilities", R"({"add":["NET_ADMIN"]})");
       },
       "capabilities_restricted",
       {{"app", "securityContext.capabilities.drop", {}},
        {"app", "securityContext.capabilities.add", {"NET_ADMIN"}}}},
      {"host namespaces are pod level",
       "baseline:v1.37",
       [](auto& d) {
         Set(d, "/spec/hostNetwork", "true");
         Set(d, "/spec/hostIPC", "true");
       },
       "hostNamespaces",
       {{"", "spec.hostNetwork", {"hostNetwork"}}, {"", "spec.hostIPC", {"hostIPC"}}}},
      {"one finding per sysctl",
       "baseline:v1.37",
       [](auto& d) {
         Set(d, "/spec/securityContext/sysctls",
             R"([{"name":"kernel.msgmax","value":"1"},{"name":"net.ipv4.tcp_syncookies","value":"1"},{"name":"vm.swappiness","value":"1"}])");
       },
       "sysctls",
       {{"", "spec.securityContext.sysctls", {"kernel.msgmax"}},
        {"", "spec.securityContext.sysctls", {"vm.swappiness"}}}},
      {"volumes by name and type",
       "restricted:v1.37",
       [](auto& d) {
         Set(d, "/spec/volumes",
             R"([{"name":"ok","emptyDir":{}},{"name":"logs","hostPath":{"path":"/var/log"}},{"name":"share","nfs":{"server":"s","path":"/"}}])");
       },
       "restrictedVolumes",
       {{"", "spec.volumes[logs]", {"hostPath"}}, {"", "spec.volumes[share]", {"nfs"}}}},
      {"host ports as text",
       "baseline:v1.37",
       [](auto& d) {
         Set(d, "/spec/containers/0/ports",
             R"([{"containerPort":80,"hostPort":8080},{"containerPort":81}])");
       },
       "hostPorts",
       {{"app", "ports[*].hostPort", {"8080"}}}},
      {"runAsNonRoot: explicit false and implicit unset both reported",
       "restricted:v1.37",
       [](auto& d) {
         Erase(d, "/spec/securityContext/runAsNonRoot");
         Set(d, "/spec/initContainers/0/securityContext/runAsNonRoot", "false");
       },
       "runAsNonRoot",
       {{"init", "securityContext.runAsNonRoot", {"false"}},
        {"app", "securityContext.runAsNonRoot", {}}}},
      {"seccomp: pod type and unset containers",
       "restricted:v1.37",
       [](auto& d) {
         Set(d, "/spec/securityContext/seccompProfile", R"({"type":"Unconfined"})");
         Set(d, "/spec/containers/0/securityContext/seccompProfile",
             R"({"type":"RuntimeDefault"})");
       },
       "seccompProfile_restricted",
       {{"", "spec.securityContext.seccompProfile.type", {"Unconfined"}},
        {"init", "securityContext.seccompProfile.type", {}}}},
      {"AppArmor annotation belongs to its container",
       "baseline:v1.37",
       [](auto& d) {
         Set(d, "/metadata/annotations",
             R"({"container.apparmor.security.beta.kubernetes.io/app":"unconfined"})");
       },
       "appArmorProfile",
       {{"app",
         "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]",
         {"unconfined"}}}},
      {"SELinux type and user",
       "baseline:v1.37",
       [](auto& d) {
         Set(d, "/spec/containers/0/securityContext/seLinuxOptions",
             R"({"type":"spc_t","user":"system_u"})");
       },
       "seLinuxOptions",
       {{"app", "securityContext.seLinuxOptions.type", {"spc_t"}},
        {"app", "securityContext.seLinuxOptions.user", {"system_u"}}}},
      {"privileged",
       "baseline:v1.37",
       [](auto& d) { Set(d, "/spec/containers/0/securityContext/privileged", "true"); },
       "privileged",
       {{"app", "securityContext.privileged", {"true"}}}},
  };
}

INSTANTIATE_TEST_SUITE_P(Checks, FindingsTable, ::testing::ValuesIn(Cases()), [](const auto& info) {
  std::string name;
  for (char ch : info.param.name) {
    name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  }
  return name;
});

// Waiving some findings words only the rest, as PSA would word a pod without them.
TEST(Findings, SubsetRendersAsPsaWouldForTheRest) {
  const Findings all{{"init", "securityContext.capabilities.add", {"NET_ADMIN"}},
                     {"app", "securityContext.capabilities.add", {"SYS_TIME"}}};
  EXPECT_EQ(RenderFindings("capabilities_baseline", {all[1]}).detail,
            R"(container "app" must not include "SYS_TIME" in securityContext.capabilities.add)");
  // runAsNonRoot: with the explicit false waived, the unset container is named.
  const Findings non_root{{"init", "securityContext.runAsNonRoot", {"false"}},
                          {"app", "securityContext.runAsNonRoot", {}}};
  EXPECT_EQ(RenderFindings("runAsNonRoot", non_root).detail,
            R"(container "init" must not set securityContext.runAsNonRoot=false)");
  EXPECT_EQ(RenderFindings("runAsNonRoot", {non_root[1]}).detail,
            R"(pod or container "app" must set securityContext.runAsNonRoot=true)");
  EXPECT_EQ(RenderFindings("noSuchCheck", all).detail, "");
}

constexpr std::string_view kStaticField = "securityContext.runAsNonRoot";

// A finding's field views a check's static text (no copy) and owns text built for it: a copy owns
// its own, a move keeps the block, and what was built outlives the finding it was built for.
TEST(Findings, FieldViewsStaticTextAndOwnsWhatWasBuilt) {
  const FieldText fixed = kStaticField;
  const FieldText fixed_copy = fixed;
  EXPECT_EQ(std::string_view(fixed).data(), kStaticField.data());
  EXPECT_EQ(std::string_view(fixed_copy).data(), kStaticField.data());

  std::optional<FieldText> built = check_text::VolumeField("data");
  const char* const built_at = std::string_view(*built).data();
  FieldText copied = *built;
  FieldText moved = std::move(*built);
  built.reset();
  EXPECT_NE(std::string_view(copied).data(), built_at);
  EXPECT_EQ(std::string_view(moved).data(), built_at);
  EXPECT_EQ(copied, "spec.volumes[data]");
  EXPECT_EQ(moved, "spec.volumes[data]");
  EXPECT_EQ(check_text::VolumeName(moved), "data");

  copied = fixed;  // static text again: views it
  EXPECT_EQ(std::string_view(copied).data(), kStaticField.data());
  FieldText reassigned = fixed;
  reassigned = moved;  // built text: a copy of its own
  EXPECT_NE(std::string_view(reassigned).data(), std::string_view(moved).data());
  EXPECT_EQ(reassigned, "spec.volumes[data]");

  // Findings holding either kind compare by text.
  const Finding a{"app", kStaticField, {}};
  const Finding b{"app", FieldText::Joined({"securityContext.", "runAsNonRoot"}), {}};
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == (Finding{"app", "securityContext.runAsUser", {}}));
}

}  // namespace
}  // namespace palisade::policy::testing
