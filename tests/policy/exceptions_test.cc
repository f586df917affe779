// spec.exceptions: which offences an exception waives (values, container and image globs,
// pod-level findings, expiry, rules.*), the warning in its last 14 days and the audit annotation,
// through JudgeObject; and how documents with exceptions are validated.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixtures.h"
#include "policy/decision.h"
#include "policy/exceptions.h"
#include "policy/namespace_policy.h"

namespace palisade::policy::testing {
namespace {

const Day kToday = *ParseDate("2027-03-20");

std::optional<NamespacePolicy> ParsePolicy(const std::string& spec,
                                           std::vector<PolicyError>* errors) {
  const rapidjson::Document doc = Parse(
      R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":"mesh"},)"
      R"("spec":)" +
      spec + "}");
  return ParseNamespacePolicy(doc, "mesh.yaml", 0, errors);
}

std::string Errors(const std::string& spec) {
  std::vector<PolicyError> errors;
  EXPECT_FALSE(ParsePolicy(spec, &errors));
  std::string out;
  for (const PolicyError& error : errors) out += error.ToString() + "\n";
  return out;
}

// A pod: "istio-init" (init, NET_ADMIN+NET_RAW) and "app", judged at baseline enforce.
rapidjson::Document MeshPod() {
  return Parse(
      R"({"metadata":{"name":"web"},"spec":{"initContainers":[{"name":"istio-init",)"
      R"("image":"docker.io/istio/proxyv2:1.22","securityContext":{"capabilities":{"add":)"
      R"(["NET_ADMIN","NET_RAW"]}}}],"containers":[{"name":"app","image":"example/app:1"}]}})");
}

struct Case {
  std::string name;
  std::string exceptions;  // JSON list
  std::function<void(rapidjson::Document&)> tweak;
  std::optional<Day> today;
  std::string enforce = "baseline";
  std::string rules;    // JSON of spec.rules, or ""
  std::string message;  // "" when allowed
  std::string used;     // the exceptions-used annotation
  std::vector<std::string> warnings;
};

void NoTweak(rapidjson::Document&) {}

Decision Judge(const Case& c) {
  std::string spec = R"({"namespaces":["mesh"],"podSecurity":{"enforce":")" + c.enforce + R"("})";
  if (!c.rules.empty()) spec += R"(,"rules":)" + c.rules;
  spec += R"(,"exceptions":)" + c.exceptions + "}";
  std::vector<PolicyError> errors;
  auto policy = ParsePolicy(spec, &errors);
  EXPECT_TRUE(policy) << (errors.empty() ? "" : errors[0].ToString());
  if (!policy) return {};
  policy->revision = "abc123";
  std::vector<NamespacePolicy> policies;
  policies.push_back(std::move(*policy));
  auto set = PolicySet::Build(std::move(policies), &errors);
  rapidjson::Document pod = MeshPod();
  c.tweak(pod);
  JudgeOptions options;
  options.today = c.today;
  return JudgeObject(pod, ObjectType::kPod, *set->ForNamespace("mesh"), options);
}

std::string Annotation(const Decision& decision, std::string_view key) {
  for (const auto& [k, v] : decision.audit_annotations) {
    if (k == key) return v;
  }
  return "";
}

class Exceptions : public ::testing::TestWithParam<Case> {};

TEST_P(Exceptions, Judge) {
  const Case& c = GetParam();
  const Decision decision = Judge(c);
  EXPECT_EQ(decision.allowed, c.message.empty());
  EXPECT_EQ(decision.message, c.message);
  EXPECT_EQ(Annotation(decision, "exceptions-used"), c.used);
  EXPECT_EQ(decision.warnings, c.warnings);
}

const std::string kDenyBoth =
    R"(violates PodSecurity "baseline:v1.37" (policy "mesh" rev abc123): non-default )"
    R"(capabilities (container "istio-init" must not include "NET_ADMIN", "NET_RAW" in )"
    R"(securityContext.capabilities.add))";
const std::string kMesh =
    R"([{"name":"mesh-init","checks":["capabilities_baseline"],"containers":["istio-*"],)"
    R"("images":["docker.io/istio/proxyv2:*"],"values":["NET_ADMIN","NET_RAW"],)"
    R"("reason":"mesh init programs iptables","expires":"2027-12-31"}])";

std::vector<Case> Cases() {
  const std::string add_sys_time_to_app = R"({"capabilities":{"add":["SYS_TIME"]}})";
  return {
      {"every value covered: allowed", kMesh, NoTweak, kToday, "baseline", "", "", "mesh-init", {}},
      {"a value not covered: the container's finding stays whole",
       R"([{"name":"x","checks":["capabilities_baseline"],"values":["NET_ADMIN"],"reason":"r","expires":"never"}])",
       NoTweak,
       kToday,
       "baseline",
       "",
       kDenyBoth,
       "",
       {}},
      {"two exceptions together cover the values",
       R"([{"name":"a","checks":["capabilities_baseline"],"values":["NET_ADMIN"],"reason":"r","expires":"never"},)"
       R"({"name":"b","checks":["capabilities_baseline"],"values":["NET_RAW"],"reason":"r","expires":"never"}])",
       NoTweak,
       kToday,
       "baseline",
       "",
       "",
       "a,b",
       {}},
      {"other container not covered by the container glob",
       kMesh,
       [](auto& d) {
         Set(d, "/spec/containers/0/securityContext/capabilities/add", R"(["NET_ADMIN"])");
       },
       kToday,
       "baseline",
       "",
       R"(violates PodSecurity "baseline:v1.37" (policy "mesh" rev abc123): non-default )"
       R"(capabilities (container "app" must not include "NET_ADMIN" in )"
       R"(securityContext.capabilities.add))",
       "mesh-init",
       {}},
      {"image glob must match",
       kMesh,
       [](auto& d) { Set(d, "/spec/initContainers/0/image", R"("evil.example/proxyv2:1")"); },
       kToday,
       "baseline",
       "",
       kDenyBoth,
       "",
       {}},
      {"expired: waives nothing",
       kMesh,
       NoTweak,
       *ParseDate("2028-01-01"),
       "baseline",
       "",
       kDenyBoth,
       "",
       {}},
      {"no date known: dated exceptions waive nothing",
       kMesh,
       NoTweak,
       std::nullopt,
       "baseline",
       "",
       kDenyBoth,
       "",
       {}},
      {"last day still applies, with a warning",
       kMesh,
       NoTweak,
       *ParseDate("2027-12-31"),
       "baseline",
       "",
       "",
       "mesh-init",
       {R"(exception "mesh-init" (policy "mesh" rev abc123) expires 2027-12-31 (today): mesh init programs iptables)"}},
      {"13 days left warns",
       kMesh,
       NoTweak,
       *ParseDate("2027-12-18"),
       "baseline",
       "",
       "",
       "mesh-init",
       {R"(exception "mesh-init" (policy "mesh" rev abc123) expires 2027-12-31 (in 13 days): mesh init programs iptables)"}},
      {"14 days left does not warn",
       kMesh,
       NoTweak,
       *ParseDate("2027-12-17"),
       "baseline",
       "",
       "",
       "mesh-init",
       {}},
      {"pod-level check needs an exception without containers",
       R"([{"name":"hn","checks":["hostNamespaces"],"containers":["*"],"reason":"r","expires":"never"}])",
       [](auto& d) {
         Erase(d, "/spec/initContainers");
         Set(d, "/spec/hostNetwork", "true");
       },
       kToday,
       "baseline",
       "",
       R"(violates PodSecurity "baseline:v1.37" (policy "mesh" rev abc123): host namespaces )"
       R"((hostNetwork=true))",
       "",
       {}},
      {"pod-level waived by value, the rest worded",
       R"([{"name":"hn","checks":["hostNamespaces"],"values":["hostNetwork"],"reason":"r","expires":"never"}])",
       [](auto& d) {
         Erase(d, "/spec/initContainers");
         Set(d, "/spec/hostNetwork", "true");
         Set(d, "/spec/hostPID", "true");
       },
       kToday,
       "baseline",
       "",
       R"(violates PodSecurity "baseline:v1.37" (policy "mesh" rev abc123): host namespaces )"
       R"((hostPID=true))",
       "hn",
       {}},
      {"pod-level with images: every container's image must match",
       R"([{"name":"ne","checks":["hostNamespaces"],"images":["example/*"],"reason":"r","expires":"never"}])",
       [](auto& d) {
         Erase(d, "/spec/initContainers");
         Set(d, "/spec/hostNetwork", "true");
       },
       kToday,
       "baseline",
       "",
       "",
       "ne",
       {}},
      {"a missing setting is waived only without values",
       R"([{"name":"drop","checks":["capabilities_restricted"],"values":["NET_ADMIN","NET_RAW"],"reason":"r","expires":"never"}])",
       [](auto& d) {
         Erase(d, "/spec/initContainers");
         Set(d, "/spec/securityContext",
             R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})");
         Set(d, "/spec/containers/0/securityContext",
             R"({"allowPrivilegeEscalation":false,"capabilities":{"add":["NET_ADMIN"]}})");
       },
       kToday,
       "restricted",
       "",
       R"(violates PodSecurity "restricted:v1.37" (policy "mesh" rev abc123): unrestricted )"
       R"(capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]))",
       "drop",
       {}},
      {"rules.* are waived like checks",
       R"([{"name":"time","checks":["rules.allowedCapabilities"],"containers":["app"],"values":["SYS_TIME"],"reason":"r","expires":"never"}])",
       [add_sys_time_to_app](auto& d) {
         Erase(d, "/spec/initContainers");
         Set(d, "/spec/containers/0/securityContext", add_sys_time_to_app);
       },
       kToday,
       "privileged",
       R"({"allowedCapabilities":["NET_BIND_SERVICE"]})",
       "",
       "time",
       {}},
      {"rules.* not covered stays",
       R"([{"name":"time","checks":["rules.allowedCapabilities"],"containers":["other"],"reason":"r","expires":"never"}])",
       [add_sys_time_to_app](auto& d) {
         Erase(d, "/spec/initContainers");
         Set(d, "/spec/containers/0/securityContext", add_sys_time_to_app);
       },
       kToday,
       "privileged",
       R"({"allowedCapabilities":["NET_BIND_SERVICE"]})",
       R"(violates rules of policy "mesh" rev abc123: capabilities not allowed (container "app" )"
       R"(must not add "SYS_TIME" (allowed: "NET_BIND_SERVICE")))",
       "",
       {}},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, Exceptions, ::testing::ValuesIn(Cases()), [](const auto& info) {
  std::string name;
  for (char ch : info.param.name) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return name;
});

// Workload templates are judged with the same exceptions.
TEST(ExceptionsWorkload, DeploymentTemplate) {
  std::vector<PolicyError> errors;
  auto policy = ParsePolicy(R"({"namespaces":["mesh"],"podSecurity":{"enforce":"baseline"},)"
                            R"("exceptions":)" +
                                kMesh + "}",
                            &errors);
  ASSERT_TRUE(policy);
  std::vector<NamespacePolicy> policies;
  policies.push_back(std::move(*policy));
  auto set = PolicySet::Build(std::move(policies), &errors);
  rapidjson::Document deployment = Parse(R"({"metadata":{"name":"web"},"spec":{"template":{}}})");
  rapidjson::Document pod = MeshPod();
  deployment["spec"]["template"].CopyFrom(pod, deployment.GetAllocator());
  JudgeOptions options;
  options.today = kToday;
  const Decision decision =
      JudgeObject(deployment, ObjectType::kDeployment, *set->ForNamespace("mesh"), options);
  EXPECT_TRUE(decision.allowed) << decision.message;
  EXPECT_EQ(decision.exceptions_used, std::vector<std::string>{"mesh-init"});
  options.today = *ParseDate("2028-01-01");
  EXPECT_FALSE(JudgeObject(deployment, ObjectType::kDeployment, *set->ForNamespace("mesh"), options)
                   .allowed);
}

TEST(ExceptionsValidation, Refusals) {
  EXPECT_EQ(
      Errors(
          R"({"namespaces":["mesh"],"exceptions":[{"name":"a","checks":["capabilites_baseline"],)"
          R"("reason":"r","expires":"2027-02-30"}]})"),
      "mesh.yaml: document 1: spec.exceptions[0].checks[0]: unknown check "
      "\"capabilites_baseline\" (did you mean \"capabilities_baseline\"?): a PSA check ID or "
      "rules.<rule>\n"
      "mesh.yaml: document 1: spec.exceptions[0].expires: must be a date (YYYY-MM-DD) or "
      "\"never\", got \"2027-02-30\"\n");
  EXPECT_EQ(
      Errors(R"({"namespaces":["mesh"],"exceptions":[{"name":"a","checks":["allowedCapabilities"],)"
             R"("containers":["app[0]"],"expires":"never"}]})"),
      "mesh.yaml: document 1: spec.exceptions[0].checks[0]: unknown check "
      "\"allowedCapabilities\" (did you mean \"rules.allowedCapabilities\"?): a PSA check ID "
      "or rules.<rule>\n"
      "mesh.yaml: document 1: spec.exceptions[0].containers[0]: unsupported glob character "
      "'[' (only '*' and '?')\n"
      "mesh.yaml: document 1: spec.exceptions[0].reason: required field is missing\n");
  EXPECT_EQ(
      Errors(R"({"namespaces":["mesh"],"exceptions":[)"
             R"({"name":"a","checks":["privileged"],"reason":"r","expires":"never"},)"
             R"({"name":"a","checks":["privileged"],"reason":"r","expires":"never","extra":1}]})"),
      "mesh.yaml: document 1: spec.exceptions[1].extra: unknown field\n"
      "mesh.yaml: document 1: spec.exceptions[1].name: duplicate exception name \"a\"\n");
}

TEST(ExceptionsDates, ParseAndFormat) {
  EXPECT_EQ(ParseDate("1970-01-01"), 0);
  EXPECT_EQ(ParseDate("2024-02-29"), 19782);
  EXPECT_FALSE(ParseDate("2023-02-29"));
  EXPECT_FALSE(ParseDate("2027-3-31"));
  EXPECT_FALSE(ParseDate("2027-13-01"));
  EXPECT_FALSE(ParseDate("never"));
  EXPECT_EQ(FormatDate(*ParseDate("2027-03-31")), "2027-03-31");
  EXPECT_EQ(DayOf(86400 * 3 + 5), 3);
}

}  // namespace
}  // namespace palisade::policy::testing
