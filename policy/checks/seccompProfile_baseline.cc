// seccompProfile_baseline (baseline): a seccomp profile, when set, must be the runtime default or
// a localhost profile.
//
// v1.0 - v1.18, restricted fields:
//   metadata.annotations['seccomp.security.alpha.kubernetes.io/pod']
//   metadata.annotations['container.seccomp.security.alpha.kubernetes.io/<container name>']
//   allowed: "runtime/default", "docker/default", "localhost/*", unset
// v1.19+, restricted fields:
//   spec.securityContext.seccompProfile.type
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seccompProfile.type
//   allowed: "RuntimeDefault", "Localhost", an unset seccompProfile
// At restricted, seccompProfile_restricted replaces it from v1.19.

#include "policy/check.h"

namespace palisade::policy {

using namespace check_text;

namespace {

constexpr std::string_view kPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod";
constexpr std::string_view kContainerAnnotationPrefix =
    "container.seccomp.security.alpha.kubernetes.io/";
constexpr std::string_view kAnnotationField = "metadata.annotations[";
constexpr std::string_view kPodField = "spec.securityContext.seccompProfile.type";

bool AnnotationValueAllowed(std::string_view value) {
  return value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/");
}

FieldText AnnotationField(std::string_view key) {
  return FieldText::Joined({kAnnotationField, key, "]"});
}

Findings seccompProfileBaseline_1_0(const Pod& pod) {
  if (pod.annotations.empty()) return {};
  Findings findings;
  if (auto value = LastAnnotation(pod, kPodAnnotation); value && !AnnotationValueAllowed(*value)) {
    findings.push_back({"", AnnotationField(kPodAnnotation), {std::string(*value)}});
  }
  bool any_container_annotation = false;
  for (const auto& annotation : pod.annotations) {
    if (annotation.first.starts_with(kContainerAnnotationPrefix)) any_container_annotation = true;
  }
  if (any_container_annotation) {
    for (const Container& c : pod.containers) {
      const std::string key = std::string(kContainerAnnotationPrefix) + std::string(c.name);
      if (auto value = LastAnnotation(pod, key); value && !AnnotationValueAllowed(*value)) {
        findings.push_back({std::string(c.name), AnnotationField(key), {std::string(*value)}});
      }
    }
  }
  return findings;
}

Findings seccompProfileBaseline_1_19(const Pod& pod) {
  Findings findings;
  if (!SeccompTypeAllowed(pod.security_context.seccomp_profile)) {
    findings.push_back(
        {"", kPodField, {std::string(OrEmpty(pod.security_context.seccomp_profile->type))}});
  }
  for (const Container& c : pod.containers) {
    if (!SeccompTypeAllowed(c.security_context.seccomp_profile)) {
      findings.push_back({std::string(c.name),
                          "securityContext.seccompProfile.type",
                          {std::string(OrEmpty(c.security_context.seccomp_profile->type))}});
    }
  }
  return findings;
}

// v1.0 finds annotations, v1.19 fields: each worded as PSA words it.
RenderedFailure Render(const Findings& findings) {
  if (findings.front().field.starts_with(kAnnotationField)) {
    std::vector<std::string> forbidden;
    for (const Finding& finding : findings) {
      const std::string_view key =
          std::string_view(finding.field)
              .substr(kAnnotationField.size(), finding.field.size() - kAnnotationField.size() - 1);
      forbidden.push_back(std::string(key) + "=" + GoQuote(finding.values.front()));
    }
    SortUnique(forbidden);
    return {"seccompProfile",
            "forbidden " + std::string(Pluralize("annotation", "annotations", forbidden.size())) +
                " " + Join(forbidden, ", ")};
  }
  const std::string setters = Setters(findings, kPodField);
  std::vector<std::string_view> bad_values = AllValues(findings);
  SortUnique(bad_values);
  return {"seccompProfile", setters + " must not set securityContext.seccompProfile.type to " +
                                JoinQuote(bad_values)};
}

}  // namespace

// An unset seccompProfile is allowed here; a set one needs an allowed type ("" when missing).
bool SeccompTypeAllowed(const std::optional<ProfileRef>& profile) {
  if (!profile) return true;
  const std::string_view type = OrEmpty(profile->type);
  return type == "RuntimeDefault" || type == "Localhost";
}

Check SeccompProfileBaselineCheck() {
  return Check{"seccompProfile_baseline",
               Level::kBaseline,
               {{Version{0}, seccompProfileBaseline_1_0, {}},
                {Version{19}, seccompProfileBaseline_1_19, {}}},
               Render};
}

}  // namespace palisade::policy
