// seLinuxOptions (baseline): the SELinux type is restricted, and a custom SELinux user or role is
// forbidden.
//
// Restricted fields:
//   spec.securityContext.seLinuxOptions.{type,user,role}
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seLinuxOptions.{type,user,role}
// Allowed values: type unset, "", container_t, container_init_t, container_kvm_t
//   (v1.31 adds container_engine_t); user and role unset or "".
// v1.0, v1.31.

#include <array>
#include <span>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::array<std::string_view, 4> kAllowedTypes_1_0{"", "container_t", "container_init_t",
                                                            "container_kvm_t"};
constexpr std::array<std::string_view, 5> kAllowedTypes_1_31{
    "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"};

struct Findings {
  std::vector<std::string_view> bad_types;
  bool set_user = false;
  bool set_role = false;
};

bool Valid(const std::optional<SELinuxOptions>& options, std::span<const std::string_view> allowed,
           Findings* findings) {
  if (!options) return true;
  bool valid = true;
  const std::string_view type = OrEmpty(options->type);
  if (std::find(allowed.begin(), allowed.end(), type) == allowed.end()) {
    valid = false;
    if (findings != nullptr) findings->bad_types.push_back(type);
  }
  if (!OrEmpty(options->user).empty()) {
    valid = false;
    if (findings != nullptr) findings->set_user = true;
  }
  if (!OrEmpty(options->role).empty()) {
    valid = false;
    if (findings != nullptr) findings->set_role = true;
  }
  return valid;
}

CheckResult Evaluate(const Pod& pod, std::span<const std::string_view> allowed) {
  bool any_bad = !Valid(pod.security_context.se_linux_options, allowed, nullptr);
  for (const Container& c : pod.containers) {
    if (!Valid(c.security_context.se_linux_options, allowed, nullptr)) any_bad = true;
  }
  if (!any_bad) return Allow();

  Findings findings;
  std::vector<std::string> bad_setters;
  if (!Valid(pod.security_context.se_linux_options, allowed, &findings)) {
    bad_setters.emplace_back("pod");
  }
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    if (!Valid(c.security_context.se_linux_options, allowed, &findings)) {
      bad_containers.push_back(c.name);
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  std::vector<std::string> bad_data;
  if (!findings.bad_types.empty()) {
    SortUnique(findings.bad_types);
    bad_data.push_back(std::string(Pluralize("type", "types", findings.bad_types.size())) + " " +
                       JoinQuote(findings.bad_types));
  }
  if (findings.set_user) bad_data.emplace_back("user may not be set");
  if (findings.set_role) bad_data.emplace_back("role may not be set");
  return Forbid("seLinuxOptions",
                Join(bad_setters, " and ") +
                    " set forbidden securityContext.seLinuxOptions: " + Join(bad_data, "; "));
}

CheckResult seLinuxOptions_1_0(const Pod& pod) { return Evaluate(pod, kAllowedTypes_1_0); }
CheckResult seLinuxOptions_1_31(const Pod& pod) { return Evaluate(pod, kAllowedTypes_1_31); }

}  // namespace

Check SELinuxOptionsCheck() {
  return Check{"seLinuxOptions",
               Level::kBaseline,
               {{Version{0}, seLinuxOptions_1_0, {}}, {Version{31}, seLinuxOptions_1_31, {}}}};
}

}  // namespace palisade::policy
