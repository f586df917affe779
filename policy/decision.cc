#include "policy/decision.h"

#include <rapidjson/pointer.h>

#include <algorithm>

#include "policy/apiserver_defaults.h"
#include "policy/check.h"
#include "policy/defaults_planner.h"
#include "policy/evaluator.h"
#include "policy/exceptions.h"
#include "policy/json_access.h"
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

// ` (policy "payments" rev af735c)`; nothing when the source is unknown.
void AppendSource(std::string& out, const FieldSource* source) {
  if (source == nullptr || (source->policy.empty() && source->label.empty())) return;
  out += " (";
  source->AppendTo(out);
  out += ')';
}

std::string SourceText(const FieldSource* source) {
  std::string out;
  AppendSource(out, source);
  return out;
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
std::size_t ItemsSize(const Failures& failures) {
  std::size_t size = 0;
  for (const auto& failure : failures) size += failure.reason.size() + failure.detail.size() + 5;
  return size;
}

template <class Failures>
void AppendItems(std::string& out, const Failures& failures, std::string_view separator) {
  bool first = true;
  for (const auto& failure : failures) {
    if (!first) out += separator;
    AppendItem(out, failure);
    first = false;
  }
}

template <class Failures>
std::string Items(const Failures& failures, std::string_view separator = "; ") {
  // Details can name tens of thousands of containers: appended in place, sized once.
  std::string out;
  out.reserve(ItemsSize(failures));
  AppendItems(out, failures, separator);
  return out;
}
constexpr std::string_view kWarningSeparator = ", ";

// `<lead> PodSecurity "restricted:v1.37" (policy "payments" rev af735c): <items>`, sized once.
std::string PodSecurityText(std::string_view lead, const ModeEvaluation& mode,
                            const FieldSource* source, std::string_view separator) {
  std::string out;
  out.reserve(lead.size() + 128 + ItemsSize(mode.failures()));
  out += lead;
  out += " PodSecurity \"";
  mode.level.AppendTo(out);
  out += '"';
  AppendSource(out, source);
  out += ": ";
  AppendItems(out, mode.failures(), separator);
  return out;
}

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

bool ObjectEvaluation::Denied() const {
  if (!unreadable.empty()) return true;
  if (!exempt.empty()) return false;
  const bool enforce_denies = enforce && !enforce->failures().empty() && !workloads_warn;
  return enforce_denies || (!rule_failures.empty() && rules_action == Action::kEnforce);
}

ObjectEvaluation EvaluateObject(const rapidjson::Value& received, ObjectType type,
                                const EffectivePolicy& policy, const JudgeOptions& options) {
  ObjectEvaluation result;
  if (policy.ExemptsUsername(options.username)) {
    result.exempt = "username";
    return result;
  }
  // A manifest is judged as the API server will store it; a review already is.
  rapidjson::Document stored;
  if (options.as_api_server_stores) {
    stored.CopyFrom(received, stored.GetAllocator());
    ApplyApiServerDefaults(stored, type, stored.GetAllocator(),
                           ApiServerDefaultsOptions{options.kubernetes_minor});
  }
  const rapidjson::Value& object = options.as_api_server_stores ? stored : received;
  const bool workload = type != ObjectType::kPod;
  const TypeInfo& info = Info(type);

  const rapidjson::Value* pod_object = FindTemplate(object, type);
  if (pod_object == nullptr) {
    const std::string_view prefix = info.location.path_prefix;
    const std::string path =
        prefix.empty() ? "object" : std::string(prefix.substr(0, prefix.size() - 1));
    result.unreadable.push_back({path, "required: must be an object"});
    return result;
  }
  PodReadResult read = ReadPod(*pod_object, info.location.path_prefix);
  if (!read.errors.empty()) {
    result.unreadable = std::move(read.errors);
    return result;
  }

  // Judge the template as its pods will arrive: with the namespace defaults applied to the view
  // (the plan's strings back the view's new annotations, so it lives as long as the view).
  DefaultsPlan plan;
  if (workload || options.apply_defaults_to_pods) {
    MutationOptions mutation_options;
    mutation_options.kubernetes_minor = options.kubernetes_minor;
    plan = PlanDefaults(read.pod, policy, mutation_options);
    if (!plan.empty()) {
      ApplyDefaultsPlan(plan, read.pod);
      result.defaults_applied = plan.fields;
    }
  }
  const Pod& full_pod = read.pod;

  if (full_pod.runtime_class_name && policy.ExemptsRuntimeClass(*full_pod.runtime_class_name)) {
    result.exempt = "runtimeClass";
    return result;
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
      result.image_exemptions.push_back("image:" + std::string(container.name));
      return true;
    });
  }
  const Pod& pod = trimmed ? *trimmed : full_pod;

  // PSS, each distinct level evaluated once, with the policy's exceptions applied.
  std::vector<ModeEvaluation> cache;
  auto evaluate = [&](const std::optional<LevelVersion>& level) -> std::optional<ModeEvaluation> {
    if (!level || level->level == Level::kPrivileged) return std::nullopt;
    for (const ModeEvaluation& cached : cache) {
      if (cached.level == *level) return cached;
    }
    Evaluation evaluation = EvaluatePod(pod, *level);
    WaiveCheckFailures(evaluation.failures, pod, policy.exceptions, options.today,
                       &result.exceptions);
    evaluation.allowed = evaluation.failures.empty() && evaluation.errors.empty();
    cache.push_back({*level, std::make_shared<const Evaluation>(std::move(evaluation))});
    return cache.back();
  };
  result.workloads_warn = workload && policy.workloads == WorkloadMode::kWarn;
  result.enforce = evaluate(options.level_override ? options.level_override : policy.enforce);
  result.rule_failures = EvaluateRules(pod, policy);
  WaiveRuleFailures(result.rule_failures, pod, policy, options.today, &result.exceptions);
  result.rules_action = policy.rules_action;
  if (result.rules_action == Action::kEnforce && result.workloads_warn) {
    result.rules_action = Action::kWarn;
  }
  result.audit = evaluate(policy.audit);
  // As PSA: no warnings on a request that is denied anyway.
  if (!result.Denied()) result.warn = evaluate(policy.warn);
  return result;
}

Decision RenderDecision(const ObjectEvaluation& evaluation, ObjectType type,
                        const EffectivePolicy& policy, const JudgeOptions& options) {
  Decision decision;
  const bool workload = type != ObjectType::kPod;
  const TypeInfo& info = Info(type);
  if (evaluation.exempt == "username") {
    decision.exemptions.emplace_back(evaluation.exempt);
    decision.audit_annotations.emplace_back(kExemptAuditKey, evaluation.exempt);
    return decision;
  }
  if (!evaluation.unreadable.empty()) {
    decision.allowed = false;
    decision.unreadable = true;
    decision.message = "cannot read the object as a " + std::string(info.kind) + ": ";
    for (std::size_t i = 0; i < evaluation.unreadable.size(); ++i) {
      if (i > 0) decision.message += "; ";
      decision.message += evaluation.unreadable[i].path + ": " + evaluation.unreadable[i].message;
    }
    return decision;
  }
  decision.defaults_applied = evaluation.defaults_applied;
  if (!evaluation.exempt.empty()) {
    decision.exemptions.emplace_back(evaluation.exempt);
    decision.audit_annotations.emplace_back(kExemptAuditKey, evaluation.exempt);
    return decision;
  }
  decision.exemptions = evaluation.image_exemptions;

  const std::string subject =
      workload ? Lower(info.kind) + (options.name.empty() ? "" : " " + GoQuote(options.name)) +
                     " would create pods that violate"
               : "violates";
  std::vector<std::string> deny_parts;
  std::vector<std::string> audit_parts;
  std::size_t failures = evaluation.rule_failures.size();
  for (const auto* mode : {&evaluation.enforce, &evaluation.warn, &evaluation.audit}) {
    if (*mode) failures += (*mode)->failures().size();
  }
  decision.checks.reserve(failures);  // at most one each, and room for them at once
  decision.violations.reserve(failures);
  auto record = [&](std::string_view level, const auto& failure, std::string_view mode) {
    AddUnique(decision.checks, failure.id);
    std::string message;
    message.reserve(failure.reason.size() + failure.detail.size() + 3);  // one allocation
    AppendItem(message, failure);
    decision.violations.push_back({level, failure.id, mode, std::move(message)});
  };

  if (evaluation.enforce && !evaluation.enforce->failures().empty()) {
    const ModeEvaluation& enforce = *evaluation.enforce;
    const std::string_view mode = evaluation.workloads_warn ? "warn" : "enforce";
    for (const CheckFailure& failure : enforce.failures()) {
      record(LevelName(enforce.level.level), failure, mode);
    }
    const FieldSource* source =
        options.level_override ? nullptr : policy.SourceOf("podSecurity.enforce");
    if (evaluation.workloads_warn) {
      decision.warnings.push_back(
          PodSecurityText("would violate", enforce, source, kWarningSeparator));
    } else {
      deny_parts.push_back(PodSecurityText(subject, enforce, source, "; "));
    }
  }

  // Namespace rules.
  const std::vector<RuleFailure>& rule_failures = evaluation.rule_failures;
  std::string rule_warning;
  if (!rule_failures.empty()) {
    const FieldSource* source = policy.SourceOf("rules.action");
    if (source == nullptr) source = policy.SourceOf(rule_failures.front().field);
    const std::string policy_name = source ? GoQuote(source->policy) : std::string("\"\"");
    const std::string rev = source ? " rev " + source->revision : std::string();
    const Action action = evaluation.rules_action;
    for (const RuleFailure& failure : rule_failures) {
      record("rules", failure, ActionName(action));
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

  if (evaluation.audit && !evaluation.audit->failures().empty()) {
    const ModeEvaluation& audit = *evaluation.audit;
    for (const CheckFailure& failure : audit.failures()) {
      record(LevelName(audit.level.level), failure, "audit");
    }
    audit_parts.insert(
        audit_parts.begin(),
        PodSecurityText("would violate", audit, policy.SourceOf("podSecurity.audit"), "; "));
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
    if (evaluation.warn && !evaluation.warn->failures().empty()) {
      const ModeEvaluation& warn = *evaluation.warn;
      for (const CheckFailure& failure : warn.failures()) {
        record(LevelName(warn.level.level), failure, "warn");
      }
      // One warning per level, the checks joined as PSA joins them.
      std::string warning = PodSecurityText("would violate", warn,
                                            policy.SourceOf("podSecurity.warn"), kWarningSeparator);
      if (std::find(decision.warnings.begin(), decision.warnings.end(), warning) ==
          decision.warnings.end()) {
        decision.warnings.push_back(std::move(warning));
      }
    }
    if (!rule_warning.empty()) decision.warnings.push_back(std::move(rule_warning));
    // An exception in its last days: the owners hear it from every request that relies on it.
    for (const PolicyException* exception : evaluation.exceptions.expiring) {
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
  if (!evaluation.exceptions.used.empty()) {
    decision.exceptions_used = evaluation.exceptions.used;
    std::string joined;
    for (const std::string& name : evaluation.exceptions.used) {
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

Decision JudgeObject(const rapidjson::Value& object, ObjectType type, const EffectivePolicy& policy,
                     const JudgeOptions& options) {
  return RenderDecision(EvaluateObject(object, type, policy, options), type, policy, options);
}

}  // namespace palisade::policy
