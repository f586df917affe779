// hostNamespaces (baseline): sharing the host namespaces must be disallowed.
//
// Restricted fields: spec.hostNetwork, spec.hostPID, spec.hostIPC
// Allowed values: unset, false
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

// One pod-level finding per host namespace, valued by its name ("hostNetwork").
Findings hostNamespaces_1_0(const Pod& pod) {
  Findings findings;
  if (pod.host_network.value_or(false))
    findings.push_back({"", "spec.hostNetwork", {"hostNetwork"}});
  if (pod.host_pid.value_or(false)) findings.push_back({"", "spec.hostPID", {"hostPID"}});
  if (pod.host_ipc.value_or(false)) findings.push_back({"", "spec.hostIPC", {"hostIPC"}});
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string> host_namespaces;
  for (std::string_view value : AllValues(findings))
    host_namespaces.push_back(std::string(value) + "=true");
  return {"host namespaces", Join(host_namespaces, ", ")};
}

}  // namespace

Check HostNamespacesCheck() {
  return Check{"hostNamespaces", Level::kBaseline, {{Version{0}, hostNamespaces_1_0, {}}}, Render};
}

}  // namespace palisade::policy
