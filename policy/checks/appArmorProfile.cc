// appArmorProfile (baseline): the default AppArmor profile must not be overridden or disabled,
// except for an allowed set of profiles.
//
// Restricted fields:
//   metadata.annotations['container.apparmor.security.beta.kubernetes.io/*']
//     allowed: "runtime/default", "localhost/*", "" or unset
//   spec.securityContext.appArmorProfile.type
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.appArmorProfile.type
//     allowed: "RuntimeDefault", "Localhost" or an unset appArmorProfile
// v1.0: one implementation for every version (PSA checks the fields at v1.0 too).

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::string_view kAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/";

bool AnnotationValueAllowed(std::string_view value) {
  return value.empty() || value == "runtime/default" || value.starts_with("localhost/");
}

// An appArmorProfile object that is set must name an allowed type; a missing type reads as "".
bool ProfileAllowed(const std::optional<ProfileRef>& profile) {
  if (!profile) return true;
  const std::string_view type = OrEmpty(profile->type);
  return type == "RuntimeDefault" || type == "Localhost";
}

CheckResult appArmorProfile_1_0(const Pod& pod) {
  const bool pod_bad = !ProfileAllowed(pod.security_context.app_armor_profile);
  bool any_bad = pod_bad;
  for (const Container& c : pod.containers) {
    if (!ProfileAllowed(c.security_context.app_armor_profile)) any_bad = true;
  }
  for (std::size_t i = 0; i < pod.annotations.size() && !any_bad; ++i) {
    const auto& [key, value] = pod.annotations[i];
    if (key.starts_with(kAnnotationPrefix) && !AnnotationValueAllowed(value)) any_bad = true;
  }
  if (!any_bad) return Allow();

  std::vector<std::string> bad_setters;
  std::vector<std::string_view> bad_types;
  if (pod_bad) {
    bad_setters.emplace_back("pod");
    bad_types.push_back(OrEmpty(pod.security_context.app_armor_profile->type));
  }
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    if (!ProfileAllowed(c.security_context.app_armor_profile)) {
      bad_containers.push_back(c.name);
      bad_types.push_back(OrEmpty(c.security_context.app_armor_profile->type));
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  SortUnique(bad_types);
  std::vector<std::string> bad_values(bad_types.begin(), bad_types.end());

  std::vector<std::string> bad_annotations;
  for (std::size_t i = 0; i < pod.annotations.size(); ++i) {
    const auto& [key, value] = pod.annotations[i];
    if (key.starts_with(kAnnotationPrefix) && !AnnotationValueAllowed(value)) {
      bad_annotations.push_back(std::string(key) + "=" + GoQuote(value));
    }
  }
  if (!bad_annotations.empty()) {
    std::sort(bad_annotations.begin(), bad_annotations.end());
    bad_setters.emplace_back(Pluralize("annotation", "annotations", bad_annotations.size()));
    bad_values.insert(bad_values.end(), bad_annotations.begin(), bad_annotations.end());
  }
  return Forbid(
      Pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", bad_values.size()),
      Join(bad_setters, " and ") + " must not set AppArmor profile type to " +
          JoinQuote(bad_values));
}

}  // namespace

Check AppArmorProfileCheck() {
  return Check{"appArmorProfile", Level::kBaseline, {{Version{0}, appArmorProfile_1_0, {}}}};
}

}  // namespace palisade::policy
