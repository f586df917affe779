// windowsHostProcess (baseline): Windows HostProcess containers must not be allowed.
//
// Restricted fields:
//   spec.securityContext.windowsOptions.hostProcess
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.windowsOptions.hostProcess
// Allowed values: unset, false
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

CheckResult windowsHostProcess_1_0(const Pod& pod) {
  const bool pod_bad = pod.security_context.windows_host_process.value_or(false);
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    if (c.security_context.windows_host_process.value_or(false)) bad_containers.push_back(c.name);
  }
  if (!pod_bad && bad_containers.empty()) return Allow();
  std::vector<std::string> bad_setters;
  if (pod_bad) bad_setters.emplace_back("pod");
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  return Forbid("hostProcess", Join(bad_setters, " and ") +
                                   " must not set securityContext.windowsOptions.hostProcess=true");
}

}  // namespace

Check WindowsHostProcessCheck() {
  return Check{"windowsHostProcess", Level::kBaseline, {{Version{0}, windowsHostProcess_1_0, {}}}};
}

}  // namespace palisade::policy
