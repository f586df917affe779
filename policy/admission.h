#pragma once

// The admission decision as a pure function: AdmissionReview bytes in, the response bytes out,
// plus what the server records in metrics and logs. server/ only moves bytes.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {

enum class Endpoint : std::uint8_t { kValidate, kMutate };

struct AdmissionConfig {
  int kubernetes_minor = 31;  // the cluster's 1.x: AppArmor field (>= 30) or annotation
};

// Audit annotation keys. The API server stores each as `<webhook name>/<key>` and drops a key that
// would then hold two `/`, so they have none (PSA's own: `enforce-policy`, `audit-violations`,
// `exempt`, `error`).
inline constexpr std::string_view kAuditViolationsAuditKey = "audit-violations";
inline constexpr std::string_view kExemptAuditKey = "exempt";
inline constexpr std::string_view kDefaultedAuditKey = "defaulted";

struct ViolationRecord {  // one PSS/rule failure, for palisade_pss_violations_total
  std::string level;      // "restricted" (or "rules" for namespace rules)
  std::string check;      // check id
  std::string mode;       // "enforce" | "warn" | "audit"
  std::string message;    // "reason (detail)" of this one failure (`palisade audit` reports it)
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

AdmissionResult Review(Endpoint endpoint, std::string_view body, const PolicySet& policies,
                       const AdmissionConfig& config);

}  // namespace palisade::policy
