#include "policy/advisor.h"

#include <rapidjson/pointer.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "policy/apiserver_defaults.h"
#include "policy/evaluator.h"
#include "policy/mutator.h"
#include "policy/pod.h"

namespace palisade::policy {
namespace {

constexpr Level kStrictestFirst[] = {Level::kRestricted, Level::kBaseline, Level::kPrivileged};

// One object as it will arrive: stored as the API server stores it, then the proposed defaults.
struct Prepared {
  std::string label;  // "Deployment/web"
  std::unique_ptr<rapidjson::Document> document;
  PodReadResult read;  // the template with defaults; views into `document`
};

std::string ProfileName(const ProfileRef& profile) {
  std::string name(profile.type.value_or(""));
  if (profile.localhost_profile) name += "/" + std::string(*profile.localhost_profile);
  return name;
}

void Record(std::map<std::string, std::vector<std::string>>& inventory, std::string value,
            std::string who) {
  inventory[std::move(value)].push_back(std::move(who));
}

// What the pod declares, before any default: capabilities added, profiles, runtime class.
void TakeInventory(const Pod& pod, const std::string& label, NamespaceAdvice& advice) {
  if (pod.runtime_class_name)
    Record(advice.runtime_classes, std::string(*pod.runtime_class_name), label);
  for (const Container& container : pod.containers) {
    const std::string who = label + ": " + std::string(container.name);
    const ContainerSecurityContext& sc = container.security_context;
    for (std::string_view capability :
         sc.capabilities_add.value_or(std::vector<std::string_view>{})) {
      Record(advice.capabilities, std::string(capability), who);
    }
    if (pod.IsWindows()) continue;
    std::string seccomp = "unset";
    if (sc.seccomp_profile && sc.seccomp_profile->type) {
      seccomp = ProfileName(*sc.seccomp_profile);
    } else if (pod.security_context.seccomp_profile && pod.security_context.seccomp_profile->type) {
      seccomp = ProfileName(*pod.security_context.seccomp_profile);
    }
    Record(advice.seccomp_profiles, seccomp, who);
    std::string app_armor = "unset";
    if (sc.app_armor_profile && sc.app_armor_profile->type) {
      app_armor = ProfileName(*sc.app_armor_profile);
    } else if (const auto annotation = pod.Annotation(std::string(kAppArmorAnnotationPrefix) +
                                                      std::string(container.name))) {
      app_armor = std::string(*annotation) + " (annotation)";
    } else if (pod.security_context.app_armor_profile &&
               pod.security_context.app_armor_profile->type) {
      app_armor = ProfileName(*pod.security_context.app_armor_profile);
    }
    Record(advice.app_armor_profiles, app_armor, who);
  }
}

const rapidjson::Value* Template(const rapidjson::Value& object, ObjectType type) {
  return type == ObjectType::kPod ? &object : FindTemplate(object, type);
}

std::string Image(const Pod& pod, std::string_view container) {
  for (const Container& c : pod.containers) {
    if (c.name == container) return std::string(c.image.value_or(""));
  }
  return "";
}

}  // namespace

PolicyValues ProposedDefaults() {
  PolicyValues values;
  values.default_seccomp_profile = Profile{"RuntimeDefault", ""};
  values.default_allow_privilege_escalation = false;
  values.default_capabilities_drop = std::vector<std::string>{"ALL"};
  return values;
}

NamespaceAdvice AdviseNamespace(const std::string& ns, const std::vector<AdvisedObject>& objects,
                                const AdviseOptions& options) {
  NamespaceAdvice advice;
  advice.name = ns;
  advice.objects = objects.size();
  EffectivePolicy defaults;
  static_cast<PolicyValues&>(defaults) = ProposedDefaults();
  MutationOptions mutation_options;
  mutation_options.kubernetes_minor = options.kubernetes_minor;

  std::vector<Prepared> prepared;
  for (const AdvisedObject& input : objects) {
    Prepared item;
    item.label = input.kind + "/" + input.name;
    item.document = std::make_unique<rapidjson::Document>();
    item.document->CopyFrom(*input.object, item.document->GetAllocator());
    ApplyApiServerDefaults(*item.document, input.type, item.document->GetAllocator(),
                           {options.kubernetes_minor});
    const rapidjson::Value* stored = Template(*item.document, input.type);
    if (stored == nullptr || !stored->IsObject()) {
      advice.unreadable.push_back(item.label + ": no pod template");
      continue;
    }
    PodReadResult declared = ReadPod(*stored);
    if (!declared.errors.empty()) {
      advice.unreadable.push_back(item.label + ": " + declared.errors.front().path + ": " +
                                  declared.errors.front().message);
      continue;
    }
    TakeInventory(declared.pod, item.label, advice);
    advice.containers += declared.pod.containers.size();
    const Mutation mutation = ComputeDefaults(
        *stored, rapidjson::Pointer(std::string(TemplateOf(input.type).pointer).c_str()), defaults,
        mutation_options);
    if (!mutation.empty()) ApplyPatch(mutation.patch, *item.document);
    item.read = ReadPod(*Template(*item.document, input.type));
    prepared.push_back(std::move(item));
  }
  if (!advice.unreadable.empty()) return advice;

  // The strictest level every object passes; the failures at the one above it.
  std::vector<std::pair<const Prepared*, Evaluation>> failing_above;
  for (std::size_t i = 0; i < std::size(kStrictestFirst); ++i) {
    const LevelVersion level{kStrictestFirst[i], Version::Latest(), false};
    std::vector<std::pair<const Prepared*, Evaluation>> failing;
    for (const Prepared& item : prepared) {
      Evaluation evaluation = EvaluatePod(item.read, level);
      if (!evaluation.allowed) failing.emplace_back(&item, std::move(evaluation));
    }
    if (failing.empty()) {
      advice.admits = level;
      if (i > 0) advice.stricter = LevelVersion{kStrictestFirst[i - 1], Version::Latest(), false};
      break;
    }
    failing_above = std::move(failing);
  }
  if (!advice.stricter) return advice;

  std::set<std::pair<std::string, std::string>> holders;  // (object, container or "")
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> index;
  for (const auto& [item, evaluation] : failing_above) {
    advice.denied_at_stricter.push_back(item->label);
    for (const CheckFailure& failure : evaluation.failures) {
      for (const Finding& finding : failure.findings) {
        const std::string image =
            finding.PodLevel() ? "" : Image(item->read.pod, finding.container);
        const auto key = std::make_tuple(finding.container, image, std::string(failure.id));
        auto [slot, added] = index.emplace(key, advice.holdbacks.size());
        if (added)
          advice.holdbacks.push_back({{}, finding.container, image, std::string(failure.id), {}});
        Holdback& holdback = advice.holdbacks[slot->second];
        if (holdback.objects.empty() || holdback.objects.back() != item->label) {
          holdback.objects.push_back(item->label);
        }
        holdback.values.insert(holdback.values.end(), finding.values.begin(), finding.values.end());
        holders.emplace(item->label, finding.container);
      }
    }
  }
  for (Holdback& holdback : advice.holdbacks) {
    std::sort(holdback.values.begin(), holdback.values.end());
    holdback.values.erase(std::unique(holdback.values.begin(), holdback.values.end()),
                          holdback.values.end());
  }
  advice.holders = holders.size();
  advice.exceptions_proposed = advice.holders <= options.max_exception_containers;
  return advice;
}

}  // namespace palisade::policy
