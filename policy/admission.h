#pragma once

// The admission decision as a pure function: AdmissionReview bytes in, the response bytes out,
// plus what the server records in metrics and logs. server/ only moves bytes.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/label_guard.h"
#include "policy/namespace_policy.h"

namespace palisade::policy {

enum class Endpoint : std::uint8_t { kValidate, kMutate };

// ConfigMaps with this label set to "true" hold policies (`--policy-configmaps`).
inline constexpr std::string_view kPolicyConfigMapLabel = "palisade.dev/policy";

// A policy file: (name, text).
using PolicyFileText = std::pair<std::string, std::string>;

struct AdmissionConfig {
  int kubernetes_minor = 31;  // the cluster's 1.x: AppArmor field (>= 30) or annotation
  // Lints the policy files of one labelled ConfigMap (named `<configmap>/<key>`) as `policy lint`
  // does. Set by the server, which reads YAML; unset: /validate allows every ConfigMap.
  std::function<std::vector<PolicyError>(const std::vector<PolicyFileText>&)> lint_policy_files =
      {};
  LabelGuard label_guard;    // /validate judges Namespace label changes when enabled
  std::optional<Day> today;  // UTC day, for spec.exceptions (JudgeOptions::today)
};

// Audit annotation keys. The API server stores each as `<webhook name>/<key>` and drops a key that
// would then hold two `/`, so they have none (PSA's own: `enforce-policy`, `audit-violations`,
// `exempt`, `error`).
inline constexpr std::string_view kAuditViolationsAuditKey = "audit-violations";
inline constexpr std::string_view kExemptAuditKey = "exempt";
inline constexpr std::string_view kDefaultedAuditKey = "defaulted";
inline constexpr std::string_view kExceptionsUsedAuditKey = "exceptions-used";

// One PSS/rule failure, for palisade_pss_violations_total. level, check and mode are static text
// (level names, the registry's and the rules' ids), so recording one copies only its message.
struct ViolationRecord {
  std::string_view level;  // "restricted" (or "rules" for namespace rules)
  std::string_view check;  // check id
  std::string_view mode;   // "enforce" | "warn" | "audit"
  std::string message;     // "reason (detail)" of this one failure (`palisade audit` reports it)
};

struct AdmissionResult {
  int http_status = 200;  // 200 for any well-formed review; 400 for malformed input
  std::string body;       // application/json response (200) or a plain-text reason (400)

  // For metrics and the log line.
  std::string operation;  // CREATE/UPDATE/... ("" when unreadable)
  std::string resource;   // "pods", "pods/ephemeralcontainers", "deployments", ...
  std::string kind;
  std::string decision;  // "allowed" | "denied" | "error" (400)
  std::string uid, namespace_name, name, user;
  std::string policy;               // name of the most specific matching policy ("" if none)
  std::vector<std::string> checks;  // failed check ids, every mode
  std::vector<ViolationRecord> violations;
  std::vector<std::string> defaults_applied;  // "seccompProfile", "capabilities.drop", ...
  std::vector<std::string> warnings;
  std::vector<std::string> exemptions;  // "username", "runtimeClass", "image:<container>"
  int patch_ops = 0;
  bool worth_logging = false;  // a denial, a warning or a mutation
};

// `deadline_passed` (optional; policy/ reads no clock) is asked between decoding and judging:
// when the API server's `?timeout=` has passed, the review is not judged (http_status 504).
AdmissionResult Review(Endpoint endpoint, std::string_view body, const PolicySet& policies,
                       const AdmissionConfig& config,
                       const std::function<bool()>* deadline_passed = nullptr);

class AdmissionRequest;

// The same for a review already decoded (AdmissionRequest::Parse succeeded).
AdmissionResult Review(Endpoint endpoint, const AdmissionRequest& request,
                       const PolicySet& policies, const AdmissionConfig& config,
                       const std::function<bool()>* deadline_passed = nullptr);

}  // namespace palisade::policy
