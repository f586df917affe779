// /mutate must never make a pod the API server (or the kubelet) refuses. Each case patches a pod
// with every default set, applies the patch, and checks the result against the rules of the API
// server's pod validation (pkg/apis/core/validation), its create-time version skew
// (pkg/registry/core/pod/strategy.go) and the kubelet's runAsNonRoot check, written out below.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/mutator.h"
#include "tests/mutation/mutation_support.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;
using testing_support::FullDefaults;
using testing_support::Json;

std::string_view Str(const Value* v) {
  return v != nullptr && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                                       : std::string_view();
}
const Value* Get(const Value* object, const char* key) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  const auto it = object->FindMember(key);
  return it == object->MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}
const Value* Annotation(const Value& pod, const std::string& key) {
  return Get(Get(Get(&pod, "metadata"), "annotations"), key.c_str());
}

struct ContainerRef {
  const Value* json;
  std::string path;  // "spec.containers[0]"
};
std::vector<ContainerRef> Containers(const Value& pod) {
  std::vector<ContainerRef> out;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const Value* items = Get(Get(&pod, "spec"), list);
    if (items == nullptr) continue;
    for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
      out.push_back({&(*items)[i], std::string("spec.") + list + "[" + std::to_string(i) + "]"});
    }
  }
  return out;
}

// validateSeccompAnnotationsAndFieldsMatch
bool SeccompMatches(std::string_view annotation, const Value& field) {
  const std::string_view type = Str(Get(&field, "type"));
  if (type == "Unconfined") return annotation == "unconfined";
  if (type == "RuntimeDefault")
    return annotation == "runtime/default" || annotation == "docker/default";
  if (type == "Localhost") {
    return annotation.starts_with("localhost/") &&
           annotation.substr(10) == Str(Get(&field, "localhostProfile"));
  }
  return true;
}

// The AppArmor annotation for a field, and the reverse (podutil.ApparmorFieldForAnnotation).
bool AppArmorMatches(std::string_view annotation, const Value& field) {
  const std::string_view type = Str(Get(&field, "type"));
  if (type == "Unconfined") return annotation == "unconfined";
  if (type == "RuntimeDefault") return annotation == "runtime/default";
  if (type == "Localhost") {
    return annotation.starts_with("localhost/") &&
           annotation.substr(10) == Str(Get(&field, "localhostProfile"));
  }
  return true;
}

// What the API server refuses on create (and the kubelet refuses to start), for the fields the
// mutator writes. Empty when the pod is accepted.
std::vector<std::string> Refusals(const Value& pod, int kubernetes_minor) {
  std::vector<std::string> out;
  const Value* spec = Get(&pod, "spec");
  const Value* pod_sc = Get(spec, "securityContext");
  const bool windows = Str(Get(Get(spec, "os"), "name")) == "windows";
  bool host_process = Get(Get(pod_sc, "windowsOptions"), "hostProcess") != nullptr &&
                      Get(Get(pod_sc, "windowsOptions"), "hostProcess")->GetBool();
  for (const ContainerRef& c : Containers(pod)) {
    const Value* hp = Get(Get(Get(c.json, "securityContext"), "windowsOptions"), "hostProcess");
    if (hp != nullptr && hp->GetBool()) host_process = true;
  }
  // validateWindows: Linux-only fields on a Windows pod. A hostProcess pod is a Windows pod
  // whether or not it says spec.os; a Linux-only field there is nonsense at best.
  if (windows || host_process) {
    for (const char* field : {"seccompProfile", "appArmorProfile"}) {
      if (Get(pod_sc, field)) out.push_back(std::string("spec.securityContext.") + field);
    }
    for (const ContainerRef& c : Containers(pod)) {
      const Value* sc = Get(c.json, "securityContext");
      for (const char* field :
           {"seccompProfile", "appArmorProfile", "capabilities", "allowPrivilegeEscalation"}) {
        if (Get(sc, field)) out.push_back(c.path + ".securityContext." + field);
      }
    }
  }
  // validateSeccompAnnotationsAndFields: annotation and field, when both set, must agree.
  if (const Value* annotation = Annotation(pod, "seccomp.security.alpha.kubernetes.io/pod");
      annotation && Get(pod_sc, "seccompProfile") &&
      !SeccompMatches(Str(annotation), *Get(pod_sc, "seccompProfile"))) {
    out.push_back("spec.securityContext.seccompProfile: does not match the annotation");
  }
  const Value* pod_apparmor = Get(pod_sc, "appArmorProfile");
  for (const ContainerRef& c : Containers(pod)) {
    const Value* sc = Get(c.json, "securityContext");
    const std::string name(Str(Get(c.json, "name")));
    if (const Value* annotation =
            Annotation(pod, "container.seccomp.security.alpha.kubernetes.io/" + name);
        annotation && Get(sc, "seccompProfile") &&
        !SeccompMatches(Str(annotation), *Get(sc, "seccompProfile"))) {
      out.push_back(c.path + ".securityContext.seccompProfile: does not match the annotation");
    }
    // applyAppArmorVersionSkew copies an annotation to an unset container field (unless the pod's
    // field says the same), then validateAppArmorAnnotationsAndFieldsMatchOnCreate compares the
    // container's effective field with its annotation.
    if (const Value* annotation =
            Annotation(pod, "container.apparmor.security.beta.kubernetes.io/" + name);
        annotation && !windows && kubernetes_minor >= 30) {
      const Value* effective = Get(sc, "appArmorProfile");
      const bool skew_copies = effective == nullptr;
      if (effective == nullptr) effective = pod_apparmor;
      if (effective != nullptr && !skew_copies && !AppArmorMatches(Str(annotation), *effective)) {
        out.push_back(c.path + ".securityContext.appArmorProfile: does not match the annotation");
      }
    }
    // ValidateSecurityContext: allowPrivilegeEscalation=false with privileged or CAP_SYS_ADMIN.
    const Value* ape = Get(sc, "allowPrivilegeEscalation");
    if (ape != nullptr && !ape->GetBool()) {
      const Value* privileged = Get(sc, "privileged");
      if (privileged != nullptr && privileged->GetBool()) {
        out.push_back(c.path + ": allowPrivilegeEscalation=false with privileged");
      }
      if (const Value* add = Get(Get(sc, "capabilities"), "add")) {
        for (const Value& cap : add->GetArray()) {
          if (Str(&cap) == "CAP_SYS_ADMIN") {
            out.push_back(c.path + ": allowPrivilegeEscalation=false with CAP_SYS_ADMIN");
          }
        }
      }
    }
    // The kubelet: runAsNonRoot=true with runAsUser 0 or ContainerAdministrator does not start.
    auto effective = [&](const char* field) {
      const Value* v = Get(sc, field);
      return v != nullptr ? v : Get(pod_sc, field);
    };
    auto effective_windows = [&](const char* field) {
      const Value* v = Get(Get(sc, "windowsOptions"), field);
      return v != nullptr ? v : Get(Get(pod_sc, "windowsOptions"), field);
    };
    const Value* non_root = effective("runAsNonRoot");
    if (non_root != nullptr && non_root->GetBool()) {
      const Value* user = effective("runAsUser");
      if (user != nullptr && user->GetInt64() == 0) {
        out.push_back(c.path + ": runAsNonRoot=true with runAsUser=0");
      }
      if (Str(effective_windows("runAsUserName")) == "ContainerAdministrator") {
        out.push_back(c.path + ": runAsNonRoot=true as ContainerAdministrator");
      }
    }
  }
  return out;
}

struct AcceptanceCase {
  std::string name;
  std::string pod;  // single-quoted JSON
  int kubernetes_minor = 31;
  std::vector<std::string> present = {};  // JSON Pointers the patched pod has
  std::vector<std::string> absent = {};   // and must not have
  std::function<void(EffectivePolicy&)> tweak = nullptr;
};

class ApiServerAcceptance : public testing::TestWithParam<AcceptanceCase> {};

TEST_P(ApiServerAcceptance, PatchedPodIsAccepted) {
  const AcceptanceCase& c = GetParam();
  rapidjson::Document pod;
  pod.Parse(Json(c.pod));
  ASSERT_FALSE(pod.HasParseError()) << c.pod;
  EffectivePolicy policy = FullDefaults();
  if (c.tweak) c.tweak(policy);
  MutationOptions options;
  options.kubernetes_minor = c.kubernetes_minor;
  const Mutation mutation = ComputeDefaults(pod, rapidjson::Pointer(""), policy, options);
  ApplyPatch(mutation.patch, pod);
  EXPECT_EQ(Refusals(pod, c.kubernetes_minor), std::vector<std::string>{})
      << PatchJson(mutation.patch);
  for (const std::string& path : c.present) {
    EXPECT_NE(rapidjson::Pointer(path.c_str()).Get(pod), nullptr)
        << path << " missing; patch " << PatchJson(mutation.patch);
  }
  for (const std::string& path : c.absent) {
    EXPECT_EQ(rapidjson::Pointer(path.c_str()).Get(pod), nullptr)
        << path << " added; patch " << PatchJson(mutation.patch);
  }
}

const std::string kApp = "{'name':'app','image':'nginx'}";
const std::string kDebug = "{'name':'debug','image':'registry.example.com/debug/sh'}";  // exempt

std::string PodWith(const std::string& annotations, const std::string& spec_extra,
                    const std::string& containers = kApp) {
  return "{'metadata':{'name':'p'" +
         (annotations.empty() ? std::string() : ",'annotations':{" + annotations + "}") +
         "},'spec':{" + spec_extra + (spec_extra.empty() ? "" : ",") + "'containers':[" +
         containers + "]}}";
}

const AcceptanceCase kCases[] = {
    {"plain pod gets every default",
     PodWith("", ""),
     31,
     {"/spec/securityContext/seccompProfile", "/spec/securityContext/runAsNonRoot",
      "/spec/containers/0/securityContext/allowPrivilegeEscalation"}},
    // Legacy seccomp annotations: the field is added only where it agrees with the annotation.
    {"seccomp pod annotation unconfined keeps the field unset",
     PodWith("'seccomp.security.alpha.kubernetes.io/pod':'unconfined'", ""),
     31,
     {},
     {"/spec/securityContext/seccompProfile", "/spec/containers/0/securityContext/seccompProfile"}},
    {"seccomp pod annotation localhost keeps the field unset",
     PodWith("'seccomp.security.alpha.kubernetes.io/pod':'localhost/profiles/a.json'", ""),
     31,
     {},
     {"/spec/securityContext/seccompProfile"}},
    {"seccomp pod annotation runtime/default gets the matching field",
     PodWith("'seccomp.security.alpha.kubernetes.io/pod':'runtime/default'", ""),
     31,
     {"/spec/securityContext/seccompProfile"}},
    {"seccomp pod annotation docker/default gets the matching field",
     PodWith("'seccomp.security.alpha.kubernetes.io/pod':'docker/default'", ""),
     31,
     {"/spec/securityContext/seccompProfile"}},
    {"seccomp container annotation with an exempt sibling",
     PodWith("'container.seccomp.security.alpha.kubernetes.io/app':'unconfined'", "",
             kApp + "," + kDebug + ",{'name':'web','image':'nginx'}"),
     31,
     {"/spec/containers/2/securityContext/seccompProfile"},
     {"/spec/securityContext/seccompProfile", "/spec/containers/0/securityContext/seccompProfile"}},
    {"seccomp container annotation with the pod default",
     PodWith("'container.seccomp.security.alpha.kubernetes.io/app':'localhost/x'", "",
             kApp + ",{'name':'web','image':'nginx'}"),
     31,
     {"/spec/securityContext/seccompProfile"},
     {"/spec/containers/0/securityContext/seccompProfile"}},
    // AppArmor: the API server copies a container's annotation to its unset field on create, so a
    // pod-level field next to it is accepted; before 1.30 the annotation is the default's form.
    {"apparmor container annotation next to the pod field",
     PodWith("'container.apparmor.security.beta.kubernetes.io/app':'unconfined'", "",
             kApp + ",{'name':'web','image':'nginx'}"),
     31,
     {"/spec/securityContext/appArmorProfile"},
     {"/spec/containers/0/securityContext/appArmorProfile"}},
    {"apparmor container annotation with an exempt sibling",
     PodWith("'container.apparmor.security.beta.kubernetes.io/app':'localhost/k8s-x'", "",
             kApp + "," + kDebug + ",{'name':'web','image':'nginx'}"),
     31,
     {"/spec/containers/2/securityContext/appArmorProfile"},
     {"/spec/containers/0/securityContext/appArmorProfile",
      "/spec/securityContext/appArmorProfile"}},
    {"apparmor annotation before 1.30 is not overwritten",
     PodWith("'container.apparmor.security.beta.kubernetes.io/app':'unconfined'", "",
             kApp + ",{'name':'web','image':'nginx'}"),
     29,
     {"/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1web"},
     {"/spec/securityContext/appArmorProfile"}},
    // Windows: none of the Linux-only fields.
    {"windows pod",
     PodWith("", "'os':{'name':'windows'}"),
     31,
     {"/spec/securityContext/runAsNonRoot"},
     {"/spec/securityContext/seccompProfile", "/spec/containers/0/securityContext/capabilities"}},
    {"windows hostProcess pod without spec.os",
     PodWith("",
             "'hostNetwork':true,'securityContext':{'windowsOptions':{'hostProcess':true,"
             "'runAsUserName':'NT AUTHORITY\\\\\\\\SYSTEM'}}"),
     31,
     {},
     {"/spec/securityContext/seccompProfile", "/spec/securityContext/appArmorProfile",
      "/spec/containers/0/securityContext/capabilities",
      "/spec/containers/0/securityContext/allowPrivilegeEscalation"}},
    {"windows hostProcess container without spec.os",
     PodWith(
         "", "'hostNetwork':true",
         "{'name':'app','image':'x','securityContext':{'windowsOptions':{'hostProcess':true}}}"),
     31,
     {},
     {"/spec/securityContext/seccompProfile",
      "/spec/containers/0/securityContext/allowPrivilegeEscalation"}},
    {"windows ContainerAdministrator does not get runAsNonRoot",
     PodWith("",
             "'os':{'name':'windows'},'securityContext':{'windowsOptions':{'runAsUserName':"
             "'ContainerAdministrator'}}"),
     31,
     {},
     {"/spec/securityContext/runAsNonRoot", "/spec/containers/0/securityContext"}},
    // allowPrivilegeEscalation=false is refused next to privileged and CAP_SYS_ADMIN.
    {"privileged container",
     PodWith("", "",
             "{'name':'app','image':'x','securityContext':{'privileged':"
             "true}}"),
     31,
     {"/spec/containers/0/securityContext/capabilities"},
     {"/spec/containers/0/securityContext/allowPrivilegeEscalation"}},
    {"CAP_SYS_ADMIN container",
     PodWith("", "",
             "{'name':'app','image':'x','securityContext':{'capabilities':{'add':['CAP_SYS_ADMIN']"
             "}}}"),
     31,
     {},
     {"/spec/containers/0/securityContext/allowPrivilegeEscalation"}},
    {"CAP_SYS_ADMIN from the default add list",
     PodWith("", ""),
     31,
     {"/spec/containers/0/securityContext/capabilities/add"},
     {"/spec/containers/0/securityContext/allowPrivilegeEscalation"},
     [](EffectivePolicy& p) {
       p.default_capabilities_add = std::vector<std::string>{"CAP_SYS_ADMIN"};
       p.default_capabilities_drop = std::nullopt;
     }},
    // Capabilities: add is appended unless dropped, drop appended to what is there.
    {"capabilities the container drops are not added",
     PodWith("", "",
             "{'name':'app','image':'x','securityContext':{'capabilities':{'drop':["
             "'NET_BIND_SERVICE']}}}"),
     31,
     {"/spec/containers/0/securityContext/capabilities/drop/1"},
     {"/spec/containers/0/securityContext/capabilities/add"}},
    // runAsNonRoot=true next to runAsUser 0: the kubelet would not start the container.
    {"runAsUser 0 on a container",
     PodWith("", "",
             "{'name':'root','image':'x','securityContext':{'runAsUser':0}},{'name':'app','image':"
             "'x'}"),
     31,
     {"/spec/containers/1/securityContext/runAsNonRoot"},
     {"/spec/securityContext/runAsNonRoot", "/spec/containers/0/securityContext/runAsNonRoot"}},
    {"runAsUser 0 on the pod",
     PodWith("", "'securityContext':{'runAsUser':0}",
             "{'name':'app','image':'x'},{'name':'user','image':'x','securityContext':{'runAsUser':"
             "1000}}"),
     31,
     {"/spec/containers/1/securityContext/runAsNonRoot"},
     {"/spec/securityContext/runAsNonRoot", "/spec/containers/0/securityContext/runAsNonRoot"}},
};

INSTANTIATE_TEST_SUITE_P(Mutate, ApiServerAcceptance, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<AcceptanceCase>& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The checker itself must catch what it claims to (otherwise every case above passes vacuously).
TEST(ApiServerAcceptance, RefusalsAreDetected) {
  const std::string refused[] = {
      "{'metadata':{'annotations':{'seccomp.security.alpha.kubernetes.io/pod':'unconfined'}},"
      "'spec':{'securityContext':{'seccompProfile':{'type':'RuntimeDefault'}},'containers':[]}}",
      "{'spec':{'os':{'name':'windows'},'securityContext':{'seccompProfile':{'type':"
      "'RuntimeDefault'}},'containers':[]}}",
      "{'spec':{'containers':[{'name':'a','securityContext':{'privileged':true,"
      "'allowPrivilegeEscalation':false}}]}}",
      "{'spec':{'securityContext':{'runAsUser':0,'runAsNonRoot':true},'containers':[{'name':'a'}]}"
      "}",
  };
  for (const std::string& text : refused) {
    rapidjson::Document pod;
    pod.Parse(Json(text));
    EXPECT_FALSE(Refusals(pod, 31).empty()) << text;
  }
}

}  // namespace
}  // namespace palisade::policy
