// Table-driven tests of the defaults mutator: whole patches compared.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <string>

#include "policy/mutator.h"
#include "tests/mutation/mutation_support.h"

namespace palisade::policy {
namespace {

using testing_support::FullDefaults;
using testing_support::Json;

struct Case {
  std::string name;
  std::string pod;    // single quotes stand for double quotes
  std::string patch;  // expected, compact
  int kubernetes_minor = 31;
  bool ephemeral_update = false;
  std::vector<std::string_view> old_ephemeral = {};
};

class MutatorTable : public ::testing::TestWithParam<Case> {};

TEST_P(MutatorTable, Patch) {
  const Case& c = GetParam();
  rapidjson::Document pod;
  pod.Parse(Json(c.pod));
  ASSERT_FALSE(pod.HasParseError()) << c.pod;
  EffectivePolicy policy = FullDefaults();
  MutationOptions options;
  options.kubernetes_minor = c.kubernetes_minor;
  options.ephemeral_update = c.ephemeral_update;
  options.old_ephemeral_names = c.old_ephemeral;
  const Mutation mutation = ComputeDefaults(pod, rapidjson::Pointer(""), policy, options);
  EXPECT_EQ(PatchJson(mutation.patch), Json(c.patch));
}

INSTANTIATE_TEST_SUITE_P(
    Defaults, MutatorTable,
    ::testing::Values(
        Case{"MinimalPodGetsEverything",
             "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app','image':'nginx'}]}}",
             "[{'op':'add','path':'/spec/securityContext','value':{'appArmorProfile':{'type':"
             "'RuntimeDefault'},'runAsNonRoot':true,'seccompProfile':{'type':'RuntimeDefault'}}},"
             "{'op':'add','path':'/spec/containers/0/securityContext','value':{"
             "'allowPrivilegeEscalation':false,'capabilities':{'add':['NET_BIND_SERVICE'],'drop':["
             "'ALL']}}},{'op':'add','path':'/metadata/annotations','value':{'palisade.dev/"
             "defaulted':'allowPrivilegeEscalation,appArmorProfile,capabilities.add,capabilities."
             "drop,runAsNonRoot,seccompProfile'}}]"},
        Case{"EverythingSetNoPatch",
             "{'spec':{'securityContext':{'runAsNonRoot':false,'seccompProfile':{'type':"
             "'Localhost','localhostProfile':'a'},'appArmorProfile':{'type':'Unconfined'}},"
             "'containers':[{'name':'app','securityContext':{'allowPrivilegeEscalation':true,"
             "'capabilities':{'drop':['ALL'],'add':['NET_BIND_SERVICE']}}}]}}",
             "[]"},
        Case{
            "ExistingParentsGetSingleFieldsAndAppends",
            "{'metadata':{'annotations':{'a':'b'}},'spec':{'securityContext':{'runAsUser':1},"
            "'initContainers':[{'name':'init','securityContext':{'capabilities':{'drop':['NET_"
            "RAW'],'add':[]}}}],'containers':[{'name':'app','securityContext':{'privileged':"
            "false}}]}}",
            "[{'op':'add','path':'/spec/securityContext/appArmorProfile','value':{'type':"
            "'RuntimeDefault'}},{'op':'add','path':'/spec/securityContext/runAsNonRoot','value':"
            "true},{'op':'add','path':'/spec/securityContext/seccompProfile','value':{'type':"
            "'RuntimeDefault'}},{'op':'add','path':'/spec/initContainers/0/securityContext/"
            "allowPrivilegeEscalation','value':false},{'op':'add','path':'/spec/initContainers/0/"
            "securityContext/capabilities/add/-','value':'NET_BIND_SERVICE'},{'op':'add','path':'/"
            "spec/initContainers/0/securityContext/capabilities/drop/-','value':'ALL'},{'op':'add',"
            "'path':'/spec/containers/0/securityContext/allowPrivilegeEscalation','value':false},"
            "{'op':'add','path':'/spec/containers/0/securityContext/capabilities','value':{'add':"
            "['NET_BIND_SERVICE'],'drop':['ALL']}},{'op':'add','path':'/metadata/annotations/"
            "palisade.dev~1defaulted','value':'allowPrivilegeEscalation,appArmorProfile,"
            "capabilities.add,capabilities.drop,runAsNonRoot,seccompProfile'}]"},
        Case{"PrivilegedAndSysAdminGetNoAllowPrivilegeEscalation",
             "{'metadata':{},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{"
             "'type':'RuntimeDefault'},'appArmorProfile':{'type':'RuntimeDefault'}},'containers':"
             "[{'name':'a','securityContext':{'privileged':true,'capabilities':{'drop':['ALL'],"
             "'add':['NET_BIND_SERVICE']}}},{'name':'b','securityContext':{'capabilities':{'add':["
             "'CAP_SYS_ADMIN','NET_BIND_SERVICE'],'drop':['ALL']}}},{'name':'c','securityContext':"
             "{'capabilities':{'add':['SYS_ADMIN','NET_BIND_SERVICE'],'drop':['ALL']}}}]}}",
             "[]"},
        Case{"DroppedCapabilityIsNotAdded",
             "{'metadata':{},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{"
             "'type':'RuntimeDefault'},'appArmorProfile':{'type':'RuntimeDefault'}},'containers':"
             "[{'name':'a','securityContext':{'allowPrivilegeEscalation':false,'capabilities':{"
             "'drop':['NET_BIND_SERVICE']}}}]}}",
             "[{'op':'add','path':'/spec/containers/0/securityContext/capabilities/drop/-',"
             "'value':'ALL'},{'op':'add','path':'/metadata/annotations','value':{'palisade.dev/"
             "defaulted':'capabilities.drop'}}]"},
        Case{"WindowsGetsOnlyRunAsNonRoot",
             "{'metadata':{},'spec':{'os':{'name':'windows'},'containers':[{'name':'a'}],"
             "'ephemeralContainers':[{'name':'e'}]}}",
             "[{'op':'add','path':'/spec/securityContext','value':{'runAsNonRoot':true}},{'op':"
             "'add','path':'/metadata/annotations','value':{'palisade.dev/defaulted':'runAsNonRoot'"
             "}}]"},
        Case{"AppArmorAnnotationBefore130PerContainer",
             "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/b':"
             "'localhost/x'}},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{"
             "'type':'RuntimeDefault'}},'initContainers':[{'name':'i','securityContext':{"
             "'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL'],'add':['NET_BIND_"
             "SERVICE']}}}],'containers':[{'name':'b','securityContext':{"
             "'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL'],'add':['NET_BIND_"
             "SERVICE']}}},{'name':'c','securityContext':{'appArmorProfile':{'type':"
             "'Localhost','localhostProfile':'y'},'allowPrivilegeEscalation':false,"
             "'capabilities':{'drop':['ALL'],'add':['NET_BIND_SERVICE']}}}]}}",
             "[{'op':'add','path':'/metadata/annotations/container.apparmor.security.beta."
             "kubernetes.io~1i','value':'runtime/default'},{'op':'add','path':'/metadata/"
             "annotations/palisade.dev~1defaulted','value':'appArmorProfile'}]",
             29},
        Case{"AppArmorFieldSkippedWhenEveryContainerHasOne",
             "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':"
             "'runtime/default'}},'spec':{'securityContext':{'runAsNonRoot':true,"
             "'seccompProfile':{'type':'RuntimeDefault'}},'containers':[{'name':'a',"
             "'securityContext':{'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL'],"
             "'add':['NET_BIND_SERVICE']}}}]}}",
             "[]"},
        Case{"ExemptImageContainerUntouchedAndPodLevelMovesToContainers",
             "{'metadata':{},'spec':{'containers':[{'name':'app','image':'nginx'},{'name':"
             "'debug','image':'registry.example.com/debug/sh:1'}]}}",
             "[{'op':'add','path':'/spec/containers/0/securityContext','value':{"
             "'allowPrivilegeEscalation':false,'appArmorProfile':{'type':'RuntimeDefault'},"
             "'capabilities':{'add':['NET_BIND_SERVICE'],'drop':['ALL']},'runAsNonRoot':true,"
             "'seccompProfile':{'type':'RuntimeDefault'}}},{'op':'add','path':'/metadata/"
             "annotations','value':{'palisade.dev/defaulted':'allowPrivilegeEscalation,"
             "appArmorProfile,capabilities.add,capabilities.drop,runAsNonRoot,seccompProfile'}}]"},
        Case{"EphemeralUpdatePatchesOnlyNewEphemeralContainers",
             "{'metadata':{},'spec':{'containers':[{'name':'app'}],'ephemeralContainers':[{"
             "'name':'old'},{'name':'new','securityContext':{}}]}}",
             "[{'op':'add','path':'/spec/ephemeralContainers/1/securityContext/"
             "allowPrivilegeEscalation','value':false},{'op':'add','path':'/spec/"
             "ephemeralContainers/1/securityContext/appArmorProfile','value':{'type':"
             "'RuntimeDefault'}},{'op':'add','path':'/spec/ephemeralContainers/1/securityContext/"
             "capabilities','value':{'add':['NET_BIND_SERVICE'],'drop':['ALL']}},{'op':'add',"
             "'path':'/spec/ephemeralContainers/1/securityContext/runAsNonRoot','value':true},{"
             "'op':'add','path':'/spec/ephemeralContainers/1/securityContext/seccompProfile',"
             "'value':{'type':'RuntimeDefault'}}]",
             31,
             true,
             {"old"}},
        Case{"ReinvocationMergesAnnotation",
             "{'metadata':{'annotations':{'palisade.dev/defaulted':'seccompProfile,zzz'}},"
             "'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{'type':"
             "'RuntimeDefault'},'appArmorProfile':{'type':'RuntimeDefault'}},'containers':[{"
             "'name':'a','securityContext':{'capabilities':{'drop':['ALL'],'add':['NET_BIND_"
             "SERVICE']}}}]}}",
             "[{'op':'add','path':'/spec/containers/0/securityContext/allowPrivilegeEscalation',"
             "'value':false},{'op':'add','path':'/metadata/annotations/palisade.dev~1defaulted',"
             "'value':'allowPrivilegeEscalation,seccompProfile,zzz'}]"},
        Case{"TildeAndSlashEscapedInContainerAnnotation",
             "{'metadata':{'annotations':{}},'spec':{'securityContext':{'runAsNonRoot':true,"
             "'seccompProfile':{'type':'RuntimeDefault'}},'containers':[{'name':'a~b','"
             "securityContext':{"
             "'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL'],'add':['NET_BIND_"
             "SERVICE']}}}]}}",
             "[{'op':'add','path':'/metadata/annotations/container.apparmor.security.beta."
             "kubernetes.io~1a~0b','value':'runtime/default'},{'op':'add','path':'/metadata/"
             "annotations/palisade.dev~1defaulted','value':'appArmorProfile'}]",
             29}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Mutator, RuntimeClassAndLocalhostProfiles) {
  EffectivePolicy policy;
  policy.default_runtime_class_name = "gvisor";
  policy.default_seccomp_profile = Profile{"Localhost", "profiles/app.json"};
  rapidjson::Document pod;
  pod.Parse(Json("{'spec':{'containers':[{'name':'a'}]}}"));
  const Mutation mutation = ComputeDefaults(pod, rapidjson::Pointer("/spec/template"), policy, {});
  EXPECT_EQ(PatchJson(mutation.patch),
            Json("[{'op':'add','path':'/spec/template/spec/runtimeClassName','value':'gvisor'},{"
                 "'op':'add','path':'/spec/template/spec/securityContext','value':{'seccompProfile'"
                 ":{'localhostProfile':'profiles/app.json','type':'Localhost'}}},{'op':'add',"
                 "'path':'/spec/template/metadata','value':{'annotations':{'palisade.dev/"
                 "defaulted':'runtimeClassName,seccompProfile'}}}]"));
  EXPECT_EQ(mutation.fields, (std::vector<std::string>{"runtimeClassName", "seccompProfile"}));
}

// Many ops on one object are applied in one pass; the result must equal op-by-op Pointer::Set
// (an add that replaces an existing member, escaped tokens, and other parents in between).
TEST(Mutator, ApplyPatchBatchesEqualOneByOne) {
  std::string patch = "[";
  for (int i = 0; i < 20; ++i) {
    patch += "{'op':'add','path':'/metadata/annotations/k~1" + std::to_string(i) +
             "~0x','value':'v" + std::to_string(i) + "'},";
  }
  patch +=
      "{'op':'add','path':'/metadata/annotations/existing','value':'new'},"
      "{'op':'add','path':'/spec/containers/0/securityContext','value':{'runAsNonRoot':true}},"
      "{'op':'add','path':'/spec/containers/0/securityContext/capabilities','value':{}},"
      "{'op':'add','path':'/spec/containers/-','value':{'name':'b'}}]";
  const std::string pod =
      "{'metadata':{'annotations':{'existing':'old','other':'o'}},'spec':{'containers':[{'name':"
      "'a'}]}}";
  rapidjson::Document patch_doc, batched, one_by_one;
  patch_doc.Parse(Json(patch));
  ASSERT_FALSE(patch_doc.HasParseError());
  batched.Parse(Json(pod));
  one_by_one.Parse(Json(pod));
  ApplyPatch(patch_doc, batched);
  for (const auto& op : patch_doc.GetArray()) {
    rapidjson::Pointer(op["path"].GetString())
        .Set(one_by_one, rapidjson::Value(op["value"], one_by_one.GetAllocator()));
  }
  EXPECT_EQ(PatchJson(batched), PatchJson(one_by_one));
  EXPECT_EQ(std::string(batched["metadata"]["annotations"]["existing"].GetString()), "new");
  EXPECT_EQ(std::string(batched["metadata"]["annotations"]["k/7~x"].GetString()), "v7");
  EXPECT_EQ(batched["metadata"]["annotations"].MemberCount(), 22u);
}

TEST(Mutator, NoDefaultsNoPatch) {
  rapidjson::Document pod;
  pod.Parse(Json("{'spec':{'containers':[{'name':'a'}]}}"));
  EXPECT_TRUE(ComputeDefaults(pod, rapidjson::Pointer(""), EffectivePolicy{}, {}).empty());
}

}  // namespace
}  // namespace palisade::policy
