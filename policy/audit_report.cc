#include "policy/audit_report.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;

constexpr std::string_view kOutcomeNames[kAuditOutcomes] = {"fail", "error", "warn", "pass",
                                                            "skip"};

std::string_view ApiVersionOf(ObjectType type) {
  switch (type) {
    case ObjectType::kPod:
    case ObjectType::kReplicationController:
    case ObjectType::kPodTemplate:
      return "v1";
    case ObjectType::kJob:
    case ObjectType::kCronJob:
      return "batch/v1";
    default:
      return "apps/v1";
  }
}

std::string StringAt(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

AuditSubject ReadSubject(const Value& object, ObjectType type) {
  AuditSubject subject;
  subject.api_version = ApiVersionOf(type);
  subject.kind = KindName(type);
  if (!object.IsObject()) return subject;
  const auto metadata = object.FindMember("metadata");
  if (metadata == object.MemberEnd() || !metadata->value.IsObject()) return subject;
  const Value& meta = metadata->value;
  subject.name = StringAt(meta, "name");
  subject.namespace_ = StringAt(meta, "namespace");
  subject.uid = StringAt(meta, "uid");
  const auto owners = meta.FindMember("ownerReferences");
  if (owners != meta.MemberEnd() && owners->value.IsArray()) {
    for (const Value& owner : owners->value.GetArray()) {
      if (!owner.IsObject()) continue;
      const auto controller = owner.FindMember("controller");
      if (controller == owner.MemberEnd() || !controller->value.IsBool() ||
          !controller->value.GetBool()) {
        continue;
      }
      subject.owner = StringAt(owner, "kind") + "/" + StringAt(owner, "name");
      break;
    }
  }
  return subject;
}

std::string Category(std::string_view level) {
  if (level == "rules") return "Namespace rules";
  if (level == "baseline") return "Pod Security Standards (Baseline)";
  if (level == "restricted") return "Pod Security Standards (Restricted)";
  return "Pod Security Standards";
}

void AddProperty(AuditResult& result, std::string key, std::string value) {
  if (value.empty()) return;
  result.properties.emplace_back(std::move(key), std::move(value));
}

}  // namespace

std::string_view AuditOutcomeName(AuditOutcome outcome) {
  return kOutcomeNames[static_cast<std::size_t>(outcome)];
}

std::int64_t AuditCounts::total() const {
  std::int64_t sum = 0;
  for (const std::int64_t count : by_outcome) sum += count;
  return sum;
}

void AuditCounts::Add(const AuditCounts& other) {
  for (std::size_t i = 0; i < kAuditOutcomes; ++i) by_outcome[i] += other.by_outcome[i];
}

AuditedObject AuditObject(const Value& object, ObjectType type, const EffectivePolicy& policy,
                          const AuditOptions& options) {
  AuditedObject audited;
  audited.subject = ReadSubject(object, type);
  if (!policy.matched.empty()) audited.policy = policy.matched.back();

  auto finish = [&](AuditResult result) {
    AddProperty(result, "owner", audited.subject.owner);
    std::sort(result.properties.begin(), result.properties.end());
    audited.results.push_back(std::move(result));
  };
  auto single = [&](AuditOutcome outcome, std::string rule, std::string message) {
    audited.verdict = outcome;
    audited.message = message;
    AuditResult result;
    result.outcome = outcome;
    result.policy = audited.policy;
    result.rule = std::move(rule);
    result.category = "Pod Security Standards";
    result.message = std::move(message);
    finish(std::move(result));
    return audited;
  };

  // A broken policy with no good revision: /validate refuses everything it covers.
  if (!policy.refused.empty()) return single(AuditOutcome::kError, "policy", policy.refused);
  if (policy.matched.empty() && !options.level_override) {
    return single(AuditOutcome::kSkip, "podSecurity",
                  "no NamespacePolicy covers this namespace: privileged, nothing checked");
  }

  JudgeOptions judge;
  judge.name = audited.subject.name;
  judge.level_override = options.level_override;
  judge.kubernetes_minor = options.kubernetes_minor;
  Decision decision = JudgeObject(object, type, policy, judge);
  if (decision.unreadable) return single(AuditOutcome::kError, "object", decision.message);
  audited.warnings = std::move(decision.warnings);
  audited.checks = std::move(decision.checks);
  if (std::find(decision.exemptions.begin(), decision.exemptions.end(), "runtimeClass") !=
      decision.exemptions.end()) {
    return single(AuditOutcome::kSkip, "podSecurity", "exempt: its runtime class is exempted");
  }

  const std::optional<LevelVersion> enforce =
      options.level_override ? options.level_override : policy.enforce;
  // The level a violation was found at: the one of its mode, else any of the same level name
  // (enforce failures of a workload with `workloads: warn` are recorded as warn).
  auto level_of = [&](const ViolationRecord& violation) -> std::optional<LevelVersion> {
    const std::optional<LevelVersion>* by_mode = violation.mode == "enforce" ? &enforce
                                                 : violation.mode == "warn"  ? &policy.warn
                                                                             : &policy.audit;
    for (const std::optional<LevelVersion>* level :
         {by_mode, &enforce, &policy.warn, &policy.audit}) {
      if (*level && LevelName((*level)->level) == violation.level) return *level;
    }
    return std::nullopt;
  };
  auto source_policy = [&](std::string_view field) -> std::pair<std::string, std::string> {
    const FieldSource* source = policy.SourceOf(field);
    if (source == nullptr) return {audited.policy, ""};
    return {source->policy, source->revision};
  };

  std::vector<std::string> seen;  // one result per rule: the worst (enforce is recorded first)
  bool failed = false;
  for (const ViolationRecord& violation : decision.violations) {
    const bool rule = violation.level == "rules";
    const std::string id =
        rule ? "rules." + std::string(violation.check) : std::string(violation.check);
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
    seen.push_back(id);
    AuditResult result;
    result.outcome = violation.mode == "enforce" ? AuditOutcome::kFail : AuditOutcome::kWarn;
    failed = failed || result.outcome == AuditOutcome::kFail;
    result.rule = id;
    result.category = Category(violation.level);
    result.message = violation.message;
    AddProperty(result, "mode", std::string(violation.mode));
    std::pair<std::string, std::string> source;
    if (rule) {
      source = source_policy(id);
      if (source.second.empty()) source = source_policy("rules.action");
    } else {
      const std::optional<LevelVersion> level = level_of(violation);
      if (level) {
        AddProperty(result, "level", std::string(LevelName(level->level)));
        AddProperty(result, "version", level->version.ToString());
      }
      if (violation.mode == "enforce" && options.level_override) {
        source = {"--level", ""};
      } else {
        source = source_policy(violation.mode == "enforce" ? "podSecurity.enforce"
                               : violation.mode == "warn"  ? "podSecurity.warn"
                                                           : "podSecurity.audit");
      }
    }
    result.policy = std::move(source.first);
    AddProperty(result, "policyRevision", std::move(source.second));
    if (!decision.defaults_applied.empty()) {
      std::string defaults;
      for (const std::string& field : decision.defaults_applied) {
        defaults += (defaults.empty() ? "" : ",") + field;
      }
      AddProperty(result, "judgedWithDefaults", std::move(defaults));
    }
    finish(std::move(result));
  }

  if (!decision.allowed) {
    audited.verdict = AuditOutcome::kFail;
    audited.message = std::move(decision.message);
    if (!failed) {  // denied with no failure recorded: never expected, never hidden
      single(AuditOutcome::kFail, "podSecurity", audited.message);
    }
    return audited;
  }
  AuditResult pass;
  pass.outcome = AuditOutcome::kPass;
  pass.rule = "podSecurity";
  pass.category = "Pod Security Standards";
  if (enforce) {
    pass.message = "admitted by enforce: PodSecurity " + check_text::GoQuote(enforce->ToString());
    AddProperty(pass, "level", std::string(LevelName(enforce->level)));
    AddProperty(pass, "version", enforce->version.ToString());
  } else {
    pass.message = "admitted by enforce: no level enforced (privileged)";
  }
  const auto source = options.level_override ? std::pair<std::string, std::string>{"--level", ""}
                                             : source_policy("podSecurity.enforce");
  pass.policy = source.first;
  AddProperty(pass, "policyRevision", source.second);
  AddProperty(pass, "mode", "enforce");
  finish(std::move(pass));
  audited.verdict = audited.results.size() > 1 ? AuditOutcome::kWarn : AuditOutcome::kPass;
  return audited;
}

NamespaceReport::NamespaceReport(std::string namespace_name, std::size_t max_results)
    : namespace_(std::move(namespace_name)), max_results_(max_results) {}

bool NamespaceReport::Before(const Entry& a, const Entry& b) const {
  return std::tie(a.result.outcome, a.subject.kind, a.subject.name, a.result.rule,
                  a.result.message) < std::tie(b.result.outcome, b.subject.kind, b.subject.name,
                                               b.result.rule, b.result.message);
}

void NamespaceReport::Add(const AuditedObject& object) {
  ++resources_[object.verdict];
  for (const AuditResult& result : object.results) {
    ++summary_[result.outcome];
    entries_.push_back({object.subject, result});
  }
  if (entries_.size() >= 2 * max_results_ + 64) Trim();
}

// Keeps the first max_results_ in report order: what is dropped could never be kept later.
void NamespaceReport::Trim() {
  const auto before = [this](const Entry& a, const Entry& b) { return Before(a, b); };
  if (entries_.size() <= max_results_) return;
  std::nth_element(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(max_results_),
                   entries_.end(), before);
  entries_.resize(max_results_);
}

std::int64_t NamespaceReport::omitted() const {
  const std::int64_t total = summary_.total();
  const auto kept = static_cast<std::int64_t>(std::min(entries_.size(), max_results_));
  return total - kept;
}

std::vector<std::pair<const AuditSubject*, const AuditResult*>> NamespaceReport::Kept() const {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  for (const Entry& entry : entries_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [this](const Entry* a, const Entry* b) { return Before(*a, *b); });
  if (sorted.size() > max_results_) sorted.resize(max_results_);
  std::vector<std::pair<const AuditSubject*, const AuditResult*>> kept;
  kept.reserve(sorted.size());
  for (const Entry* entry : sorted) kept.emplace_back(&entry->subject, &entry->result);
  return kept;
}

rapidjson::Document NamespaceReport::ToReport(const AuditRun& run,
                                              std::string_view resource_version) const {
  rapidjson::Document report(rapidjson::kObjectType);
  auto& allocator = report.GetAllocator();
  auto string = [&](std::string_view text) {
    return Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
  };
  auto counts_text = [](const AuditCounts& counts) {
    std::string text = "{";
    for (std::size_t i = 0; i < kAuditOutcomes; ++i) {
      if (i > 0) text += ',';
      text += '"' + std::string(kOutcomeNames[i]) + "\":" + std::to_string(counts.by_outcome[i]);
    }
    return text + "}";
  };
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", run.duration_seconds);

  report.AddMember("apiVersion", "openreports.io/v1alpha1", allocator);
  report.AddMember("kind", "Report", allocator);
  Value metadata(rapidjson::kObjectType);
  metadata.AddMember("name", string(kReportName), allocator);
  metadata.AddMember("namespace", string(namespace_), allocator);
  if (!resource_version.empty()) {
    metadata.AddMember("resourceVersion", string(resource_version), allocator);
  }
  Value labels(rapidjson::kObjectType);
  labels.AddMember("app.kubernetes.io/managed-by", "palisade", allocator);
  metadata.AddMember("labels", labels, allocator);
  Value annotations(rapidjson::kObjectType);
  annotations.AddMember(string(kLastRunAnnotation), string(run.started), allocator);
  annotations.AddMember(string(kRunDurationAnnotation), string(duration), allocator);
  annotations.AddMember(string(kResourcesAnnotation), string(counts_text(resources_)), allocator);
  annotations.AddMember(string(kResultsTotalAnnotation), string(std::to_string(summary_.total())),
                        allocator);
  annotations.AddMember(string(kResultsOmittedAnnotation), string(std::to_string(omitted())),
                        allocator);
  if (!run.version.empty()) {
    annotations.AddMember("palisade.dev/version", string(run.version), allocator);
  }
  metadata.AddMember("annotations", annotations, allocator);
  report.AddMember("metadata", metadata, allocator);

  report.AddMember("source", string(kReportSource), allocator);
  Value scope(rapidjson::kObjectType);
  scope.AddMember("apiVersion", "v1", allocator);
  scope.AddMember("kind", "Namespace", allocator);
  scope.AddMember("name", string(namespace_), allocator);
  report.AddMember("scope", scope, allocator);
  Value limits(rapidjson::kObjectType);
  limits.AddMember("maxResults", static_cast<std::int64_t>(max_results_), allocator);
  Value configuration(rapidjson::kObjectType);
  configuration.AddMember("limits", limits, allocator);
  report.AddMember("configuration", configuration, allocator);

  Value summary(rapidjson::kObjectType);
  for (const AuditOutcome outcome : {AuditOutcome::kPass, AuditOutcome::kFail, AuditOutcome::kWarn,
                                     AuditOutcome::kError, AuditOutcome::kSkip}) {
    summary.AddMember(string(AuditOutcomeName(outcome)), Value(summary_[outcome]), allocator);
  }
  report.AddMember("summary", summary, allocator);

  Value results(rapidjson::kArrayType);
  for (const auto& [subject, result] : Kept()) {
    Value item(rapidjson::kObjectType);
    item.AddMember("source", string(kReportSource), allocator);
    item.AddMember("policy", string(result->policy), allocator);
    item.AddMember("rule", string(result->rule), allocator);
    item.AddMember("category", string(result->category), allocator);
    Value timestamp(rapidjson::kObjectType);
    timestamp.AddMember("seconds", run.started_unix_seconds, allocator);
    timestamp.AddMember("nanos", run.started_nanos, allocator);
    item.AddMember("timestamp", timestamp, allocator);
    item.AddMember("result", string(AuditOutcomeName(result->outcome)), allocator);
    // Only pass and fail are scored; warn is "not met, not scored" in OpenReports' terms.
    if (result->outcome == AuditOutcome::kFail || result->outcome == AuditOutcome::kPass) {
      item.AddMember("scored", true, allocator);
    }
    Value reference(rapidjson::kObjectType);
    reference.AddMember("apiVersion", string(subject->api_version), allocator);
    reference.AddMember("kind", string(subject->kind), allocator);
    reference.AddMember("namespace", string(subject->namespace_), allocator);
    reference.AddMember("name", string(subject->name), allocator);
    if (!subject->uid.empty()) reference.AddMember("uid", string(subject->uid), allocator);
    Value resources(rapidjson::kArrayType);
    resources.PushBack(reference, allocator);
    item.AddMember("resources", resources, allocator);
    item.AddMember("message", string(result->message), allocator);
    if (!result->properties.empty()) {
      Value properties(rapidjson::kObjectType);
      for (const auto& [key, value] : result->properties) {
        properties.AddMember(string(key), string(value), allocator);
      }
      item.AddMember("properties", properties, allocator);
    }
    results.PushBack(item, allocator);
  }
  report.AddMember("results", results, allocator);
  return report;
}

}  // namespace palisade::policy
