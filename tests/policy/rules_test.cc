// Namespace rules (policy/rules.h) on pods read from JSON; whole details compared.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/rules.h"

namespace palisade::policy {
namespace {

std::string Json(std::string text) {
  std::replace(text.begin(), text.end(), '\'', '"');
  return text;
}

EffectivePolicy Rules() {
  EffectivePolicy policy;
  policy.allowed_capabilities = std::vector<std::string>{"NET_BIND_SERVICE"};
  policy.required_drop_capabilities = std::vector<std::string>{"ALL"};
  policy.allowed_seccomp_profiles = std::vector<std::string>{"RuntimeDefault"};
  policy.allowed_app_armor_profiles = std::vector<std::string>{"RuntimeDefault"};
  return policy;
}

struct RuleCase {
  std::string name;
  std::string pod;                    // single-quoted JSON
  std::vector<std::string> failures;  // "id: detail"
};

std::vector<std::string> Evaluate(const std::string& pod_json, const EffectivePolicy& policy) {
  rapidjson::Document document;
  document.Parse(Json(pod_json));
  const PodReadResult read = ReadPod(document);
  EXPECT_TRUE(read.errors.empty());
  std::vector<std::string> out;
  for (const RuleFailure& failure : EvaluateRules(read.pod, policy)) {
    out.push_back(std::string(failure.id) + ": " + failure.detail);
  }
  return out;
}

// A container that confines itself in every field, with `seccomp` as its seccomp type and
// `extra` added to its securityContext.
std::string Container(const std::string& name, const std::string& extra = "",
                      const std::string& seccomp = "{'type':'RuntimeDefault'}") {
  return "{'name':'" + name + "','securityContext':{'seccompProfile':" + seccomp +
         ",'appArmorProfile':{'type':'RuntimeDefault'},'capabilities':{'drop':['ALL'],'add':["
         "'NET_BIND_SERVICE']}" +
         extra + "}}";
}
std::string Pod(const std::string& containers) {
  return "{'spec':{'containers':[" + containers + "]}}";
}
const std::string kLocalX = "{'type':'Localhost','localhostProfile':'x'}";
const std::string kLocalY = "{'type':'Localhost','localhostProfile':'y'}";

// A confined container that adds `capability`.
std::string Adding(const std::string& name, const std::string& capability) {
  return "{'name':'" + name +
         "','securityContext':{'seccompProfile':{'type':'RuntimeDefault'},'appArmorProfile':{"
         "'type':'RuntimeDefault'},'capabilities':{'drop':['ALL'],'add':['" +
         capability + "']}}}";
}

// Container "a" with no AppArmor field, annotated localhost/x, plus `others` - 1 annotations
// (other containers' AppArmor profiles and unrelated keys).
std::string AppArmorAnnotated(int others) {
  std::string annotations = "'container.apparmor.security.beta.kubernetes.io/a':'localhost/x'";
  for (int i = 1; i < others; ++i) {
    annotations += ",'container.apparmor.security.beta.kubernetes.io/a" + std::to_string(i) +
                   "':'unconfined','note" + std::to_string(i) + "':'a'";
  }
  return "{'metadata':{'annotations':{" + annotations +
         "}},'spec':{'containers':[{'name':'a','securityContext':{'seccompProfile':{'type':"
         "'RuntimeDefault'},'capabilities':{'drop':['ALL']}}}]}}";
}

const RuleCase kCases[] = {
    {"confined container passes", Pod(Container("a")), {}},
    // privileged: no seccomp, no AppArmor, every capability, whatever the fields say.
    {"privileged container is unconfined with every capability",
     Pod(Container("a", ",'privileged':true")),
     {"allowedCapabilities: container \"a\" must not set securityContext.privileged=true (it has "
      "every capability; allowed: \"NET_BIND_SERVICE\")",
      "requiredDropCapabilities: container \"a\" must not set securityContext.privileged=true (it "
      "keeps every capability, whatever it drops)",
      "allowedSeccompProfiles: container \"a\" must set securityContext.seccompProfile to one of "
      "\"RuntimeDefault\" (has Unconfined)",
      "allowedAppArmorProfiles: container \"a\" must set securityContext.appArmorProfile to one of "
      "\"RuntimeDefault\" (has Unconfined)"}},
    {"privileged with the pod's profiles is unconfined too",
     "{'spec':{'securityContext':{'seccompProfile':{'type':'RuntimeDefault'},'appArmorProfile':{"
     "'type':'RuntimeDefault'}},'containers':[{'name':'a','securityContext':{'privileged':true,"
     "'capabilities':{'drop':['ALL']}}}]}}",
     {"allowedCapabilities: container \"a\" must not set securityContext.privileged=true (it has "
      "every capability; allowed: \"NET_BIND_SERVICE\")",
      "requiredDropCapabilities: container \"a\" must not set securityContext.privileged=true (it "
      "keeps every capability, whatever it drops)",
      "allowedSeccompProfiles: container \"a\" must set securityContext.seccompProfile to one of "
      "\"RuntimeDefault\" (has Unconfined)",
      "allowedAppArmorProfiles: container \"a\" must set securityContext.appArmorProfile to one of "
      "\"RuntimeDefault\" (has Unconfined)"}},
    {"privileged=false changes nothing", Pod(Container("a", ",'privileged':false")), {}},
    // Containers with the same complaint share one group; different complaints keep their order.
    {"groups by complaint in first-seen order",
     Pod(Container("a", "", kLocalX) + "," + Container("b") + "," + Container("c", "", kLocalY) +
         "," + Container("d", "", kLocalX)),
     {"allowedSeccompProfiles: containers \"a\", \"d\" must set securityContext.seccompProfile to "
      "one of \"RuntimeDefault\" (has Localhost/x), container \"c\" must set "
      "securityContext.seccompProfile to one of \"RuntimeDefault\" (has Localhost/y)"}},
    {"capabilities group by what is added",
     Pod(Adding("a", "SYS_ADMIN") + "," + Adding("b", "NET_RAW") + "," + Adding("c", "SYS_ADMIN")),
     {"allowedCapabilities: containers \"a\", \"c\" must not add \"SYS_ADMIN\" (allowed: "
      "\"NET_BIND_SERVICE\"), container \"b\" must not add \"NET_RAW\" (allowed: "
      "\"NET_BIND_SERVICE\")"}},
    // Values that would read alike if joined with a separator still make two complaints.
    {"a value holding NUL is not two values",
     Pod(Adding("a", "X\\u0000Y") + "," +
         "{'name':'b','securityContext':{'seccompProfile':{'type':'RuntimeDefault'},"
         "'appArmorProfile':{'type':'RuntimeDefault'},'capabilities':{'drop':['ALL'],'add':['X',"
         "'Y']}}}"),
     {"allowedCapabilities: container \"a\" must not add \"X" + std::string(1, '\0') +
      "Y\" (allowed: \"NET_BIND_SERVICE\"), container \"b\" must not add \"X\", \"Y\" "
      "(allowed: \"NET_BIND_SERVICE\")"}},
    // The per-container AppArmor annotation, among few annotations and among many (hashed).
    {"AppArmor annotation of the container",
     AppArmorAnnotated(1),
     {"allowedAppArmorProfiles: container \"a\" must set securityContext.appArmorProfile to one "
      "of \"RuntimeDefault\" (has Localhost/x)"}},
    {"AppArmor annotation among many",
     AppArmorAnnotated(40),
     {"allowedAppArmorProfiles: container \"a\" must set securityContext.appArmorProfile to one "
      "of \"RuntimeDefault\" (has Localhost/x)"}},
    // A container without a name (read as an empty view) is looked up, and matches nothing.
    {"unnamed container among many annotations",
     [] {
       std::string pod = AppArmorAnnotated(40);
       pod.replace(pod.find("{'name':'a',"), 12, "{");
       return pod;
     }(),
     {}},
};

class RulesCase : public testing::TestWithParam<RuleCase> {};

TEST_P(RulesCase, Failures) { EXPECT_EQ(Evaluate(GetParam().pod, Rules()), GetParam().failures); }

INSTANTIATE_TEST_SUITE_P(Rules, RulesCase, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<RuleCase>& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(Rules, PrivilegedPassesWhenAllIsAllowed) {
  EffectivePolicy policy;
  policy.allowed_capabilities = std::vector<std::string>{"ALL"};
  policy.allowed_seccomp_profiles = std::vector<std::string>{"*"};
  EXPECT_EQ(Evaluate("{'spec':{'containers':[{'name':'a','securityContext':{'privileged':true}}]}}",
                     policy),
            std::vector<std::string>{});
}

}  // namespace
}  // namespace palisade::policy
