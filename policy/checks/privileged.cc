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

CheckResult privileged_1_0(const Pod& pod) {
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    if (c.security_context.privileged.value_or(false)) bad_containers.push_back(c.name);
  }
  if (bad_containers.empty()) return Allow();
  return Forbid("privileged",
                Containers(bad_containers) + " must not set securityContext.privileged=true");
}

}  // namespace

Check PrivilegedCheck() {
  return Check{"privileged", Level::kBaseline, {{Version{0}, privileged_1_0, {}}}};
}

}  // namespace palisade::policy
