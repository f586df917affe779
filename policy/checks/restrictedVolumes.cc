// restrictedVolumes (restricted): besides hostPath, inline volume sources are limited to a safe
// set.
//
// Restricted fields: spec.volumes[*] sources other than the allowed ones: hostPath,
//   gcePersistentDisk, awsElasticBlockStore, gitRepo, nfs, iscsi, glusterfs, rbd, flexVolume,
//   cinder, cephfs, flocker, fc, azureFile, vsphereVolume, quobyte, azureDisk,
//   photonPersistentDisk, portworxVolume, scaleIO, storageos; a volume with no known source is
//   "unknown".
// Allowed: a volume with one of configMap, csi, downwardAPI, emptyDir, ephemeral, image,
//   persistentVolumeClaim, projected, secret.
// v1.0: one implementation (PSA patched `image` into it); replaces hostPathVolumes.

#include <array>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::array<std::string_view, 9> kAllowedSources{
    "configMap", "csi",   "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
    "projected", "secret"};

// In the order PSA's switch tests them: the first present one names the volume's type.
constexpr std::array<std::string_view, 21> kRestrictedSources{"hostPath",
                                                              "gcePersistentDisk",
                                                              "awsElasticBlockStore",
                                                              "gitRepo",
                                                              "nfs",
                                                              "iscsi",
                                                              "glusterfs",
                                                              "rbd",
                                                              "flexVolume",
                                                              "cinder",
                                                              "cephfs",
                                                              "flocker",
                                                              "fc",
                                                              "azureFile",
                                                              "vsphereVolume",
                                                              "quobyte",
                                                              "azureDisk",
                                                              "photonPersistentDisk",
                                                              "portworxVolume",
                                                              "scaleIO",
                                                              "storageos"};

template <std::size_t N>
bool Contains(const std::array<std::string_view, N>& set, std::string_view value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

bool Allowed(const Volume& volume) {
  for (std::string_view source : volume.sources) {
    if (Contains(kAllowedSources, source)) return true;
  }
  return false;
}

std::string_view RestrictedType(const Volume& volume) {
  for (std::string_view type : kRestrictedSources) {
    if (std::find(volume.sources.begin(), volume.sources.end(), type) != volume.sources.end()) {
      return type;
    }
  }
  return "unknown";
}

Findings restrictedVolumes_1_0(const Pod& pod) {
  Findings findings;
  for (const Volume& volume : pod.volumes) {
    if (Allowed(volume)) continue;
    findings.push_back({"", VolumeField(volume.name), {std::string(RestrictedType(volume))}});
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string_view> bad_volumes;
  for (const Finding& finding : findings) bad_volumes.push_back(VolumeName(finding.field));
  std::vector<std::string_view> bad_types = AllValues(findings);
  SortUnique(bad_types);
  std::string detail(Pluralize("volume", "volumes", bad_volumes.size()));
  detail += ' ';
  detail += JoinQuote(bad_volumes);
  detail += ' ';
  detail += Pluralize("uses", "use", bad_volumes.size());
  detail += ' ';
  detail += Pluralize("restricted volume type", "restricted volume types", bad_types.size());
  detail += ' ';
  detail += JoinQuote(bad_types);
  return {"restricted volume types", std::move(detail)};
}

}  // namespace

Check RestrictedVolumesCheck() {
  return Check{"restrictedVolumes",
               Level::kRestricted,
               {{Version{0}, restrictedVolumes_1_0, {"hostPathVolumes"}}},
               Render};
}

}  // namespace palisade::policy
