#pragma once

// A Pod Security Standards check as data, in the shape of Kubernetes' Pod Security Admission
// (policy/checks.go): {id, level, versions: [{minimum version, function}], render}. Unlike PSA, a
// function does not write text: it returns structured findings (what offends, where, with which
// values), and the check's one render function turns findings into PSA's exact reason and detail.
// Exceptions (spec.exceptions) waive findings and render what is left; `advise` reads the values.

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/level_version.h"
#include "policy/pod.h"

namespace palisade::policy {

// One offence of a failing check.
//
// - container: the container's name; empty for a pod-level offence (host namespaces, sysctls,
//   volumes, the pod's own securityContext, the pod's seccomp annotation). An annotation that
//   names a container (AppArmor or seccomp beta annotations) belongs to that container.
// - field: where it is. Pod-level fields are absolute ("spec.hostNetwork",
//   "spec.securityContext.sysctls", "spec.volumes[data]", "metadata.annotations[<key>]");
//   container fields are relative to the container ("securityContext.capabilities.add",
//   "ports[*].hostPort", "livenessProbe.httpGet.host", "metadata.annotations[<key>]" for the
//   container's annotation).
// - values: the offending values as the pod spells them: capabilities ("NET_ADMIN"), host ports
//   ("8080"), sysctl names, volume types ("hostPath", "nfs"), profile types ("Unconfined"),
//   procMount types, SELinux type/user/role, host namespaces ("hostNetwork"), annotation values,
//   "true"/"false"/"0" for booleans and runAsUser. Empty when the offence is a required setting
//   that is missing (allowPrivilegeEscalation, capabilities.drop ALL, runAsNonRoot, seccomp
//   profile, or a runtime class for rules.allowedRuntimeClasses).
//
// `field` is a check's static text (a literal or a constexpr string_view, taken without a copy), or
// text built for one volume or annotation, owned.
class FieldText {
 public:
  FieldText() = default;
  // consteval: only text known at compile time, which outlives every finding, is taken as a view.
  consteval FieldText(const char* text) : view_(text) {}
  consteval FieldText(std::string_view text) : view_(text) {}
  // Text built at run time ("spec.volumes[" name "]"), copied into one block of its own.
  static FieldText Joined(std::initializer_list<std::string_view> parts) {
    FieldText field;
    field.Own(parts);
    return field;
  }
  FieldText(const FieldText& other) { *this = other; }
  FieldText(FieldText&&) noexcept = default;
  FieldText& operator=(const FieldText& other) {
    if (this == &other) return *this;
    if (other.owned_ == nullptr) {
      owned_.reset();
      view_ = other.view_;
    } else {
      Own({other.view_});
    }
    return *this;
  }
  FieldText& operator=(FieldText&&) noexcept = default;

  operator std::string_view() const { return view_; }  // NOLINT: used as text everywhere
  bool empty() const { return view_.empty(); }
  std::size_t size() const { return view_.size(); }
  bool starts_with(std::string_view prefix) const { return view_.starts_with(prefix); }
  // One comparison, with text: a second one with FieldText would make `field == "..."` ambiguous.
  friend bool operator==(const FieldText& field, std::string_view text) {
    return field.view_ == text;
  }

 private:
  void Own(std::initializer_list<std::string_view> parts) {
    std::size_t size = 0;
    for (std::string_view part : parts) size += part.size();
    auto owned = std::make_unique_for_overwrite<char[]>(size);
    char* out = owned.get();
    for (std::string_view part : parts) out = std::copy(part.begin(), part.end(), out);
    owned_ = std::move(owned);
    view_ = {owned_.get(), size};
  }

  std::unique_ptr<char[]> owned_;  // null for static text; moving it keeps view_ valid
  std::string_view view_;
};

struct Finding {
  std::string container;
  FieldText field;
  std::vector<std::string> values;

  bool PodLevel() const { return container.empty(); }
  bool operator==(const Finding&) const = default;
};

using Findings = std::vector<Finding>;

// Appends `finding`. The first reserves a slot per container and one for the pod: the checks of a
// setting left unset find one per container, and growing one at a time would allocate thrice.
inline void AddFinding(Findings& findings, const Pod& pod, Finding finding) {
  if (findings.capacity() == 0) findings.reserve(pod.containers.size() + 1);
  findings.push_back(std::move(finding));
}

// A failing check as PSA words it.
struct RenderedFailure {
  std::string_view reason;  // PSA's ForbiddenReason; static text
  std::string detail;       // PSA's ForbiddenDetail; may be empty
};

// Reads the pod; returns no findings when the check passes. Never throws.
using CheckFunction = Findings (*)(const Pod& pod);
// Words a non-empty list of findings of its check (all of them, or those no exception waived).
using RenderFunction = RenderedFailure (*)(const Findings& findings);

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
  RenderFunction render = nullptr;       // one wording for every version's findings
};

// Text helpers matching PSA's helpers.go and Go's fmt, so details are byte-identical.
namespace check_text {

inline std::string_view Pluralize(std::string_view singular, std::string_view plural,
                                  std::size_t count) {
  return count == 1 ? singular : plural;
}

// Appends `"a", "b"`; nothing for no items (Go's joinQuote).
template <class Range>
void AppendJoinQuote(std::string& out, const Range& items) {
  bool first = true;
  for (const auto& item : items) {
    out += first ? "\"" : ", \"";
    out += item;
    out += '"';
    first = false;
  }
}

// `"a", "b"`; "" for no items (Go's joinQuote).
template <class Range>
std::string JoinQuote(const Range& items) {
  std::string out;
  AppendJoinQuote(out, items);
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
void AppendGoQuote(std::string& out, std::string_view text);

// `before` `containers "a", "b"` `after` (`container "a"` for one), sized once: a detail is
// mostly this sentence.
std::string Containers(std::string_view before, const std::vector<std::string_view>& names,
                       std::string_view after);

// `containers "a", "b"` / `container "a"`
inline std::string Containers(const std::vector<std::string_view>& names) {
  return Containers({}, names, {});
}

// Who set a forbidden value: `pod`, `containers "a", "b"` or `pod and container "a"` (findings
// on `pod_field` are the pod's).
std::string Setters(const Findings& findings, std::string_view pod_field);

// The container of each finding, in order (checks with one finding per container).
std::vector<std::string_view> ContainerNames(const Findings& findings);

// Every value of `findings`, in order.
std::vector<std::string_view> AllValues(const Findings& findings);

// A volume's finding field, "spec.volumes[<name>]", and back.
inline FieldText VolumeField(std::string_view name) {
  return FieldText::Joined({"spec.volumes[", name, "]"});
}
inline std::string_view VolumeName(std::string_view field) {
  constexpr std::string_view kPrefix = "spec.volumes[";
  return field.substr(kPrefix.size(), field.size() - kPrefix.size() - 1);
}

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
Findings ProcMountStrict(const Pod& pod);
RenderedFailure RenderProcMount(const Findings& findings);
bool SeccompTypeAllowed(const std::optional<ProfileRef>& profile);

}  // namespace palisade::policy
