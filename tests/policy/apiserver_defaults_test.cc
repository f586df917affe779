// ApplyApiServerDefaults: manifests judged as the API server stores them. Whole objects compared.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string>

#include "policy/apiserver_defaults.h"
#include "policy/decision.h"

namespace palisade::policy {
namespace {

std::string Json(std::string text) {
  std::replace(text.begin(), text.end(), '\'', '"');
  return text;
}

std::string Compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

struct DefaultsCase {
  std::string name;
  ObjectType type;
  int kubernetes_minor;
  std::string object;    // single-quoted JSON
  std::string expected;  // the object as stored, compact
};

class ApiServerDefaults : public testing::TestWithParam<DefaultsCase> {};

TEST_P(ApiServerDefaults, StoredObject) {
  const DefaultsCase& c = GetParam();
  rapidjson::Document document;
  document.Parse(Json(c.object));
  ASSERT_FALSE(document.HasParseError()) << c.object;
  ApplyApiServerDefaults(document, c.type, document.GetAllocator(),
                         ApiServerDefaultsOptions{c.kubernetes_minor});
  EXPECT_EQ(Compact(document), Json(c.expected));
}

const DefaultsCase kCases[] = {
    // SetDefaults_Volume: no source is an emptyDir (pods and templates alike).
    {"volume without a source is an emptyDir", ObjectType::kPod, 31,
     "{'spec':{'volumes':[{'name':'a'},{'name':'b','secret':{'secretName':'s'}},{'name':'c',"
     "'hostPath':null}],'containers':[]}}",
     "{'spec':{'volumes':[{'name':'a','emptyDir':{}},{'name':'b','secret':{'secretName':'s'}},{"
     "'name':'c','hostPath':null,'emptyDir':{}}],'containers':[]}}"},
    {"template volume too", ObjectType::kDeployment, 31,
     "{'spec':{'template':{'spec':{'volumes':[{'name':'a'}],'containers':[]}}}}",
     "{'spec':{'template':{'spec':{'volumes':[{'name':'a','emptyDir':{}}],'containers':[]}}}}"},
    // SetDefaults_Pod: with hostNetwork, an unset or zero hostPort is the containerPort.
    {"hostNetwork pod ports", ObjectType::kPod, 31,
     "{'spec':{'hostNetwork':true,'initContainers':[{'name':'i','ports':[{'containerPort':53}]}],"
     "'containers':[{'name':'a','ports':[{'containerPort':8080},{'containerPort':9090,"
     "'hostPort':0},{'containerPort':1,'hostPort':2}]}]}}",
     "{'spec':{'hostNetwork':true,'initContainers':[{'name':'i','ports':[{'containerPort':53,"
     "'hostPort':53}]}],'containers':[{'name':'a','ports':[{'containerPort':8080,'hostPort':"
     "8080},{'containerPort':9090,'hostPort':9090},{'containerPort':1,'hostPort':2}]}]}}"},
    {"no hostNetwork, no hostPort", ObjectType::kPod, 31,
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':8080}]}]}}",
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':8080}]}]}}"},
    // From 1.28 templates keep their ports as written; before, PodSpec defaulting filled them.
    {"hostNetwork template from 1.28", ObjectType::kDaemonSet, 28,
     "{'spec':{'template':{'spec':{'hostNetwork':true,'containers':[{'name':'a','ports':[{"
     "'containerPort':80}]}]}}}}",
     "{'spec':{'template':{'spec':{'hostNetwork':true,'containers':[{'name':'a','ports':[{"
     "'containerPort':80}]}]}}}}"},
    {"hostNetwork template before 1.28", ObjectType::kDaemonSet, 27,
     "{'spec':{'template':{'spec':{'hostNetwork':true,'containers':[{'name':'a','ports':[{"
     "'containerPort':80}]}]}}}}",
     "{'spec':{'template':{'spec':{'hostNetwork':true,'containers':[{'name':'a','ports':[{"
     "'containerPort':80,'hostPort':80}]}]}}}}"},
    // applyAppArmorVersionSkew (1.30+): annotation -> unset container field, unless the pod's
    // field says the same; invalid values are not copied; Windows pods are left alone.
    {"apparmor annotations to fields", ObjectType::kPod, 31,
     "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':'unconfined',"
     "'container.apparmor.security.beta.kubernetes.io/b':'runtime/default',"
     "'container.apparmor.security.beta.kubernetes.io/c':'localhost/k8s-x',"
     "'container.apparmor.security.beta.kubernetes.io/d':'localhost/',"
     "'container.apparmor.security.beta.kubernetes.io/e':'unconfined'}},'spec':{"
     "'securityContext':{'appArmorProfile':{'type':'RuntimeDefault'}},'containers':[{'name':'a'},"
     "{'name':'b'},{'name':'c'},{'name':'d'},{'name':'e','securityContext':{'appArmorProfile':{"
     "'type':'RuntimeDefault'}}}]}}",
     "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':'unconfined',"
     "'container.apparmor.security.beta.kubernetes.io/b':'runtime/default',"
     "'container.apparmor.security.beta.kubernetes.io/c':'localhost/k8s-x',"
     "'container.apparmor.security.beta.kubernetes.io/d':'localhost/',"
     "'container.apparmor.security.beta.kubernetes.io/e':'unconfined'}},'spec':{"
     "'securityContext':{'appArmorProfile':{'type':'RuntimeDefault'}},'containers':[{'name':'a',"
     "'securityContext':{'appArmorProfile':{'type':'Unconfined'}}},{'name':'b'},{'name':'c',"
     "'securityContext':{'appArmorProfile':{'type':'Localhost','localhostProfile':'k8s-x'}}},{"
     "'name':'d'},{'name':'e','securityContext':{'appArmorProfile':{'type':'RuntimeDefault'}}}]}}"},
    {"apparmor before 1.30 stays an annotation", ObjectType::kPod, 29,
     "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':"
     "'unconfined'}},'spec':{'containers':[{'name':'a'}]}}",
     "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':"
     "'unconfined'}},'spec':{'containers':[{'name':'a'}]}}"},
    {"apparmor skew skips Windows pods", ObjectType::kPod, 31,
     "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':"
     "'unconfined'}},'spec':{'os':{'name':'windows'},'containers':[{'name':'a'}]}}",
     "{'metadata':{'annotations':{'container.apparmor.security.beta.kubernetes.io/a':"
     "'unconfined'}},'spec':{'os':{'name':'windows'},'containers':[{'name':'a'}]}}"},
    {"apparmor skew is for pods, not templates", ObjectType::kDeployment, 31,
     "{'spec':{'template':{'metadata':{'annotations':{"
     "'container.apparmor.security.beta.kubernetes.io/a':'unconfined'}},'spec':{'containers':[{"
     "'name':'a'}]}}}}",
     "{'spec':{'template':{'metadata':{'annotations':{"
     "'container.apparmor.security.beta.kubernetes.io/a':'unconfined'}},'spec':{'containers':[{"
     "'name':'a'}]}}}}"},
    // Seccomp: no skew from 1.27 (the annotations do nothing); 1.25-1.26 annotation -> field;
    // 1.19-1.24 both ways.
    {"seccomp annotations ignored from 1.27", ObjectType::kPod, 27,
     "{'metadata':{'annotations':{'seccomp.security.alpha.kubernetes.io/pod':'runtime/default'}},"
     "'spec':{'containers':[{'name':'a'}]}}",
     "{'metadata':{'annotations':{'seccomp.security.alpha.kubernetes.io/pod':'runtime/default'}},"
     "'spec':{'containers':[{'name':'a'}]}}"},
    {"seccomp annotations to fields in 1.26", ObjectType::kPod, 26,
     "{'metadata':{'annotations':{'seccomp.security.alpha.kubernetes.io/pod':'docker/default',"
     "'container.seccomp.security.alpha.kubernetes.io/a':'localhost/p.json'}},'spec':{"
     "'containers':[{'name':'a'},{'name':'b','securityContext':{'seccompProfile':{'type':"
     "'Unconfined'}}}]}}",
     "{'metadata':{'annotations':{'seccomp.security.alpha.kubernetes.io/pod':'docker/default',"
     "'container.seccomp.security.alpha.kubernetes.io/a':'localhost/p.json'}},'spec':{"
     "'containers':[{'name':'a','securityContext':{'seccompProfile':{'type':'Localhost',"
     "'localhostProfile':'p.json'}}},{'name':'b','securityContext':{'seccompProfile':{'type':"
     "'Unconfined'}}}],'securityContext':{'seccompProfile':{'type':'RuntimeDefault'}}}}"},
    {"seccomp fields to annotations in 1.24", ObjectType::kPod, 24,
     "{'spec':{'containers':[{'name':'b','securityContext':{'seccompProfile':{'type':"
     "'Unconfined'}}}]}}",
     "{'spec':{'containers':[{'name':'b','securityContext':{'seccompProfile':{'type':"
     "'Unconfined'}}}]},'metadata':{'annotations':{"
     "'container.seccomp.security.alpha.kubernetes.io/b':'unconfined'}}}"},
};

INSTANTIATE_TEST_SUITE_P(Stored, ApiServerDefaults, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<DefaultsCase>& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// `palisade check` judges with these defaults, so its verdict is the cluster's.
Decision Judge(const std::string& pod, bool as_stored, int minor = 31) {
  rapidjson::Document document;
  document.Parse(Json(pod));
  EffectivePolicy policy;
  JudgeOptions options;
  options.level_override = LevelVersion{Level::kRestricted, Version::Latest(), true};
  options.as_api_server_stores = as_stored;
  options.kubernetes_minor = minor;
  return JudgeObject(document, ObjectType::kPod, policy, options);
}

const std::string kRestrictedContainer =
    "{'name':'a','image':'x','securityContext':{'allowPrivilegeEscalation':false,"
    "'capabilities':{'drop':['ALL']}},'ports':[{'containerPort':8080}]}";

TEST(JudgedAsStored, VolumeWithoutSourceIsAllowedAtRestricted) {
  const std::string pod =
      "{'metadata':{'name':'p'},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{"
      "'type':'RuntimeDefault'}},'volumes':[{'name':'scratch'}],'containers':[" +
      kRestrictedContainer + "]}}";
  EXPECT_TRUE(Judge(pod, true).allowed) << Judge(pod, true).message;
  EXPECT_FALSE(Judge(pod, false).allowed);  // as a review would never show it
}

TEST(JudgedAsStored, HostNetworkPortsAreHostPorts) {
  const std::string pod =
      "{'metadata':{'name':'p'},'spec':{'hostNetwork':true,'securityContext':{'runAsNonRoot':"
      "true,'seccompProfile':{'type':'RuntimeDefault'}},'containers':[" +
      kRestrictedContainer + "]}}";
  EXPECT_EQ(Judge(pod, true).message,
            "violates PodSecurity \"restricted:v1.37\": host namespaces (hostNetwork=true); "
            "hostPort (container \"a\" uses hostPort 8080)");
}

TEST(JudgedAsStored, AppArmorAnnotationBecomesTheField) {
  // The stored pod has the field too: PSA names both (as the cluster would).
  const std::string pod =
      "{'metadata':{'name':'p','annotations':{'container.apparmor.security.beta.kubernetes.io/a':"
      "'unconfined'}},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{'type':"
      "'RuntimeDefault'}},'containers':[" +
      kRestrictedContainer + "]}}";
  EXPECT_EQ(Judge(pod, true).message,
            "violates PodSecurity \"restricted:v1.37\": forbidden AppArmor profiles (container "
            "\"a\" and annotation must not set AppArmor profile type to \"Unconfined\", "
            "\"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\")");
}

}  // namespace
}  // namespace palisade::policy
