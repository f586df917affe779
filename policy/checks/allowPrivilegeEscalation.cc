// allowPrivilegeEscalation (restricted): privilege escalation (set-user-ID, set-group-ID file
// modes) must not be allowed.
//
// Restricted fields:
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.allowPrivilegeEscalation
// Allowed values: false (explicitly set).
// v1.8:  the field exists from Kubernetes 1.8.
// v1.25: Windows pods (spec.os.name: windows) are exempt: the API rejects the field for them.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::string_view kField = "securityContext.allowPrivilegeEscalation";

Findings allowPrivilegeEscalation_1_8(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    const auto& setting = c.security_context.allow_privilege_escalation;
    if (!setting) AddFinding(findings, pod, {std::string(c.name), kField, {}});
    if (setting && *setting) AddFinding(findings, pod, {std::string(c.name), kField, {"true"}});
  }
  return findings;
}

Findings allowPrivilegeEscalation_1_25(const Pod& pod) {
  if (pod.IsWindows()) return {};
  return allowPrivilegeEscalation_1_8(pod);
}

RenderedFailure Render(const Findings& findings) {
  return {"allowPrivilegeEscalation != false",
          Containers({}, ContainerNames(findings),
                     " must set securityContext.allowPrivilegeEscalation=false")};
}

}  // namespace

Check AllowPrivilegeEscalationCheck() {
  return Check{"allowPrivilegeEscalation",
               Level::kRestricted,
               {{Version{8}, allowPrivilegeEscalation_1_8, {}},
                {Version{25}, allowPrivilegeEscalation_1_25, {}}},
               Render};
}

}  // namespace palisade::policy
