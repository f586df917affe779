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
constexpr std::string_view kPodField = "spec.securityContext.appArmorProfile.type";
constexpr std::string_view kContainerField = "securityContext.appArmorProfile.type";
constexpr std::string_view kAnnotationField = "metadata.annotations[";

bool AnnotationValueAllowed(std::string_view value) {
  return value.empty() || value == "runtime/default" || value.starts_with("localhost/");
}

// An appArmorProfile object that is set must name an allowed type; a missing type reads as "".
bool ProfileAllowed(const std::optional<ProfileRef>& profile) {
  if (!profile) return true;
  const std::string_view type = OrEmpty(profile->type);
  return type == "RuntimeDefault" || type == "Localhost";
}

Findings appArmorProfile_1_0(const Pod& pod) {
  Findings findings;
  if (!ProfileAllowed(pod.security_context.app_armor_profile)) {
    findings.push_back(
        {"", kPodField, {std::string(OrEmpty(pod.security_context.app_armor_profile->type))}});
  }
  for (const Container& c : pod.containers) {
    if (!ProfileAllowed(c.security_context.app_armor_profile)) {
      findings.push_back({std::string(c.name),
                          kContainerField,
                          {std::string(OrEmpty(c.security_context.app_armor_profile->type))}});
    }
  }
  for (const auto& [key, value] : pod.annotations) {
    if (key.starts_with(kAnnotationPrefix) && !AnnotationValueAllowed(value)) {
      findings.push_back({std::string(key.substr(kAnnotationPrefix.size())),
                          FieldText::Joined({kAnnotationField, key, "]"}),
                          {std::string(value)}});
    }
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string> bad_setters;
  std::vector<std::string_view> bad_types;
  std::vector<std::string_view> bad_containers;
  std::vector<std::string> bad_annotations;
  for (const Finding& finding : findings) {
    if (finding.field == kPodField) {
      bad_setters.emplace_back("pod");
      bad_types.push_back(finding.values.front());
    } else if (finding.field == kContainerField) {
      bad_containers.push_back(finding.container);
      bad_types.push_back(finding.values.front());
    } else {
      const std::string_view key =
          std::string_view(finding.field)
              .substr(kAnnotationField.size(), finding.field.size() - kAnnotationField.size() - 1);
      bad_annotations.push_back(std::string(key) + "=" + GoQuote(finding.values.front()));
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  SortUnique(bad_types);
  std::vector<std::string> bad_values(bad_types.begin(), bad_types.end());
  if (!bad_annotations.empty()) {
    std::sort(bad_annotations.begin(), bad_annotations.end());
    bad_setters.emplace_back(Pluralize("annotation", "annotations", bad_annotations.size()));
    bad_values.insert(bad_values.end(), bad_annotations.begin(), bad_annotations.end());
  }
  return {Pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", bad_values.size()),
          Join(bad_setters, " and ") + " must not set AppArmor profile type to " +
              JoinQuote(bad_values)};
}

}  // namespace

Check AppArmorProfileCheck() {
  return Check{
      "appArmorProfile", Level::kBaseline, {{Version{0}, appArmorProfile_1_0, {}}}, Render};
}

}  // namespace palisade::policy
