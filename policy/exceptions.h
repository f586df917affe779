#pragma once

// spec.exceptions of a NamespacePolicy: per-check waivers of exact offences, each with a reason
// and an end date.
//
// A finding (check.h) of check C is waived when every one of its values is covered by an
// exception that is in force (not expired on `today`) and lists C (a PSA check ID, or
// "rules.<name>" for a namespace rule), where:
// - a container's finding: the exception's `containers` globs (empty: any) match the container's
//   name and its `images` globs (empty: any) match the container's image;
// - a pod-level finding (host namespaces, sysctls, volumes, the pod's securityContext): the
//   exception lists no `containers`, and its `images` (if any) match every container's image;
// - a value is covered when the exception's `values` is empty or lists it exactly; a finding with
//   no values (a required setting that is missing) is covered only by an exception without
//   `values`.
// A check whose findings are all waived passes; otherwise the rest is worded as PSA would word a
// pod without the waived offences. An exception expires at the end of its `expires` day (UTC);
// expired ones waive nothing (fail closed), and with no date known every dated one is expired.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/check.h"
#include "policy/pod.h"

namespace palisade::policy {

struct CheckFailure;
struct RuleFailure;
struct EffectivePolicy;

// Days since 1970-01-01 (UTC).
using Day = std::int64_t;

struct PolicyException {
  std::string name;                     // unique in its policy
  std::vector<std::string> checks;      // "capabilities_baseline", "rules.allowedCapabilities"
  std::vector<std::string> containers;  // name globs; empty: any (and pod-level findings)
  std::vector<std::string> images;      // image globs; empty: any
  std::vector<std::string> values;      // exact offending values; empty: any
  std::string reason;
  std::string expires;             // "2027-03-31" or "never", as written
  std::optional<Day> expires_day;  // nullopt: never

  bool InForce(std::optional<Day> today) const;
  bool operator==(const PolicyException&) const = default;
};

// "2027-03-31" (a real calendar date) -> days since 1970-01-01; nullopt when malformed.
std::optional<Day> ParseDate(std::string_view text);
// Back to "YYYY-MM-DD".
std::string FormatDate(Day day);
// The day of a Unix time (seconds).
inline Day DayOf(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

// "" when `id` names a PSA check or "rules.<rule>"; else the reason, with a did-you-mean.
std::string ValidateExceptionCheck(std::string_view id);
// "" when `glob` is a valid name/image glob ('*', '?', no empty pattern, no '[' classes).
std::string ValidateExceptionGlob(std::string_view glob);

// Exceptions used by one request: sorted, unique names; `expiring` those within their last 14
// days.
struct ExceptionUse {
  std::vector<std::string> used;
  std::vector<const PolicyException*> expiring;
  void Add(const PolicyException& exception, std::optional<Day> today);
};

inline constexpr Day kExpiryWarningDays = 14;

// Waives what `exceptions` cover in `failures` of PSS checks (dropping checks fully waived,
// rewording the rest) and records the exceptions that waived something.
void WaiveCheckFailures(std::vector<CheckFailure>& failures, const Pod& pod,
                        const std::vector<PolicyException>& exceptions, std::optional<Day> today,
                        ExceptionUse* use);
// The same for namespace rules (checks "rules.<id>").
void WaiveRuleFailures(std::vector<RuleFailure>& failures, const Pod& pod,
                       const EffectivePolicy& policy, std::optional<Day> today, ExceptionUse* use);

}  // namespace palisade::policy
