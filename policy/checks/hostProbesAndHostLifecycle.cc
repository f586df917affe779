// hostProbesAndHostLifecycle (baseline): probes and lifecycle handlers must not name a host.
//
// Restricted fields, for initContainers, containers and ephemeralContainers:
//   {livenessProbe,readinessProbe,startupProbe}.{httpGet,tcpSocket}.host
//   lifecycle.{postStart,preStop}.{httpGet,tcpSocket}.host
// Allowed values: unset, ""
// v1.34: the check starts.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

bool HasHost(const Container& c) {
  for (const HandlerHost& h : c.handler_hosts) {
    if (!h.host.empty()) return true;
  }
  return false;
}

CheckResult hostProbesAndHostLifecycle_1_34(const Pod& pod) {
  bool any = false;
  for (const Container& c : pod.containers) any = any || HasHost(c);
  if (!any) return Allow();
  // PSA collects both into sets: names and hosts come out sorted and de-duplicated.
  std::vector<std::string_view> bad_containers;
  std::vector<std::string_view> hosts;
  for (const Container& c : pod.containers) {
    if (!HasHost(c)) continue;
    bad_containers.push_back(c.name);
    for (const HandlerHost& h : c.handler_hosts) {
      if (!h.host.empty()) hosts.push_back(h.host);
    }
  }
  SortUnique(bad_containers);
  SortUnique(hosts);
  return Forbid("probe or lifecycle host",
                Containers(bad_containers) + " " +
                    std::string(Pluralize("uses", "use", bad_containers.size())) + " " +
                    std::string(Pluralize("probe or lifecycle host", "probe or lifecycle hosts",
                                          hosts.size())) +
                    " " + JoinQuote(hosts));
}

}  // namespace

Check HostProbesAndHostLifecycleCheck() {
  return Check{"hostProbesAndHostLifecycle",
               Level::kBaseline,
               {{Version{34}, hostProbesAndHostLifecycle_1_34, {}}}};
}

}  // namespace palisade::policy
