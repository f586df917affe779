// Workload templates are judged as their pods will arrive: the defaults plan applied to the typed
// Pod view. And judging is evaluation (EvaluateObject) followed by rendering (RenderDecision).

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <string>

#include "policy/decision.h"
#include "policy/mutator.h"
#include "tests/mutation/mutation_support.h"

namespace palisade::policy {
namespace {

using testing_support::FullDefaults;
using testing_support::Json;

const LevelVersion kRestricted{Level::kRestricted, Version::Latest(), true};
const LevelVersion kBaseline{Level::kBaseline, Version::Latest(), true};

std::string Deployment(const std::string& template_json) {
  return "{'kind':'Deployment','metadata':{'name':'web'},'spec':{'template':" + template_json +
         "}}";
}

bool HasCheck(const Decision& decision, std::string_view id) {
  return std::find(decision.checks.begin(), decision.checks.end(), id) != decision.checks.end();
}

TEST(JudgeWithDefaults, TemplateIsJudgedWithTheDefaultsItsPodsReceive) {
  const std::string pod_template = "{'spec':{'containers':[{'name':'app','image':'nginx'}]}}";
  EffectivePolicy policy = FullDefaults();
  policy.enforce = kRestricted;

  rapidjson::Document deployment;
  deployment.Parse(Json(Deployment(pod_template)));
  const Decision decision = JudgeObject(deployment, ObjectType::kDeployment, policy, {});
  EXPECT_TRUE(decision.allowed) << decision.message;

  // The fields are those /mutate will add to each pod.
  rapidjson::Document pod;
  pod.Parse(Json(pod_template));
  const PatchText patch = ComputeDefaultsText(pod, rapidjson::Pointer(""), policy, {});
  EXPECT_EQ(decision.defaults_applied, patch.fields);
  EXPECT_FALSE(decision.defaults_applied.empty());

  // The same template as a bare Pod, without defaults, is not restricted.
  const Decision bare = JudgeObject(pod, ObjectType::kPod, policy, {});
  EXPECT_FALSE(bare.allowed);
  EXPECT_TRUE(bare.defaults_applied.empty());
}

TEST(JudgeWithDefaults, DefaultsNeverHideWhatTheTemplateSets) {
  EffectivePolicy policy = FullDefaults();
  policy.enforce = kRestricted;
  rapidjson::Document deployment;
  deployment.Parse(Json(Deployment(
      "{'spec':{'containers':[{'name':'app','image':'nginx','securityContext':{'privileged':"
      "true}}]}}")));
  JudgeOptions options;
  options.name = "web";
  const Decision decision = JudgeObject(deployment, ObjectType::kDeployment, policy, options);
  EXPECT_FALSE(decision.allowed);
  EXPECT_TRUE(decision.message.starts_with(
      "deployment \"web\" would create pods that violate PodSecurity \"restricted:"))
      << decision.message;
  EXPECT_TRUE(HasCheck(decision, "privileged"));
  // allowPrivilegeEscalation=false is never defaulted next to privileged: the API server refuses
  // the pair, so the template keeps failing that check too.
  EXPECT_TRUE(HasCheck(decision, "allowPrivilegeEscalation"));
}

// The AppArmor default is the beta annotation before 1.30 and the field from 1.30: either way the
// judged view carries it (the annotation's key and value live in the plan). Unconfined is not a
// default a policy file may set; it is used here because only it makes the judged value visible.
TEST(JudgeWithDefaults, AppArmorDefaultIsJudgedAsAnnotationOrField) {
  EffectivePolicy policy;
  policy.matched = {"payments"};
  policy.default_app_armor_profile = Profile{"Unconfined", ""};
  policy.enforce = kBaseline;
  rapidjson::Document deployment;
  deployment.Parse(Json(
      Deployment("{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b','image':'y'}]}}")));
  for (const int minor : {29, 31}) {
    JudgeOptions options;
    options.kubernetes_minor = minor;
    const Decision decision = JudgeObject(deployment, ObjectType::kDeployment, policy, options);
    EXPECT_FALSE(decision.allowed) << minor;
    EXPECT_TRUE(HasCheck(decision, "appArmorProfile")) << minor << ": " << decision.message;
    EXPECT_EQ(decision.defaults_applied, std::vector<std::string>{"appArmorProfile"}) << minor;
  }
}

TEST(EvaluateObject, DenialLeavesWarnUnevaluatedAndRendersAsJudgeObject) {
  EffectivePolicy policy;
  policy.matched = {"payments"};
  policy.enforce = kBaseline;
  policy.warn = kRestricted;
  policy.audit = kRestricted;
  rapidjson::Document pod;
  pod.Parse(Json("{'spec':{'hostNetwork':true,'containers':[{'name':'a','image':'x'}]}}"));

  const ObjectEvaluation evaluation = EvaluateObject(pod, ObjectType::kPod, policy, {});
  EXPECT_TRUE(evaluation.Denied());
  ASSERT_TRUE(evaluation.enforce.has_value());
  EXPECT_FALSE(evaluation.enforce->failures().empty());
  ASSERT_TRUE(evaluation.audit.has_value());
  EXPECT_FALSE(evaluation.warn.has_value());  // PSA warns only on admitted requests
  // restricted is evaluated once for both modes that name it
  EXPECT_EQ(evaluation.audit->level, kRestricted);

  const Decision rendered = RenderDecision(evaluation, ObjectType::kPod, policy, {});
  const Decision judged = JudgeObject(pod, ObjectType::kPod, policy, {});
  EXPECT_FALSE(rendered.allowed);
  EXPECT_EQ(rendered.message, judged.message);
  EXPECT_EQ(rendered.warnings, judged.warnings);
  EXPECT_EQ(rendered.audit_annotations, judged.audit_annotations);
  EXPECT_TRUE(rendered.warnings.empty());

  // Admitted: the warn mode is evaluated and rendered as one warning.
  policy.enforce = LevelVersion{Level::kPrivileged, Version::Latest(), true};
  const ObjectEvaluation admitted = EvaluateObject(pod, ObjectType::kPod, policy, {});
  EXPECT_FALSE(admitted.Denied());
  EXPECT_FALSE(admitted.enforce.has_value());  // privileged runs no checks
  ASSERT_TRUE(admitted.warn.has_value());
  EXPECT_EQ(admitted.warn->evaluation, admitted.audit->evaluation);  // one evaluation, shared
  const Decision warned = RenderDecision(admitted, ObjectType::kPod, policy, {});
  EXPECT_TRUE(warned.allowed);
  ASSERT_EQ(warned.warnings.size(), 1u);
  EXPECT_TRUE(warned.warnings[0].starts_with("would violate PodSecurity \"restricted:"))
      << warned.warnings[0];
}

TEST(EvaluateObject, ExemptUserIsNeitherReadNorJudged) {
  EffectivePolicy policy = FullDefaults();
  policy.enforce = kRestricted;
  policy.exempt_usernames = {"system:admin"};
  rapidjson::Document pod;
  pod.Parse(Json("{'spec':{'containers':'not a list'}}"));
  JudgeOptions options;
  options.username = "system:admin";
  const ObjectEvaluation evaluation = EvaluateObject(pod, ObjectType::kPod, policy, options);
  EXPECT_EQ(evaluation.exempt, "username");
  EXPECT_TRUE(evaluation.unreadable.empty());
  const Decision decision = RenderDecision(evaluation, ObjectType::kPod, policy, options);
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.exemptions, std::vector<std::string>{"username"});

  options.username = "someone";
  const Decision unreadable = JudgeObject(pod, ObjectType::kPod, policy, options);
  EXPECT_FALSE(unreadable.allowed);
  EXPECT_TRUE(unreadable.unreadable);
}

}  // namespace
}  // namespace palisade::policy
