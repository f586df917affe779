// hostNamespaces (baseline): sharing the host namespaces must be disallowed.
//
// Restricted fields: spec.hostNetwork, spec.hostPID, spec.hostIPC
// Allowed values: unset, false
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

CheckResult hostNamespaces_1_0(const Pod& pod) {
  const bool network = pod.host_network.value_or(false);
  const bool pid = pod.host_pid.value_or(false);
  const bool ipc = pod.host_ipc.value_or(false);
  if (!network && !pid && !ipc) return Allow();
  std::vector<std::string_view> host_namespaces;
  if (network) host_namespaces.push_back("hostNetwork=true");
  if (pid) host_namespaces.push_back("hostPID=true");
  if (ipc) host_namespaces.push_back("hostIPC=true");
  return Forbid("host namespaces", Join(host_namespaces, ", "));
}

}  // namespace

Check HostNamespacesCheck() {
  return Check{"hostNamespaces", Level::kBaseline, {{Version{0}, hostNamespaces_1_0, {}}}};
}

}  // namespace palisade::policy
