// seccompProfile_restricted (restricted): a seccomp profile must be set, to the runtime default
// or a localhost profile.
//
// Restricted fields:
//   spec.securityContext.seccompProfile.type
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seccompProfile.type
// Allowed values: "RuntimeDefault", "Localhost"; a container may leave it unset when the pod
//   sets an allowed one. A container's setting overrides the pod's.
// v1.19: replaces seccompProfile_baseline at restricted.
// v1.25: Windows pods (spec.os.name: windows) are exempt.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

CheckResult seccompProfileRestricted_1_19(const Pod& pod) {
  const auto& pod_profile = pod.security_context.seccomp_profile;
  const bool pod_bad = !SeccompTypeAllowed(pod_profile);
  const bool pod_set = pod_profile && !pod_bad;
  bool any_bad = pod_bad;
  for (const Container& c : pod.containers) {
    const auto& profile = c.security_context.seccomp_profile;
    if (profile ? !SeccompTypeAllowed(profile) : !pod_set) any_bad = true;
  }
  if (!any_bad) return Allow();

  std::vector<std::string> bad_setters;
  std::vector<std::string_view> bad_values;
  if (pod_bad) {
    bad_setters.emplace_back("pod");
    bad_values.push_back(OrEmpty(pod_profile->type));
  }
  std::vector<std::string_view> explicitly_bad;
  std::vector<std::string_view> implicitly_bad;
  for (const Container& c : pod.containers) {
    const auto& profile = c.security_context.seccomp_profile;
    if (profile) {
      if (!SeccompTypeAllowed(profile)) {
        explicitly_bad.push_back(c.name);
        bad_values.push_back(OrEmpty(profile->type));
      }
    } else if (!pod_set) {
      implicitly_bad.push_back(c.name);
    }
  }
  if (!explicitly_bad.empty()) bad_setters.push_back(Containers(explicitly_bad));
  if (!bad_setters.empty()) {
    SortUnique(bad_values);
    return Forbid("seccompProfile", Join(bad_setters, " and ") +
                                        " must not set securityContext.seccompProfile.type to " +
                                        JoinQuote(bad_values));
  }
  return Forbid("seccompProfile",
                "pod or " + Containers(implicitly_bad) +
                    " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                    "\"Localhost\"");
}

CheckResult seccompProfileRestricted_1_25(const Pod& pod) {
  if (pod.IsWindows()) return Allow();
  return seccompProfileRestricted_1_19(pod);
}

}  // namespace

Check SeccompProfileRestrictedCheck() {
  return Check{"seccompProfile_restricted",
               Level::kRestricted,
               {{Version{19}, seccompProfileRestricted_1_19, {"seccompProfile_baseline"}},
                {Version{25}, seccompProfileRestricted_1_25, {"seccompProfile_baseline"}}}};
}

}  // namespace palisade::policy
