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

CheckResult allowPrivilegeEscalation_1_8(const Pod& pod) {
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    const auto& setting = c.security_context.allow_privilege_escalation;
    if (!setting || *setting) bad_containers.push_back(c.name);
  }
  if (bad_containers.empty()) return Allow();
  return Forbid(
      "allowPrivilegeEscalation != false",
      Containers(bad_containers) + " must set securityContext.allowPrivilegeEscalation=false");
}

CheckResult allowPrivilegeEscalation_1_25(const Pod& pod) {
  if (pod.IsWindows()) return Allow();
  return allowPrivilegeEscalation_1_8(pod);
}

}  // namespace

Check AllowPrivilegeEscalationCheck() {
  return Check{"allowPrivilegeEscalation",
               Level::kRestricted,
               {{Version{8}, allowPrivilegeEscalation_1_8, {}},
                {Version{25}, allowPrivilegeEscalation_1_25, {}}}};
}

}  // namespace palisade::policy
