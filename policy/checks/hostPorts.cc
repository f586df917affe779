// hostPorts (baseline): host ports must be forbidden.
//
// Restricted fields: spec.{initContainers,containers,ephemeralContainers}[*].ports[*].hostPort
// Allowed values: unset, 0
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

CheckResult hostPorts_1_0(const Pod& pod) {
  std::vector<std::string_view> bad_containers;
  std::vector<std::string> forbidden_ports;  // as text: PSA sorts them as strings
  for (const Container& c : pod.containers) {
    bool valid = true;
    for (std::int64_t port : c.host_ports) {
      if (port != 0) {
        valid = false;
        forbidden_ports.push_back(std::to_string(port));
      }
    }
    if (!valid) bad_containers.push_back(c.name);
  }
  if (bad_containers.empty()) return Allow();
  SortUnique(forbidden_ports);
  return Forbid("hostPort",
                Containers(bad_containers) + " " +
                    std::string(Pluralize("uses", "use", bad_containers.size())) + " " +
                    std::string(Pluralize("hostPort", "hostPorts", forbidden_ports.size())) + " " +
                    Join(forbidden_ports, ", "));
}

}  // namespace

Check HostPortsCheck() {
  return Check{"hostPorts", Level::kBaseline, {{Version{0}, hostPorts_1_0, {}}}};
}

}  // namespace palisade::policy
