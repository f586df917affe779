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

Findings procMount_1_35(const Pod& pod) {
  if (InUserNamespace(pod)) return {};
  return ProcMountStrict(pod);
}

}  // namespace

// procMount v1.0, which procMount_restricted also runs from v1.35.
Findings ProcMountStrict(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    const auto& proc_mount = c.security_context.proc_mount;
    if (proc_mount && *proc_mount != "Default") {
      findings.push_back(
          {std::string(c.name), "securityContext.procMount", {std::string(*proc_mount)}});
    }
  }
  return findings;
}

RenderedFailure RenderProcMount(const Findings& findings) {
  std::vector<std::string_view> bad_types = AllValues(findings);
  SortUnique(bad_types);
  return {"procMount", Containers(ContainerNames(findings)) +
                           " must not set securityContext.procMount to " + JoinQuote(bad_types)};
}

Check ProcMountCheck() {
  return Check{"procMount",
               Level::kBaseline,
               {{Version{0}, ProcMountStrict, {}}, {Version{35}, procMount_1_35, {}}},
               RenderProcMount};
}

}  // namespace palisade::policy
