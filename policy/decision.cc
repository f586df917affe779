#include "policy/decision.h"

#include <rapidjson/pointer.h>

#include <algorithm>

#include "policy/apiserver_defaults.h"
#include "policy/check.h"
#include "policy/evaluator.h"
#include "policy/exceptions.h"
#include "policy/json_access.h"
#include "policy/mutator.h"
#include "policy/pod.h"
#include "policy/rules.h"

namespace palisade::policy {
namespace {

struct TypeInfo {
  ObjectType type;
  std::string_view kind;
  std::string_view group;  // API group of the resource
  std::string_view resource;
  TemplateLocation location;
};

constexpr TypeInfo kTypes[] = {
    {ObjectType::kPod, "Pod", "", "pods", {"", ""}},
    {ObjectType::kDeployment,
     "Deployment",
     "apps",
     "deployments",
     {"/spec/template", "spec.template."}},
    {ObjectType::kReplicaSet,
     "ReplicaSet",
     "apps",
     "replicasets",
     {"/spec/template", "spec.template."}},
    {ObjectType::kStatefulSet,
     "StatefulSet",
     "apps",
     "statefulsets",
     {"/spec/template", "spec.template."}},
    {ObjectType::kDaemonSet,
     "DaemonSet",
     "apps",
     "daemonsets",
     {"/spec/template", "spec.template."}},
    {ObjectType::kJob, "Job", "batch", "jobs", {"/spec/template", "spec.template."}},
    {ObjectType::kCronJob,
     "CronJob",
     "batch",
     "cronjobs",
     {"/spec/jobTemplate/spec/template", "spec.jobTemplate.spec.template."}},
    {ObjectType::kReplicationController,
     "ReplicationController",
     "",
     "replicationcontrollers",
     {"/spec/template", "spec.template."}},
    {ObjectType::kPodTemplate, "PodTemplate", "", "podtemplates", {"/template", "template."}},
};

const TypeInfo& Info(ObjectType type) {
  for (const TypeInfo& info : kTypes) {
    if (info.type == type) return info;
  }
  return kTypes[0];
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

using check_text::GoQuote;

std::string SourceText(const FieldSource* source) {
  if (source == nullptr || source->policy.empty()) return "";
  return " (policy " + GoQuote(source->policy) + " rev " + source->revision + ")";
}

template <class Failure>
void AppendItem(std::string& out, const Failure& failure) {
  out += failure.reason;
  if (failure.detail.empty()) return;
  out += " (";
  out += failure.detail;
  out += ')';
}

// "reason (detail); reason (detail)": the failures of a denial and of the audit annotation.
// Warnings join with ", " instead, as PSA's ForbiddenDetail does, so kubectl users see the warning
// they know.
template <class Failures>
std::string Items(const Failures& failures, std::string_view separator = "; ") {
  // Details can name tens of thousands of containers: appended in place, sized once.
  std::size_t size = 0;
  for (const auto& failure : failures) size += failure.reason.size() + failure.detail.size() + 5;
  std::string out;
  out.reserve(size);
  for (const auto& failure : failures) {
    if (!out.empty()) out += separator;
    AppendItem(out, failure);
  }
  return out;
}
constexpr std::string_view kWarningSeparator = ", ";

void AddUnique(std::vector<std::string>& list, std::string_view item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.emplace_back(item);
}

}  // namespace

std::optional<ObjectType> ObjectTypeFromKind(std::string_view kind) {
  for (const TypeInfo& info : kTypes) {
    if (info.kind == kind) return info.type;
  }
  return std::nullopt;
}

std::optional<ObjectType> ObjectTypeFromResource(std::string_view group,
                                                 std::string_view resource) {
  for (const TypeInfo& info : kTypes) {
    if (info.resource != resource) continue;
    // Old clusters served some workloads from "extensions".
    if (info.group == group || (group == "extensions" && info.group == "apps")) return info.type;
  }
  return std::nullopt;
}

std::string_view KindName(ObjectType type) { return Info(type).kind; }

TemplateLocation TemplateOf(ObjectType type) { return Info(type).location; }

const rapidjson::Value* FindTemplate(const rapidjson::Value& object, ObjectType type) {
  const TemplateLocation location = TemplateOf(type);
  if (location.pointer.empty()) return object.IsObject() ? &object : nullptr;
  const rapidjson::Pointer pointer(location.pointer.data(), location.pointer.size());
  const rapidjson::Value* value = pointer.Get(object);
  return value != nullptr && value->IsObject() ? value : nullptr;
}

Decision JudgeObject(const rapidjson::Value& received, ObjectType type,
                     const EffectivePolicy& policy, const JudgeOptions& options) {
  // A manifest is judged as the API server will store it; a review already is.
  rapidjson::Document stored;
  if (options.as_api_server_stores) {
    stored.CopyFrom(received, stored.GetAllocator());
    ApplyApiServerDefaults(stored, type, stored.GetAllocator(),
                           ApiServerDefaultsOptions{options.kubernetes_minor});
  }
  const rapidjson::Value& object = options.as_api_server_stores ? stored : received;
  Decision decision;
  const bool workload = type != ObjectType::kPod;
  const TypeInfo& info = Info(type);

  if (policy.ExemptsUsername(options.username)) {
    decision.exemptions.push_back("username");
    decision.audit_annotations.emplace_back(kExemptAuditKey, "username");
    return decision;
  }

  auto deny_unreadable = [&](const std::vector<FieldError>& errors) {
    decision.allowed = false;
    decision.unreadable = true;
    decision.message = "cannot read the object as a " + std::string(info.kind) + ": ";
    for (std::size_t i = 0; i < errors.size(); ++i) {
      if (i > 0) decision.message += "; ";
      decision.message += errors[i].path + ": " + errors[i].message;
    }
    return decision;
  };

  const rapidjson::Value* pod_object = FindTemplate(object, type);
  if (pod_object == nullptr) {
    const std::string_view prefix = info.location.path_prefix;
    const std::string path =
        prefix.empty() ? "object" : std::string(prefix.substr(0, prefix.size() - 1));
    return deny_unreadable({{path, "required: must be an object"}});
  }
  PodReadResult read = ReadPod(*pod_object, info.location.path_prefix);
  if (!read.errors.empty()) return deny_unreadable(read.errors);

  // Judge the template as its pods will arrive: with the namespace defaults applied.
  rapidjson::Document defaulted;
  if (workload || options.apply_defaults_to_pods) {
    MutationOptions mutation_options;
    mutation_options.kubernetes_minor = options.kubernetes_minor;
    const Mutation mutation =
        ComputeDefaults(*pod_object, rapidjson::Pointer(""), policy, mutation_options);
    if (!mutation.empty()) {
      defaulted.CopyFrom(*pod_object, defaulted.GetAllocator());
      ApplyPatch(mutation.patch, defaulted);
      read = ReadPod(defaulted, info.location.path_prefix);
      if (!read.errors.empty()) return deny_unreadable(read.errors);
      decision.defaults_applied = mutation.fields;
    }
  }
  const Pod& full_pod = read.pod;

  if (full_pod.runtime_class_name && policy.ExemptsRuntimeClass(*full_pod.runtime_class_name)) {
    decision.exemptions.push_back("runtimeClass");
    decision.audit_annotations.emplace_back(kExemptAuditKey, "runtimeClass");
    return decision;
  }

  // Containers with exempt images skip container checks: judge the pod without them (a copy only
  // when there are image exemptions).
  auto image_exempt = [&](const Container& container) {
    return policy.ExemptsImage(container.image.value_or(""));
  };
  std::optional<Pod> trimmed;
  if (!policy.exempt_images.empty() &&
      std::any_of(full_pod.containers.begin(), full_pod.containers.end(), image_exempt)) {
    trimmed = full_pod;
    std::erase_if(trimmed->containers, [&](const Container& container) {
      if (!image_exempt(container)) return false;
      decision.exemptions.push_back("image:" + std::string(container.name));
      return true;
    });
  }
  const Pod& pod = trimmed ? *trimmed : full_pod;

  // PSS, each distinct level evaluated once, with the policy's exceptions applied.
  ExceptionUse exceptions;
  std::vector<std::pair<LevelVersion, Evaluation>> cache;
  auto evaluate = [&](const LevelVersion& level) -> const Evaluation& {
    for (const auto& [cached_level, evaluation] : cache) {
      if (cached_level == level) return evaluation;
    }
    Evaluation evaluation = EvaluatePod(pod, level);
    WaiveCheckFailures(evaluation.failures, pod, policy.exceptions, options.today, &exceptions);
    evaluation.allowed = evaluation.failures.empty() && evaluation.errors.empty();
    cache.emplace_back(level, std::move(evaluation));
    return cache.back().second;
  };
  const std::string subject =
      workload ? Lower(info.kind) + (options.name.empty() ? "" : " " + GoQuote(options.name)) +
                     " would create pods that violate"
               : "violates";

  std::vector<std::string> deny_parts;
  std::vector<std::string> audit_parts;
  auto record = [&](std::string_view level, std::string_view check, std::string_view mode) {
    AddUnique(decision.checks, check);
    decision.violations.push_back({std::string(level), std::string(check), std::string(mode)});
  };
  const bool workloads_warn = workload && policy.workloads == WorkloadMode::kWarn;

  const std::optional<LevelVersion> enforce =
      options.level_override ? options.level_override : policy.enforce;
  if (enforce && enforce->level != Level::kPrivileged) {
    const Evaluation& evaluation = evaluate(*enforce);
    if (!evaluation.failures.empty()) {
      const std::string level_text = GoQuote(enforce->ToString());
      const std::string_view mode = workloads_warn ? "warn" : "enforce";
      for (const CheckFailure& failure : evaluation.failures) {
        record(LevelName(enforce->level), failure.id, mode);
      }
      const FieldSource* source =
          options.level_override ? nullptr : policy.SourceOf("podSecurity.enforce");
      if (workloads_warn) {
        decision.warnings.push_back("would violate PodSecurity " + level_text + SourceText(source) +
                                    ": " + Items(evaluation.failures, kWarningSeparator));
      } else {
        deny_parts.push_back(subject + " PodSecurity " + level_text + SourceText(source) + ": " +
                             Items(evaluation.failures));
      }
    }
  }

  // Namespace rules.
  std::vector<RuleFailure> rule_failures = EvaluateRules(pod, policy);
  WaiveRuleFailures(rule_failures, pod, policy, options.today, &exceptions);
  std::string rule_warning;
  if (!rule_failures.empty()) {
    const FieldSource* source = policy.SourceOf("rules.action");
    if (source == nullptr) source = policy.SourceOf(rule_failures.front().field);
    const std::string policy_name = source ? GoQuote(source->policy) : std::string("\"\"");
    const std::string rev = source ? " rev " + source->revision : std::string();
    Action action = policy.rules_action;
    if (action == Action::kEnforce && workloads_warn) action = Action::kWarn;
    for (const RuleFailure& failure : rule_failures) {
      record("rules", failure.id, ActionName(action));
    }
    if (action == Action::kWarn) {
      rule_warning = "would violate rules of policy " + policy_name + rev + ": " +
                     Items(rule_failures, kWarningSeparator);
    }
    const std::string items = Items(rule_failures);
    if (action == Action::kEnforce) {
      deny_parts.push_back(subject + " rules of policy " + policy_name + rev + ": " + items);
    } else if (action == Action::kAudit) {
      audit_parts.push_back("would violate rules of policy " + policy_name + rev + ": " + items);
    }
  }

  if (policy.audit && policy.audit->level != Level::kPrivileged) {
    const Evaluation& evaluation = evaluate(*policy.audit);
    if (!evaluation.failures.empty()) {
      for (const CheckFailure& failure : evaluation.failures) {
        record(LevelName(policy.audit->level), failure.id, "audit");
      }
      audit_parts.insert(audit_parts.begin(), "would violate PodSecurity " +
                                                  GoQuote(policy.audit->ToString()) +
                                                  SourceText(policy.SourceOf("podSecurity.audit")) +
                                                  ": " + Items(evaluation.failures));
    }
  }

  if (!deny_parts.empty()) {
    decision.allowed = false;
    if (deny_parts.size() == 1) {
      decision.message = std::move(deny_parts.front());
    } else {
      for (const std::string& part : deny_parts) {
        if (!decision.message.empty()) decision.message += "; ";
        decision.message += part;
      }
    }
  } else {
    // As PSA: no warnings on a request that is denied anyway.
    if (policy.warn && policy.warn->level != Level::kPrivileged) {
      const Evaluation& evaluation = evaluate(*policy.warn);
      if (!evaluation.failures.empty()) {
        for (const CheckFailure& failure : evaluation.failures) {
          record(LevelName(policy.warn->level), failure.id, "warn");
        }
        // One warning per level, the checks joined as PSA joins them.
        std::string warning = "would violate PodSecurity " + GoQuote(policy.warn->ToString()) +
                              SourceText(policy.SourceOf("podSecurity.warn")) + ": " +
                              Items(evaluation.failures, kWarningSeparator);
        if (std::find(decision.warnings.begin(), decision.warnings.end(), warning) ==
            decision.warnings.end()) {
          decision.warnings.push_back(std::move(warning));
        }
      }
    }
    if (!rule_warning.empty()) decision.warnings.push_back(std::move(rule_warning));
    // An exception in its last days: the owners hear it from every request that relies on it.
    for (const PolicyException* exception : exceptions.expiring) {
      const Day left = *exception->expires_day - *options.today;
      decision.warnings.push_back(
          "exception " + GoQuote(exception->name) + SourceText(policy.SourceOf("exceptions")) +
          " expires " + exception->expires + " (" +
          (left == 0 ? std::string("today")
                     : "in " + std::to_string(left) + (left == 1 ? " day" : " days")) +
          "): " + exception->reason);
    }
  }

  if (!audit_parts.empty()) {
    std::string joined = std::move(audit_parts.front());
    for (std::size_t i = 1; i < audit_parts.size(); ++i) {
      joined += "; ";
      joined += audit_parts[i];
    }
    decision.audit_annotations.emplace_back(kAuditViolationsAuditKey, std::move(joined));
  }
  if (!exceptions.used.empty()) {
    decision.exceptions_used = exceptions.used;
    std::string joined;
    for (const std::string& name : exceptions.used) {
      if (!joined.empty()) joined += ',';
      joined += name;
    }
    decision.audit_annotations.emplace_back(kExceptionsUsedAuditKey, std::move(joined));
  }
  if (!decision.exemptions.empty()) {
    std::vector<std::string> sorted = decision.exemptions;
    std::sort(sorted.begin(), sorted.end());
    std::string joined;
    for (const std::string& item : sorted) {
      if (!joined.empty()) joined += ',';
      joined += item;
    }
    decision.audit_annotations.emplace_back(kExemptAuditKey, std::move(joined));
  }
  std::sort(decision.audit_annotations.begin(), decision.audit_annotations.end());
  return decision;
}

}  // namespace palisade::policy
