#pragma once

// The namespace defaults a pod (or a pod template) receives, planned once over the typed Pod view.
// Three users render the same plan: /mutate writes it as an RFC 6902 JSON Patch (mutator.h),
// workload judging and `check --mutate` apply it (to the Pod view, or to the JSON document).
//
// Only unset fields are filled, and never where the API server or the kubelet would refuse the
// result: no seccomp/AppArmor on Windows, no allowPrivilegeEscalation=false next to privileged or
// SYS_ADMIN, no runAsNonRoot=true on a container that runs as uid 0, a seccomp field only where a
// legacy annotation agrees, containers with exempt images untouched.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"
#include "policy/pod.h"

namespace palisade::policy {

inline constexpr std::string_view kDefaultedAnnotation = "palisade.dev/defaulted";
inline constexpr std::string_view kAppArmorAnnotationPrefix =
    "container.apparmor.security.beta.kubernetes.io/";

struct MutationOptions {
  int kubernetes_minor = 31;  // >= 30: appArmorProfile field; before: the beta annotation
  // A `pods/ephemeralcontainers` update: only ephemeral containers not in `old_ephemeral_names`
  // can change, so pod-level defaults go onto those containers and no annotation is written.
  bool ephemeral_update = false;
  std::vector<std::string_view> old_ephemeral_names;
};

// What one container receives. Profiles and capability names point into the EffectivePolicy.
struct ContainerDefaultsPlan {
  std::size_t container = 0;  // position in Pod::containers
  std::optional<bool> allow_privilege_escalation;
  const Profile* app_armor_profile = nullptr;
  // Capabilities to append, each once, in policy order: ranges of DefaultsPlan::capabilities
  // (one list for the whole pod, not two allocations per container).
  std::uint32_t add_begin = 0, add_end = 0;
  std::uint32_t drop_begin = 0, drop_end = 0;
  std::optional<bool> run_as_non_root;
  const Profile* seccomp_profile = nullptr;
};

struct PlannedAnnotation {
  std::string key;
  std::string value;
};

struct DefaultsPlan {
  const std::string* runtime_class_name = nullptr;  // spec.runtimeClassName
  // spec.securityContext members
  const Profile* pod_app_armor_profile = nullptr;
  std::optional<bool> pod_run_as_non_root;
  const Profile* pod_seccomp_profile = nullptr;
  std::vector<ContainerDefaultsPlan> containers;  // in Pod::containers order, none empty
  std::vector<std::string_view> capabilities;     // the containers' ranges
  // AppArmor beta annotations (sorted by key), then palisade.dev/defaulted when it changes.
  std::vector<PlannedAnnotation> annotations;
  std::vector<std::string> fields;  // sorted, unique: "capabilities.drop", "seccompProfile", ...

  std::span<const std::string_view> CapabilitiesAdd(const ContainerDefaultsPlan& d) const {
    return {capabilities.data() + d.add_begin, capabilities.data() + d.add_end};
  }
  std::span<const std::string_view> CapabilitiesDrop(const ContainerDefaultsPlan& d) const {
    return {capabilities.data() + d.drop_begin, capabilities.data() + d.drop_end};
  }
  bool HasPodSecurityContext() const {
    return pod_app_armor_profile != nullptr || pod_run_as_non_root || pod_seccomp_profile;
  }
  bool empty() const {
    return runtime_class_name == nullptr && !HasPodSecurityContext() && containers.empty() &&
           annotations.empty();
  }
};

// Plans the defaults of `policy` for `pod`, a Pod view that read without errors. The plan refers
// to `policy`, which must outlive it.
DefaultsPlan PlanDefaults(const Pod& pod, const EffectivePolicy& policy,
                          const MutationOptions& options);

// Applies `plan` to the view it was planned for, as the API server would store the patched pod.
// The view then refers to `plan` (annotation keys and values), which must outlive it.
void ApplyDefaultsPlan(const DefaultsPlan& plan, Pod& pod);

}  // namespace palisade::policy
