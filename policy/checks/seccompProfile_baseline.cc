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

bool AnnotationValueAllowed(std::string_view value) {
  return value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/");
}

std::string ContainerAnnotation(std::string_view name) {
  std::string key(kContainerAnnotationPrefix);
  key += name;
  return key;
}

CheckResult seccompProfileBaseline_1_0(const Pod& pod) {
  if (pod.annotations.empty()) return Allow();
  std::vector<std::string> forbidden;
  if (auto value = LastAnnotation(pod, kPodAnnotation); value && !AnnotationValueAllowed(*value)) {
    forbidden.push_back(std::string(kPodAnnotation) + "=" + GoQuote(*value));
  }
  bool any_container_annotation = false;
  for (const auto& annotation : pod.annotations) {
    if (annotation.first.starts_with(kContainerAnnotationPrefix)) any_container_annotation = true;
  }
  if (any_container_annotation) {
    for (const Container& c : pod.containers) {
      const std::string key = ContainerAnnotation(c.name);
      if (auto value = LastAnnotation(pod, key); value && !AnnotationValueAllowed(*value)) {
        forbidden.push_back(key + "=" + GoQuote(*value));
      }
    }
  }
  if (forbidden.empty()) return Allow();
  SortUnique(forbidden);
  return Forbid("seccompProfile",
                "forbidden " +
                    std::string(Pluralize("annotation", "annotations", forbidden.size())) + " " +
                    Join(forbidden, ", "));
}

CheckResult seccompProfileBaseline_1_19(const Pod& pod) {
  const bool pod_bad = !SeccompTypeAllowed(pod.security_context.seccomp_profile);
  bool any_bad = pod_bad;
  for (const Container& c : pod.containers) {
    if (!SeccompTypeAllowed(c.security_context.seccomp_profile)) any_bad = true;
  }
  if (!any_bad) return Allow();
  std::vector<std::string> bad_setters;
  std::vector<std::string_view> bad_values;
  if (pod_bad) {
    bad_setters.emplace_back("pod");
    bad_values.push_back(OrEmpty(pod.security_context.seccomp_profile->type));
  }
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    if (!SeccompTypeAllowed(c.security_context.seccomp_profile)) {
      bad_containers.push_back(c.name);
      bad_values.push_back(OrEmpty(c.security_context.seccomp_profile->type));
    }
  }
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  SortUnique(bad_values);
  return Forbid("seccompProfile", Join(bad_setters, " and ") +
                                      " must not set securityContext.seccompProfile.type to " +
                                      JoinQuote(bad_values));
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
                {Version{19}, seccompProfileBaseline_1_19, {}}}};
}

}  // namespace palisade::policy
