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

constexpr std::string_view kPodField = "spec.securityContext.seccompProfile.type";
constexpr std::string_view kContainerField = "securityContext.seccompProfile.type";

// A forbidden type set by the pod or a container (valued by the type), and containers that set
// none where the pod sets no allowed one (no value). PSA words only the forbidden types when
// there are any; the unset ones are kept so that waiving the former does not hide the latter.
Findings seccompProfileRestricted_1_19(const Pod& pod) {
  Findings findings;
  const auto& pod_profile = pod.security_context.seccomp_profile;
  const bool pod_bad = !SeccompTypeAllowed(pod_profile);
  const bool pod_set = pod_profile && !pod_bad;
  if (pod_bad)
    AddFinding(findings, pod, {"", kPodField, {std::string(OrEmpty(pod_profile->type))}});
  for (const Container& c : pod.containers) {
    const auto& profile = c.security_context.seccomp_profile;
    if (profile) {
      if (!SeccompTypeAllowed(profile)) {
        AddFinding(findings, pod,
                   {std::string(c.name), kContainerField, {std::string(OrEmpty(profile->type))}});
      }
    } else if (!pod_set) {
      AddFinding(findings, pod, {std::string(c.name), kContainerField, {}});
    }
  }
  return findings;
}

Findings seccompProfileRestricted_1_25(const Pod& pod) {
  if (pod.IsWindows()) return {};
  return seccompProfileRestricted_1_19(pod);
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string> bad_setters;
  std::vector<std::string_view> bad_values;
  std::vector<std::string_view> explicitly_bad;
  std::vector<std::string_view> implicitly_bad;
  implicitly_bad.reserve(findings.size());
  for (const Finding& finding : findings) {
    if (finding.field == kPodField) {
      bad_setters.emplace_back("pod");
      bad_values.push_back(finding.values.front());
    } else if (!finding.values.empty()) {
      explicitly_bad.push_back(finding.container);
      bad_values.push_back(finding.values.front());
    } else {
      implicitly_bad.push_back(finding.container);
    }
  }
  if (!explicitly_bad.empty()) bad_setters.push_back(Containers(explicitly_bad));
  if (!bad_setters.empty()) {
    SortUnique(bad_values);
    return {"seccompProfile", Join(bad_setters, " and ") +
                                  " must not set securityContext.seccompProfile.type to " +
                                  JoinQuote(bad_values)};
  }
  return {"seccompProfile",
          Containers("pod or ", implicitly_bad,
                     " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                     "\"Localhost\"")};
}

}  // namespace

Check SeccompProfileRestrictedCheck() {
  return Check{"seccompProfile_restricted",
               Level::kRestricted,
               {{Version{19}, seccompProfileRestricted_1_19, {"seccompProfile_baseline"}},
                {Version{25}, seccompProfileRestricted_1_25, {"seccompProfile_baseline"}}},
               Render};
}

}  // namespace palisade::policy
