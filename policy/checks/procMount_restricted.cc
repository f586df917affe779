// procMount_restricted (restricted): the default /proc masks are required, also in user
// namespaces.
//
// Restricted fields:
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.procMount
// Allowed values: unset, "Default", whatever spec.hostUsers says
// v1.35: replaces procMount at restricted (which relaxes for spec.hostUsers: false from v1.35).

#include "policy/check.h"

namespace palisade::policy {
namespace {

Findings procMountRestricted_1_35(const Pod& pod) { return ProcMountStrict(pod); }

}  // namespace

Check ProcMountRestrictedCheck() {
  return Check{"procMount_restricted",
               Level::kRestricted,
               {{Version{35}, procMountRestricted_1_35, {"procMount"}}},
               RenderProcMount};
}

}  // namespace palisade::policy
