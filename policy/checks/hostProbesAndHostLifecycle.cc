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

// One finding per handler that sets a host.
Findings hostProbesAndHostLifecycle_1_34(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    for (const HandlerHost& h : c.handler_hosts) {
      if (!h.host.empty()) {
        findings.push_back(
            {std::string(c.name), FieldText::Joined({h.field}), {std::string(h.host)}});
      }
    }
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  // PSA collects both into sets: names and hosts come out sorted and de-duplicated.
  std::vector<std::string_view> bad_containers = ContainerNames(findings);
  std::vector<std::string_view> hosts = AllValues(findings);
  SortUnique(bad_containers);
  SortUnique(hosts);
  return {"probe or lifecycle host",
          Containers(bad_containers) + " " +
              std::string(Pluralize("uses", "use", bad_containers.size())) + " " +
              std::string(
                  Pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.size())) +
              " " + JoinQuote(hosts)};
}

}  // namespace

Check HostProbesAndHostLifecycleCheck() {
  return Check{"hostProbesAndHostLifecycle",
               Level::kBaseline,
               {{Version{34}, hostProbesAndHostLifecycle_1_34, {}}},
               Render};
}

}  // namespace palisade::policy
