#pragma once

// `palisade audit`, the pure part: one object read from the API judged as /validate would judge
// its CREATE (policy::JudgeObject, the same options), turned into OpenReports results, and the
// per-namespace `Report` (openreports.io/v1alpha1) built from them. No I/O, no clocks: the run's
// time comes in as a value.

#include <rapidjson/document.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/decision.h"
#include "policy/level_version.h"
#include "policy/namespace_policy.h"

namespace palisade::policy {

// An OpenReports result, in report order: failures first.
enum class AuditOutcome : std::uint8_t { kFail, kError, kWarn, kPass, kSkip };
inline constexpr std::size_t kAuditOutcomes = 5;
std::string_view AuditOutcomeName(AuditOutcome outcome);  // "fail", "error", ...

// Counts by outcome, indexed by AuditOutcome.
struct AuditCounts {
  std::array<std::int64_t, kAuditOutcomes> by_outcome{};
  std::int64_t& operator[](AuditOutcome outcome) {
    return by_outcome[static_cast<std::size_t>(outcome)];
  }
  std::int64_t operator[](AuditOutcome outcome) const {
    return by_outcome[static_cast<std::size_t>(outcome)];
  }
  std::int64_t total() const;
  void Add(const AuditCounts& other);
};

// The object a result is about (an OpenReports ObjectReference, plus its controller).
struct AuditSubject {
  std::string api_version;  // "apps/v1"
  std::string kind;         // "Deployment"
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string owner;  // "ReplicaSet/web-7d9f" (the controller ownerReference), "" when none
};

struct AuditResult {
  AuditOutcome outcome = AuditOutcome::kPass;
  std::string policy;  // the NamespacePolicy that set what failed ("--level" for the override)
  std::string rule;    // PSS check id, "rules.<id>", "podSecurity" (pass/skip), "object" (error)
  std::string category;
  std::string message;
  std::vector<std::pair<std::string, std::string>> properties;  // sorted by key
};

// One audited object: its verdict (the worst of its results) and its results.
struct AuditedObject {
  AuditSubject subject;
  AuditOutcome verdict = AuditOutcome::kPass;
  std::string policy;   // the most specific matching policy, "" when none
  std::string message;  // the denial (fail, error) or why it was skipped
  std::vector<std::string> warnings;
  std::vector<std::string> checks;  // failed check ids, every mode
  std::vector<AuditResult> results;
};

struct AuditOptions {
  // `--level`: replaces every policy's enforce level (as `palisade check --level`).
  std::optional<LevelVersion> level_override;
  int kubernetes_minor = 31;
};

// Judges `object` (as the API returns it: already defaulted by the API server) as /validate
// judges a CREATE: pods as they are, templates with the namespace defaults applied. Results:
// - enforce failures (PSS checks, rules in enforce mode) are `fail`, one per check;
// - failures in warn and audit mode (PSS warn/audit levels, rules in warn/audit) are `warn`;
// - an object enforce admits gets one `pass` (rule "podSecurity");
// - no policy and no --level (privileged, nothing checked), or an exempt runtime class: `skip`;
// - an object that cannot be read, or a namespace whose policy is broken: `error`.
AuditedObject AuditObject(const rapidjson::Value& object, ObjectType type,
                          const EffectivePolicy& policy, const AuditOptions& options);

// The run, as written into every Report.
struct AuditRun {
  std::int64_t started_unix_seconds = 0;  // results' timestamp
  std::int32_t started_nanos = 0;
  std::string started;  // RFC 3339, "2024-05-01T10:00:00Z"
  double duration_seconds = 0;
  std::string version;  // palisade's version
};

inline constexpr std::string_view kReportName = "palisade";
inline constexpr std::string_view kReportSource = "palisade";
inline constexpr std::size_t kDefaultMaxReportResults = 200;

// Annotations on each Report (a CronJob is not scraped: the run's metrics travel with it).
inline constexpr std::string_view kLastRunAnnotation = "palisade.dev/last-run";
inline constexpr std::string_view kRunDurationAnnotation = "palisade.dev/run-duration-seconds";
inline constexpr std::string_view kResourcesAnnotation = "palisade.dev/resources";
inline constexpr std::string_view kResultsTotalAnnotation = "palisade.dev/results-total";
inline constexpr std::string_view kResultsOmittedAnnotation = "palisade.dev/results-omitted";

// The results of one namespace: every result counted, at most `max_results` kept (the first in
// report order: failures first, then errors, warnings, passes, skips; by kind, name, rule).
// Memory stays bounded by the cap, however many objects the namespace holds.
class NamespaceReport {
 public:
  explicit NamespaceReport(std::string namespace_name,
                           std::size_t max_results = kDefaultMaxReportResults);

  void Add(const AuditedObject& object);

  const std::string& namespace_name() const { return namespace_; }
  const AuditCounts& summary() const { return summary_; }      // every result
  const AuditCounts& resources() const { return resources_; }  // objects by verdict
  std::int64_t omitted() const;                                // results counted but not kept
  // The kept results in report order, each with its subject.
  std::vector<std::pair<const AuditSubject*, const AuditResult*>> Kept() const;

  // The `Report` object; `resource_version` set when not empty (an update).
  rapidjson::Document ToReport(const AuditRun& run, std::string_view resource_version = "") const;

 private:
  struct Entry {
    AuditSubject subject;
    AuditResult result;
  };
  bool Before(const Entry& a, const Entry& b) const;
  void Trim();

  std::string namespace_;
  std::size_t max_results_;
  AuditCounts summary_, resources_;
  std::vector<Entry> entries_;
};

}  // namespace palisade::policy
