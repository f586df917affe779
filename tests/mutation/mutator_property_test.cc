// Property tests: for generated pods, the defaults patch applies cleanly with python3-jsonpatch,
// only adds new paths or appends, is idempotent, keeps a restricted pod restricted, and the plan
// applied to the typed Pod view (as workload judging does) reads as the patched pod does, and
// applied to the JSON (as `check --mutate` does) gives the patched document.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "policy/defaults_planner.h"
#include "policy/evaluator.h"
#include "policy/mutator.h"
#include "policy/pod.h"
#include "tests/mutation/mutation_support.h"

namespace palisade::policy {
namespace {

using testing_support::Json;

std::string Write(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

// Every field of the view, one line each, for comparing two views of a pod.
std::string Describe(const Pod& pod) {
  std::ostringstream out;
  auto opt = [&](std::string_view name, const auto& value) {
    out << name << '=';
    if (value) {
      out << *value;
    } else {
      out << "unset";
    }
    out << '\n';
  };
  auto profile = [&](std::string_view name, const std::optional<ProfileRef>& value) {
    out << name << '=';
    if (value) out << value->type.value_or("-") << '/' << value->localhost_profile.value_or("-");
    out << '\n';
  };
  auto list = [&](std::string_view name,
                  const std::optional<std::vector<std::string_view>>& items) {
    out << name << '=';
    if (items) {
      for (std::string_view item : *items) out << item << ',';
    } else {
      out << "unset";
    }
    out << '\n';
  };
  out << "metadata=" << pod.metadata_present << " annotations=" << pod.annotations_present << '\n';
  for (const auto& [key, value] : pod.annotations) out << "  " << key << '=' << value << '\n';
  opt("runtimeClassName", pod.runtime_class_name);
  const PodSecurityContext& psc = pod.security_context;
  out << "pod securityContext=" << psc.present << '\n';
  opt("runAsNonRoot", psc.run_as_non_root);
  opt("runAsUser", psc.run_as_user);
  profile("seccompProfile", psc.seccomp_profile);
  profile("appArmorProfile", psc.app_armor_profile);
  for (const Container& c : pod.containers) {
    const ContainerSecurityContext& sc = c.security_context;
    out << c.ListName() << '/' << c.index << ' ' << c.name << " securityContext=" << sc.present
        << " capabilities=" << sc.capabilities_present << '\n';
    opt("privileged", sc.privileged);
    opt("allowPrivilegeEscalation", sc.allow_privilege_escalation);
    opt("runAsNonRoot", sc.run_as_non_root);
    list("add", sc.capabilities_add);
    list("drop", sc.capabilities_drop);
    profile("seccompProfile", sc.seccomp_profile);
    profile("appArmorProfile", sc.app_armor_profile);
  }
  return out.str();
}

struct Generated {
  std::string description;
  std::string pod;
  int kubernetes_minor;
};

// Minimal restricted and baseline pods, then every combination of the tweaks.
std::vector<Generated> GeneratePods() {
  const std::vector<std::pair<std::string, std::string>> bases = {
      {"restricted",
       "{'metadata':{'name':'p'},'spec':{'securityContext':{'runAsNonRoot':true,"
       "'seccompProfile':{'type':'RuntimeDefault'}},'containers':[{'name':'c','image':'img',"
       "'securityContext':{'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL']}}}]}}"},
      {"baseline", "{'spec':{'containers':[{'name':'c','image':'img'}]}}"},
  };
  struct Tweak {
    std::string name, pointer, value;
  };
  const std::vector<Tweak> tweaks = {
      {"windows", "/spec/os", "{'name':'windows'}"},
      {"init", "/spec/initContainers",
       "[{'name':'i','image':'img','securityContext':{'allowPrivilegeEscalation':false,"
       "'capabilities':{'drop':['ALL'],'add':['CHOWN']}}}]"},
      {"ephemeral", "/spec/ephemeralContainers",
       "[{'name':'e','image':'img','securityContext':{}}]"},
      {"exempt", "/spec/containers/-", "{'name':'dbg','image':'registry.example.com/debug/sh'}"},
      {"privileged", "/spec/containers/-",
       "{'name':'priv','image':'img','securityContext':{'privileged':true,'capabilities':{'add':"
       "['SYS_ADMIN']}}}"},
      {"annotations", "/metadata/annotations",
       "{'container.apparmor.security.beta.kubernetes.io/c':'runtime/default','x/y':'z'}"},
      {"podAppArmor", "/spec/securityContext/appArmorProfile", "{'type':'RuntimeDefault'}"},
      {"rootUser", "/spec/securityContext/runAsUser", "0"},
      {"seccompAnnotation", "/metadata/annotations/seccomp.security.alpha.kubernetes.io~1pod",
       "'localhost/x'"},
  };
  std::vector<Generated> out;
  for (const auto& [base_name, base] : bases) {
    for (unsigned mask = 0; mask < (1u << tweaks.size()); ++mask) {
      for (int minor : {29, 31}) {
        rapidjson::Document pod;
        pod.Parse(Json(base));
        std::string description = base_name;
        for (std::size_t t = 0; t < tweaks.size(); ++t) {
          if ((mask & (1u << t)) == 0) continue;
          rapidjson::Document value(&pod.GetAllocator());
          value.Parse(Json(tweaks[t].value));
          rapidjson::Pointer(tweaks[t].pointer.c_str()).Set(pod, value);
          description += "+" + tweaks[t].name;
        }
        out.push_back({description + " k8s 1." + std::to_string(minor), Write(pod), minor});
      }
    }
  }
  return out;
}

TEST(MutatorProperties, AppliesAddsOnlyIdempotentAndKeepsRestricted) {
  const EffectivePolicy policy = testing_support::FullDefaults();
  const std::vector<Generated> pods = GeneratePods();
  ASSERT_GT(pods.size(), 500u);

  rapidjson::Document input(rapidjson::kArrayType);
  auto& allocator = input.GetAllocator();
  std::vector<std::vector<std::string>> fields;
  for (const Generated& generated : pods) {
    rapidjson::Document pod;
    pod.Parse(generated.pod);
    ASSERT_TRUE(ReadPod(pod).errors.empty()) << generated.description;
    MutationOptions options;
    options.kubernetes_minor = generated.kubernetes_minor;
    const Mutation mutation = ComputeDefaults(pod, rapidjson::Pointer(""), policy, options);
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("doc", rapidjson::Value(pod, allocator), allocator);
    item.AddMember("patch", rapidjson::Value(mutation.patch, allocator), allocator);
    input.PushBack(item, allocator);
  }

  // Named per process: two checkouts' suites may run at once on one machine.
  const std::string stem = ::testing::TempDir() + "mutator_property_" + std::to_string(getpid());
  const std::string in_path = stem + "_in.json";
  const std::string out_path = stem + "_out.json";
  std::ofstream(in_path) << Write(input);
  const std::string command =
      std::string("python3 ") + PALISADE_APPLY_PATCH_SCRIPT + " < " + in_path + " > " + out_path;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::stringstream text;
  text << std::ifstream(out_path).rdbuf();
  rapidjson::Document results;
  results.Parse(text.str());
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  ASSERT_TRUE(results.IsArray() && results.Size() == pods.size());

  int patched = 0;
  for (rapidjson::SizeType i = 0; i < results.Size(); ++i) {
    const Generated& generated = pods[i];
    const rapidjson::Value& result = results[i];
    ASSERT_FALSE(result.HasMember("error"))
        << generated.description << ": " << result["error"].GetString();
    rapidjson::Document after;
    after.CopyFrom(result["result"], after.GetAllocator());
    ASSERT_TRUE(ReadPod(after).errors.empty()) << generated.description;

    MutationOptions options;
    options.kubernetes_minor = generated.kubernetes_minor;
    {
      rapidjson::Document original;
      original.Parse(generated.pod);
      PodReadResult view = ReadPod(original);
      const DefaultsPlan plan = PlanDefaults(view.pod, policy, options);
      ApplyDefaultsPlan(plan, view.pod);
      EXPECT_EQ(Describe(view.pod), Describe(ReadPod(after).pod)) << generated.description;

      // Applied to the JSON itself (`check --mutate`), it gives the patched document exactly.
      rapidjson::Document applied;
      applied.Parse(generated.pod);
      const PodReadResult applied_view = ReadPod(applied);
      ApplyDefaultsPlan(PlanDefaults(applied_view.pod, policy, options), applied_view.pod, applied,
                        applied.GetAllocator());
      EXPECT_EQ(Write(applied), Write(after)) << generated.description;
    }
    const Mutation again = ComputeDefaults(after, rapidjson::Pointer(""), policy, options);
    EXPECT_EQ(PatchJson(again.patch), "[]") << generated.description;

    rapidjson::Document before;
    before.Parse(generated.pod);
    if (Write(before) != Write(after)) ++patched;
    const LevelVersion restricted{Level::kRestricted, Version::Latest(), true};
    if (EvaluatePod(ReadPod(before), restricted).allowed) {
      EXPECT_TRUE(EvaluatePod(ReadPod(after), restricted).allowed) << generated.description;
    }
  }
  EXPECT_GT(patched, 0);
}

}  // namespace
}  // namespace palisade::policy
