// procMount (baseline): the default /proc masks reduce attack surface and are required, unless
// the pod runs in a user namespace.
//
// Restricted fields:
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.procMount
// Allowed values: unset, "Default"
// v1.0:  as above, whatever spec.hostUsers says.
// v1.35: any value when spec.hostUsers is false. At restricted, procMount_restricted replaces it.

#include "policy/check.h"

namespace palisade::policy {

using namespace check_text;

namespace {

CheckResult procMount_1_35(const Pod& pod) {
  if (InUserNamespace(pod)) return Allow();
  return ProcMountStrict(pod);
}

}  // namespace

// procMount v1.0, which procMount_restricted also runs from v1.35.
CheckResult ProcMountStrict(const Pod& pod) {
  std::vector<std::string_view> bad_containers;
  std::vector<std::string_view> bad_types;
  for (const Container& c : pod.containers) {
    const auto& proc_mount = c.security_context.proc_mount;
    if (proc_mount && *proc_mount != "Default") {
      bad_containers.push_back(c.name);
      bad_types.push_back(*proc_mount);
    }
  }
  if (bad_containers.empty()) return Allow();
  SortUnique(bad_types);
  return Forbid("procMount", Containers(bad_containers) +
                                 " must not set securityContext.procMount to " +
                                 JoinQuote(bad_types));
}

Check ProcMountCheck() {
  return Check{"procMount",
               Level::kBaseline,
               {{Version{0}, ProcMountStrict, {}}, {Version{35}, procMount_1_35, {}}}};
}

}  // namespace palisade::policy
