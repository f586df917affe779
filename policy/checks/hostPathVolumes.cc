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

Findings hostPathVolumes_1_0(const Pod& pod) {
  Findings findings;
  for (const Volume& volume : pod.volumes) {
    if (HasHostPath(volume)) findings.push_back({"", VolumeField(volume.name), {"hostPath"}});
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string_view> host_volumes;
  for (const Finding& finding : findings) host_volumes.push_back(VolumeName(finding.field));
  std::string detail(Pluralize("volume", "volumes", host_volumes.size()));
  detail += ' ';
  detail += JoinQuote(host_volumes);
  return {"hostPath volumes", std::move(detail)};
}

}  // namespace

Check HostPathVolumesCheck() {
  return Check{
      "hostPathVolumes", Level::kBaseline, {{Version{0}, hostPathVolumes_1_0, {}}}, Render};
}

}  // namespace palisade::policy
