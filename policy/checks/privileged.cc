// privileged (baseline): privileged pods disable most security mechanisms and must be disallowed.
//
// Restricted fields:
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.privileged
// Allowed values: unset, false
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

Findings privileged_1_0(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    if (c.security_context.privileged.value_or(false)) {
      findings.push_back({std::string(c.name), "securityContext.privileged", {"true"}});
    }
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  return {"privileged", Containers({}, ContainerNames(findings),
                                   " must not set securityContext.privileged=true")};
}

}  // namespace

Check PrivilegedCheck() {
  return Check{"privileged", Level::kBaseline, {{Version{0}, privileged_1_0, {}}}, Render};
}

}  // namespace palisade::policy
