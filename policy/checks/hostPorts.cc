// hostPorts (baseline): host ports must be forbidden.
//
// Restricted fields: spec.{initContainers,containers,ephemeralContainers}[*].ports[*].hostPort
// Allowed values: unset, 0
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

Findings hostPorts_1_0(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    std::vector<std::string> ports;  // as text: PSA sorts them as strings
    for (std::int64_t port : c.host_ports) {
      if (port != 0) ports.push_back(std::to_string(port));
    }
    if (!ports.empty()) {
      findings.push_back({std::string(c.name), "ports[*].hostPort", std::move(ports)});
    }
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  const std::vector<std::string_view> bad_containers = ContainerNames(findings);
  std::vector<std::string_view> forbidden_ports = AllValues(findings);
  SortUnique(forbidden_ports);
  return {"hostPort", Containers(bad_containers) + " " +
                          std::string(Pluralize("uses", "use", bad_containers.size())) + " " +
                          std::string(Pluralize("hostPort", "hostPorts", forbidden_ports.size())) +
                          " " + Join(forbidden_ports, ", ")};
}

}  // namespace

Check HostPortsCheck() {
  return Check{"hostPorts", Level::kBaseline, {{Version{0}, hostPorts_1_0, {}}}, Render};
}

}  // namespace palisade::policy
