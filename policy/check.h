#pragma once

// A Pod Security Standards check as data, in the shape of Kubernetes' Pod Security Admission
// (policy/checks.go): {id, level, versions: [{minimum version, function}]}. A function reads the
// pod and returns {allowed, reason, detail}; it never throws and builds text only on failure.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/level_version.h"
#include "policy/pod.h"

namespace palisade::policy {

struct CheckResult {
  bool allowed = true;
  std::string_view reason;  // PSA's ForbiddenReason; static text
  std::string detail;       // PSA's ForbiddenDetail; may be empty
};

using CheckFunction = CheckResult (*)(const Pod& pod);

struct VersionedCheck {
  Version minimum;
  CheckFunction function = nullptr;
  // Baseline check ids that do not run at restricted while this version is in force
  // (PSA's OverrideCheckIDs).
  std::vector<std::string_view> replaces;
};

struct Check {
  std::string_view id;
  Level level = Level::kBaseline;
  std::vector<VersionedCheck> versions;  // strictly increasing minimum versions
};

inline CheckResult Allow() { return CheckResult{}; }
inline CheckResult Forbid(std::string_view reason, std::string detail) {
  return CheckResult{false, reason, std::move(detail)};
}

// Text helpers matching PSA's helpers.go and Go's fmt, so details are byte-identical.
namespace check_text {

inline std::string_view Pluralize(std::string_view singular, std::string_view plural,
                                  std::size_t count) {
  return count == 1 ? singular : plural;
}

// `"a", "b"`; "" for no items (Go's joinQuote).
template <class Range>
std::string JoinQuote(const Range& items) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    out += first ? "\"" : ", \"";
    out += item;
    out += '"';
    first = false;
  }
  return out;
}

template <class Range>
std::string Join(const Range& items, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += separator;
    out += item;
    first = false;
  }
  return out;
}

// Sorted and de-duplicated, as Go's sets.String.List() returns.
template <class T>
void SortUnique(std::vector<T>& items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
}

template <class T>
void InsertUnique(std::vector<T>& items, const T& item) {
  if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
}

// Go's strconv.Quote (fmt's %q) for a string.
std::string GoQuote(std::string_view text);

// `containers "a", "b"` / `container "a"`
std::string Containers(const std::vector<std::string_view>& names);

}  // namespace check_text

// Value Go's decoder would see for an optional string: unset is "".
inline std::string_view OrEmpty(const std::optional<std::string_view>& value) {
  return value ? *value : std::string_view{};
}

// The last value of an annotation key, as Go's map decoding keeps the last duplicate.
std::optional<std::string_view> LastAnnotation(const Pod& pod, std::string_view key);

// Whether PSA relaxes a check for a pod in a user namespace (spec.hostUsers: false).
inline bool InUserNamespace(const Pod& pod) { return pod.host_users && !*pod.host_users; }

// One factory per file in policy/checks/, named after the check id.
Check AllowPrivilegeEscalationCheck();
Check AppArmorProfileCheck();
Check CapabilitiesBaselineCheck();
Check CapabilitiesRestrictedCheck();
Check HostNamespacesCheck();
Check HostPathVolumesCheck();
Check HostPortsCheck();
Check HostProbesAndHostLifecycleCheck();
Check PrivilegedCheck();
Check ProcMountCheck();
Check ProcMountRestrictedCheck();
Check RestrictedVolumesCheck();
Check RunAsNonRootCheck();
Check RunAsUserCheck();
Check SeccompProfileBaselineCheck();
Check SeccompProfileRestrictedCheck();
Check SELinuxOptionsCheck();
Check SysctlsCheck();
Check WindowsHostProcessCheck();

// Shared implementations PSA also shares between checks (procMount_restricted is procMount v1.0).
CheckResult ProcMountStrict(const Pod& pod);
bool SeccompTypeAllowed(const std::optional<ProfileRef>& profile);

}  // namespace palisade::policy
