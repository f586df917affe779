// Parsing and validation of one NamespacePolicy document.

#include "policy/namespace_policy.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace palisade::policy {
namespace {

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str(), text.size());
  EXPECT_FALSE(document.HasParseError()) << text;
  return document;
}

std::string Document(const std::string& spec, const std::string& name = "\"team\"") {
  return R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":)" + name +
         R"(},"spec":{)" + spec + "}}";
}

std::vector<std::string> ErrorsOf(const std::string& text) {
  std::vector<PolicyError> errors;
  const auto policy = ParseNamespacePolicy(Json(text), "team.yaml", 1, &errors);
  EXPECT_FALSE(policy.has_value());
  std::vector<std::string> messages;
  for (const auto& error : errors) messages.push_back(error.ToString());
  return messages;
}

NamespacePolicy Parse(const std::string& text) {
  std::vector<PolicyError> errors;
  auto policy = ParseNamespacePolicy(Json(text), "team.yaml", 0, &errors);
  for (const auto& error : errors) ADD_FAILURE() << error.ToString();
  EXPECT_TRUE(policy.has_value());
  return policy.value_or(NamespacePolicy{});
}

struct ErrorCase {
  std::string name;
  std::string document;
  std::vector<std::string> errors;
};

class ParseErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrors, ReportsEveryProblemWithItsPath) {
  EXPECT_EQ(ErrorsOf(GetParam().document), GetParam().errors);
}

const std::string kNs = R"("namespaces":["team"])";
const std::string kAt = "team.yaml: document 2: ";

INSTANTIATE_TEST_SUITE_P(
    Table, ParseErrors,
    testing::Values(
        ErrorCase{
            "UnknownFieldWithSuggestion",
            Document(kNs + R"(,"defaults":{"seccompProfil":{"type":"RuntimeDefault"}})"),
            {kAt + "spec.defaults.seccompProfil: unknown field (did you mean seccompProfile?)"}},
        ErrorCase{"UnknownFieldWithoutSuggestion",
                  Document(kNs + R"(,"replicas":3)"),
                  {kAt + "spec.replicas: unknown field"}},
        ErrorCase{
            "UnknownTopLevelField",
            R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":"a"},"spec":{"namespaces":["a"]},"status":{}})",
            {kAt + "status: unknown field"}},
        ErrorCase{"WrongType",
                  Document(kNs + R"(,"defaults":{"runAsNonRoot":"yes"})"),
                  {kAt + "spec.defaults.runAsNonRoot: expected a boolean, got string"}},
        ErrorCase{"SectionWrongType",
                  Document(kNs + R"(,"rules":["enforce"])"),
                  {kAt + "spec.rules: expected a mapping, got list"}},
        ErrorCase{"BadLevel",
                  Document(kNs + R"(,"podSecurity":{"enforce":"strict"})"),
                  {kAt + "spec.podSecurity.enforce: unknown level \"strict\" (want privileged, "
                         "baseline or restricted)"}},
        ErrorCase{"BadVersion",
                  Document(kNs + R"(,"podSecurity":{"audit":"restricted:1.30"})"),
                  {kAt + "spec.podSecurity.audit: invalid version \"1.30\" (want v1.N or latest)"}},
        ErrorCase{"LocalhostWithoutProfile",
                  Document(kNs + R"(,"defaults":{"seccompProfile":{"type":"Localhost"}})"),
                  {kAt + "spec.defaults.seccompProfile.localhostProfile: required when type is "
                         "Localhost"}},
        ErrorCase{
            "ProfileNotAllowedForType",
            Document(
                kNs +
                R"(,"defaults":{"appArmorProfile":{"type":"RuntimeDefault","localhostProfile":"x"}})"),
            {kAt + "spec.defaults.appArmorProfile.localhostProfile: only allowed when type "
                   "is Localhost"}},
        ErrorCase{"BadProfileType",
                  Document(kNs + R"(,"defaults":{"seccompProfile":{"type":"Default"}})"),
                  {kAt + "spec.defaults.seccompProfile.type: invalid value \"Default\" (want "
                         "RuntimeDefault, Localhost or Unconfined)"}},
        ErrorCase{"ProfileWithoutType",
                  Document(kNs + R"(,"defaults":{"seccompProfile":{}})"),
                  {kAt + "spec.defaults.seccompProfile.type: required field is missing"}},
        ErrorCase{
            "BadAction",
            Document(kNs + R"(,"rules":{"action":"deny"})"),
            {kAt + "spec.rules.action: invalid value \"deny\" (want enforce, warn or audit)"}},
        ErrorCase{"BadWorkloads",
                  Document(kNs + R"(,"workloads":"audit")"),
                  {kAt + "spec.workloads: invalid value \"audit\" (want enforce or warn)"}},
        ErrorCase{"MissingNamespaces",
                  Document(R"("podSecurity":{})"),
                  {kAt + "spec.namespaces: required field is missing (a policy needs namespaces, "
                         "namespaceSelector or both)"}},
        ErrorCase{"EmptyNamespaces",
                  Document(R"("namespaces":[])"),
                  {kAt + "spec.namespaces: must list at least one namespace"}},
        ErrorCase{"BadPattern",
                  Document(R"("namespaces":["ok","Payments"])"),
                  {kAt + "spec.namespaces[1]: invalid namespace pattern \"Payments\" (want a "
                         "namespace name of lower-case letters, digits and '-'; '*' and '?' are "
                         "wildcards)"}},
        ErrorCase{"PatternTwiceInOneDocument",
                  Document(R"("namespaces":["a","b","a"])"),
                  {kAt + "spec.namespaces[2]: duplicate pattern \"a\""}},
        ErrorCase{"ListItemWrongType",
                  Document(kNs + R"(,"rules":{"allowedCapabilities":["NET_RAW",3]})"),
                  {kAt + "spec.rules.allowedCapabilities[1]: expected a string, got number"}},
        ErrorCase{"LowerCaseCapability",
                  Document(kNs + R"(,"defaults":{"capabilities":{"drop":["all"]}})"),
                  {kAt + "spec.defaults.capabilities.drop[0]: invalid capability \"all\" (want an "
                         "upper-case name like NET_BIND_SERVICE, or ALL)"}},
        ErrorCase{"CapPrefix",
                  Document(kNs + R"(,"rules":{"requiredDropCapabilities":["CAP_NET_RAW"]})"),
                  {kAt + "spec.rules.requiredDropCapabilities[0]: invalid capability "
                         "\"CAP_NET_RAW\" (write it without the CAP_ prefix: NET_RAW)"}},
        ErrorCase{"BadAllowedProfile",
                  Document(kNs + R"(,"rules":{"allowedSeccompProfiles":["runtime/default"]})"),
                  {kAt + "spec.rules.allowedSeccompProfiles[0]: invalid profile "
                         "\"runtime/default\" (want RuntimeDefault, Unconfined or "
                         "Localhost/<profile glob>)"}},
        ErrorCase{"NotAMapping", "[1,2]", {kAt + "expected a mapping, got list"}},
        ErrorCase{
            "WrongHeader",
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Team_A"},"spec":{"namespaces":["a"]}})",
            {kAt + "apiVersion: unsupported apiVersion \"v1\" (want palisade.dev/v1)",
             kAt + "kind: unsupported kind \"ConfigMap\" (want NamespacePolicy)",
             kAt + "metadata.name: invalid name \"Team_A\" (want lower-case letters, "
                   "digits, '-' and '.', starting and ending with a letter or digit, at "
                   "most 253 characters)"}},
        ErrorCase{
            "MissingEverything",
            "{}",
            {kAt + "apiVersion: required field is missing", kAt + "kind: required field is missing",
             kAt + "metadata: required field is missing", kAt + "spec: required field is missing"}},
        ErrorCase{"MissingName",
                  Document(kNs, "null"),
                  {kAt + "metadata.name: required field is missing"}},
        ErrorCase{"EmptyString",
                  Document(kNs + R"(,"defaults":{"runtimeClassName":""})"),
                  {kAt + "spec.defaults.runtimeClassName: must not be empty"}},
        ErrorCase{
            "NonStringLabel",
            R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":"a","labels":{"tier":1}},"spec":{"namespaces":["a"]}})",
            {kAt + "metadata.labels.tier: expected a string, got number"}},
        ErrorCase{
            "EveryProblemInOrder",
            Document(
                R"("namespaces":"team","podSecurity":{"enforce":"baseline:v2","warnn":"restricted"},"defaults":{"allowPrivilegeEscalation":0,"capabilities":{"drop":"ALL"}},"rules":{"action":null,"allowedRuntimeClasses":[""]})"),
            {kAt + "spec.namespaces: expected a list, got string",
             kAt + "spec.podSecurity.warnn: unknown field (did you mean warn?)",
             kAt + "spec.podSecurity.enforce: invalid version \"v2\" (want v1.N or latest)",
             kAt + "spec.defaults.capabilities.drop: expected a list, got string",
             kAt + "spec.defaults.allowPrivilegeEscalation: expected a boolean, got number",
             kAt + "spec.rules.allowedRuntimeClasses[0]: must not be empty"}}),
    [](const testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ParseNamespacePolicy, DuplicateKeyInJson) {
  EXPECT_EQ(ErrorsOf(Document(kNs + R"(,"workloads":"warn","workloads":"enforce")")),
            std::vector<std::string>{kAt + "spec.workloads: duplicate field"});
}

TEST(ParseNamespacePolicy, AcceptsTheDesignExample) {
  const NamespacePolicy policy = Parse(R"({
    "apiVersion": "palisade.dev/v1", "kind": "NamespacePolicy",
    "metadata": {"name": "payments", "labels": {"team": "payments"}},
    "spec": {
      "namespaces": ["payments", "payments-*"],
      "podSecurity": {"enforce": "restricted", "warn": "restricted:latest", "audit": "restricted:v1.30"},
      "defaults": {
        "seccompProfile": {"type": "RuntimeDefault"},
        "appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-payments"},
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
        "allowPrivilegeEscalation": false, "runAsNonRoot": true, "runtimeClassName": "gvisor"},
      "rules": {
        "action": "warn",
        "allowedCapabilities": ["NET_BIND_SERVICE"],
        "requiredDropCapabilities": ["ALL"],
        "allowedSeccompProfiles": ["RuntimeDefault", "Localhost/profiles/*"],
        "allowedAppArmorProfiles": ["RuntimeDefault", "Localhost/k8s-*"],
        "allowedRuntimeClasses": ["gvisor"]},
      "workloads": "warn",
      "exemptions": {
        "usernames": ["system:serviceaccount:ci:break-glass"],
        "runtimeClasses": [],
        "images": ["registry.example.com/debug/*"]}}})");
  EXPECT_EQ(policy.name, "payments");
  EXPECT_EQ(policy.file, "team.yaml");
  EXPECT_EQ(policy.document_index, 0);
  EXPECT_EQ(policy.namespaces, (std::vector<std::string>{"payments", "payments-*"}));
  const PolicyValues& v = policy.values;
  ASSERT_EQ(policy.StateOf("podSecurity.enforce"), FieldState::kValue);
  EXPECT_EQ(v.enforce->ToString(), "restricted:v1.37");
  EXPECT_TRUE(v.warn->latest);
  EXPECT_EQ(v.audit->ToString(), "restricted:v1.30");
  EXPECT_EQ(v.default_seccomp_profile, (Profile{"RuntimeDefault", ""}));
  EXPECT_EQ(v.default_app_armor_profile, (Profile{"Localhost", "k8s-payments"}));
  EXPECT_EQ(v.default_capabilities_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(v.default_capabilities_add, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(v.default_allow_privilege_escalation, false);
  EXPECT_EQ(v.default_run_as_non_root, true);
  EXPECT_EQ(v.default_runtime_class_name, "gvisor");
  EXPECT_EQ(v.rules_action, Action::kWarn);
  EXPECT_EQ(v.allowed_seccomp_profiles,
            (std::vector<std::string>{"RuntimeDefault", "Localhost/profiles/*"}));
  EXPECT_EQ(v.allowed_runtime_classes, std::vector<std::string>{"gvisor"});
  EXPECT_EQ(v.workloads, WorkloadMode::kWarn);
  EXPECT_EQ(policy.StateOf("exemptions.runtimeClasses"), FieldState::kValue);
  EXPECT_TRUE(v.exempt_runtime_classes.empty());
  EXPECT_EQ(v.exempt_images, std::vector<std::string>{"registry.example.com/debug/*"});
  EXPECT_EQ(policy.revision.size(), 6u) << policy.revision;
  EXPECT_EQ(policy.revision.find_first_not_of("0123456789abcdef"), std::string::npos)
      << policy.revision;
}

TEST(ParseNamespacePolicy, AbsentAndNullAreDistinct) {
  const NamespacePolicy policy = Parse(Document(
      kNs +
      R"(,"podSecurity":{"enforce":null,"warn":"baseline"},"defaults":null,"rules":{"allowedCapabilities":null},"workloads":null)"));
  EXPECT_EQ(policy.StateOf("podSecurity.enforce"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("podSecurity.warn"), FieldState::kValue);
  EXPECT_EQ(policy.StateOf("podSecurity.audit"), FieldState::kAbsent);
  // A null section removes every field it holds.
  EXPECT_EQ(policy.StateOf("defaults.seccompProfile"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("defaults.capabilities.drop"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("defaults.runtimeClassName"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("rules.allowedCapabilities"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("rules.action"), FieldState::kAbsent);
  EXPECT_EQ(policy.StateOf("workloads"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("exemptions.images"), FieldState::kAbsent);
}

TEST(ParseNamespacePolicy, NullCapabilitiesRemovesDropAndAdd) {
  const NamespacePolicy policy = Parse(Document(kNs + R"(,"defaults":{"capabilities":null})"));
  EXPECT_EQ(policy.StateOf("defaults.capabilities.drop"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("defaults.capabilities.add"), FieldState::kNull);
  EXPECT_EQ(policy.StateOf("defaults.seccompProfile"), FieldState::kAbsent);
}

TEST(ParseNamespacePolicy, RevisionIgnoresKeyOrderButNotContent) {
  const std::string a =
      Document(kNs + R"(,"podSecurity":{"enforce":"baseline","warn":"restricted"})");
  const std::string reordered =
      R"({"spec":{"podSecurity":{"warn":"restricted","enforce":"baseline"},"namespaces":["team"]},"metadata":{"name":"team"},"kind":"NamespacePolicy","apiVersion":"palisade.dev/v1"})";
  const std::string changed =
      Document(kNs + R"(,"podSecurity":{"enforce":"baseline","warn":"baseline"})");
  const std::string revision = Parse(a).revision;
  EXPECT_EQ(revision.size(), 6u);
  EXPECT_EQ(Parse(reordered).revision, revision);
  EXPECT_NE(Parse(changed).revision, revision);
  EXPECT_NE(Parse(Document(kNs, "\"team2\"")).revision, Parse(Document(kNs)).revision);
}

TEST(PolicyError, ToStringCountsDocumentsFromOne) {
  EXPECT_EQ((PolicyError{"a.yaml", 0, "spec", "bad"}).ToString(), "a.yaml: document 1: spec: bad");
  EXPECT_EQ((PolicyError{"a.yaml", -1, "", "cannot read"}).ToString(), "a.yaml: cannot read");
  EXPECT_EQ((PolicyError{"", 2, "", "x"}).ToString(), "document 3: x");
}

TEST(ActionName, NamesEveryAction) {
  EXPECT_EQ(ActionName(Action::kEnforce), "enforce");
  EXPECT_EQ(ActionName(Action::kWarn), "warn");
  EXPECT_EQ(ActionName(Action::kAudit), "audit");
}

}  // namespace
}  // namespace palisade::policy
