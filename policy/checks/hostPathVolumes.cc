// hostPathVolumes (baseline): hostPath volumes must be forbidden.
//
// Restricted fields: spec.volumes[*].hostPath
// Allowed values: unset, null
// v1.0: one implementation. At restricted, restrictedVolumes replaces it.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

bool HasHostPath(const Volume& volume) {
  for (std::string_view source : volume.sources) {
    if (source == "hostPath") return true;
  }
  return false;
}

CheckResult hostPathVolumes_1_0(const Pod& pod) {
  std::vector<std::string_view> host_volumes;
  for (const Volume& volume : pod.volumes) {
    if (HasHostPath(volume)) host_volumes.push_back(volume.name);
  }
  if (host_volumes.empty()) return Allow();
  std::string detail(Pluralize("volume", "volumes", host_volumes.size()));
  detail += ' ';
  detail += JoinQuote(host_volumes);
  return Forbid("hostPath volumes", std::move(detail));
}

}  // namespace

Check HostPathVolumesCheck() {
  return Check{"hostPathVolumes", Level::kBaseline, {{Version{0}, hostPathVolumes_1_0, {}}}};
}

}  // namespace palisade::policy
