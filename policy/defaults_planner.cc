#include "policy/defaults_planner.h"

#include <algorithm>
#include <array>
#include <bit>

namespace palisade::policy {
namespace {

constexpr std::string_view kSeccompPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod";
constexpr std::string_view kSeccompContainerAnnotationPrefix =
    "container.seccomp.security.alpha.kubernetes.io/";

bool Contains(const std::optional<std::vector<std::string_view>>& list, std::string_view item) {
  return list && std::find(list->begin(), list->end(), item) != list->end();
}

// Whether the API server accepts a seccompProfile field next to a legacy seccomp annotation of
// `annotation` (validateSeccompAnnotationsAndFieldsMatch): they must name the same profile.
bool SeccompAnnotationAgrees(std::string_view annotation, const Profile& profile) {
  if (profile.type == "Unconfined") return annotation == "unconfined";
  if (profile.type == "RuntimeDefault") {
    return annotation == "runtime/default" || annotation == "docker/default";
  }
  if (profile.type == "Localhost") {
    return annotation.starts_with("localhost/") &&
           annotation.substr(10) == profile.localhost_profile;
  }
  return false;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::string AppArmorAnnotationValue(const Profile& profile) {
  if (profile.type == "Localhost") return "localhost/" + profile.localhost_profile;
  if (profile.type == "Unconfined") return "unconfined";
  return "runtime/default";
}

// Appends the comma-separated items of `text` (empty ones dropped) to `out`.
void SplitComma(std::string_view text, std::vector<std::string_view>& out) {
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
}

// Appends the default capabilities a container lacks, each once, in the policy's order, to `out`;
// returns where they end.
template <typename Skip>
std::uint32_t MissingCapabilities(const Shared<std::vector<std::string>>& defaults, Skip skip,
                                  std::vector<std::string_view>& out) {
  const auto begin = static_cast<std::ptrdiff_t>(out.size());
  if (defaults) {
    for (const std::string& cap : *defaults) {
      if (skip(cap) || std::find(out.begin() + begin, out.end(), cap) != out.end()) continue;
      out.push_back(cap);
    }
  }
  return static_cast<std::uint32_t>(out.size());
}

enum Field : unsigned {  // in alphabetical order of their names
  kAllowPrivilegeEscalation,
  kAppArmorProfile,
  kCapabilitiesAdd,
  kCapabilitiesDrop,
  kRunAsNonRoot,
  kRuntimeClassName,
  kSeccompProfile,
  kFieldCount,
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities.add",
    "capabilities.drop",        "runAsNonRoot",    "runtimeClassName",
    "seccompProfile",
};

ProfileRef ViewOf(const Profile& profile) {
  ProfileRef ref;
  ref.type = profile.type;
  if (profile.type == "Localhost") ref.localhost_profile = profile.localhost_profile;
  return ref;
}

}  // namespace

DefaultsPlan PlanDefaults(const Pod& pod, const EffectivePolicy& policy,
                          const MutationOptions& options) {
  DefaultsPlan plan;
  if (!policy.HasDefaults()) return plan;
  const PodSecurityContext& pod_sc = pod.security_context;
  // A hostProcess container exists only on Windows, whether or not the pod says spec.os.
  bool windows = pod.IsWindows() || pod_sc.windows_host_process.value_or(false);
  for (const Container& container : pod.containers) {
    windows = windows || container.security_context.windows_host_process.value_or(false);
  }
  const bool field_apparmor = options.kubernetes_minor >= 30;
  const bool pod_patchable = !options.ephemeral_update;

  std::vector<std::string_view> old_ephemeral_names = options.old_ephemeral_names;
  std::sort(old_ephemeral_names.begin(), old_ephemeral_names.end());
  // Per container: not exempt and changeable by this request; then scratch and placements.
  struct Entry {
    bool patchable = false;
    bool needs = false;  // lacks the field being placed
    bool app_armor_profile = false;
    bool run_as_non_root = false;
    bool seccomp_profile = false;
  };
  std::vector<Entry> entries(pod.containers.size());
  for (std::size_t i = 0; i < pod.containers.size(); ++i) {
    const Container& container = pod.containers[i];
    const bool ephemeral = container.kind == ContainerKind::kEphemeral;
    entries[i].patchable =
        !policy.ExemptsImage(container.image.value_or("")) &&
        (!options.ephemeral_update ||
         (ephemeral && !std::binary_search(old_ephemeral_names.begin(), old_ephemeral_names.end(),
                                           container.name)));
  }

  std::string key;  // scratch for per-container annotation keys
  auto container_annotation = [&](std::string_view prefix, std::string_view name) {
    if (!pod.annotations_present) return std::optional<std::string_view>();
    key.assign(prefix);
    key += name;
    return pod.Annotation(key);
  };
  // A legacy seccomp annotation counts as the field it stands for: the API server refuses a pod
  // whose annotation and field name different profiles, so the field is added only where the
  // annotation already agrees with the default.
  auto seccomp_annotation_differs = [&](std::optional<std::string_view> annotation) {
    return annotation && policy.default_seccomp_profile &&
           !SeccompAnnotationAgrees(*annotation, *policy.default_seccomp_profile);
  };
  auto container_has = [&](const Container& c, Field field) {
    const ContainerSecurityContext& sc = c.security_context;
    switch (field) {
      case kAppArmorProfile:
        return sc.app_armor_profile.has_value() ||
               container_annotation(kAppArmorAnnotationPrefix, c.name).has_value();
      case kSeccompProfile:
        return sc.seccomp_profile.has_value() || seccomp_annotation_differs(container_annotation(
                                                     kSeccompContainerAnnotationPrefix, c.name));
      case kRunAsNonRoot:
        return sc.run_as_non_root.has_value();
      default:
        return false;
    }
  };
  auto pod_has = [&](Field field) {
    switch (field) {
      case kAppArmorProfile:
        return pod_sc.app_armor_profile.has_value();
      case kSeccompProfile:
        return pod_sc.seccomp_profile.has_value() ||
               seccomp_annotation_differs(pod.Annotation(kSeccompPodAnnotation));
      case kRunAsNonRoot:
        return pod_sc.run_as_non_root.has_value();
      default:
        return false;
    }
  };
  // runAsNonRoot=true on a container that runs as root (runAsUser 0, or Windows'
  // ContainerAdministrator) makes the kubelet refuse to start it: such containers do not get it.
  auto runs_as_root = [&](const Container& c) {
    const ContainerSecurityContext& sc = c.security_context;
    const std::optional<std::int64_t> user = sc.run_as_user ? sc.run_as_user : pod_sc.run_as_user;
    if (user == 0) return true;
    const std::optional<std::string_view> user_name =
        sc.windows_run_as_user_name ? sc.windows_run_as_user_name : pod_sc.windows_run_as_user_name;
    return user_name && EqualsIgnoringAsciiCase(*user_name, "ContainerAdministrator");
  };
  auto never = [](const Container&) { return false; };

  unsigned fields = 0;  // bits of Field
  auto add_field = [&](Field field) { fields |= 1U << field; };

  // runtimeClassName: pod level only, and not changeable after creation.
  if (pod_patchable && policy.default_runtime_class_name && !pod.runtime_class_name) {
    plan.runtime_class_name = &*policy.default_runtime_class_name;
    add_field(kRuntimeClassName);
  }

  // Fields that exist at pod level and per container (a container's value wins): set at pod level
  // unless that would reach a container we must not touch; then on each container that needs it.
  // `refuses`: containers the value must not reach (they keep the field unset).
  auto place = [&](Field field, bool Entry::*on_container, auto refuses) {
    if (pod_has(field)) return false;
    bool untouchable_needs = false;
    bool any_needing = false;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      Entry& entry = entries[i];
      entry.needs = false;
      if (container_has(pod.containers[i], field)) continue;
      if (entry.patchable && !refuses(pod.containers[i])) {
        entry.needs = true;
        any_needing = true;
      } else {
        untouchable_needs = true;
      }
    }
    if (!any_needing) return false;
    add_field(field);
    if (untouchable_needs || !pod_patchable) {
      for (Entry& entry : entries) {
        if (entry.needs) entry.*on_container = true;
      }
      return false;
    }
    return true;  // at pod level
  };
  if (!windows && field_apparmor && policy.default_app_armor_profile &&
      place(kAppArmorProfile, &Entry::app_armor_profile, never)) {
    plan.pod_app_armor_profile = &*policy.default_app_armor_profile;
  }
  if (policy.default_run_as_non_root) {
    const bool non_root = *policy.default_run_as_non_root;
    if (non_root ? place(kRunAsNonRoot, &Entry::run_as_non_root, runs_as_root)
                 : place(kRunAsNonRoot, &Entry::run_as_non_root, never)) {
      plan.pod_run_as_non_root = non_root;
    }
  }
  if (!windows && policy.default_seccomp_profile &&
      place(kSeccompProfile, &Entry::seccomp_profile, never)) {
    plan.pod_seccomp_profile = &*policy.default_seccomp_profile;
  }

  // Container-level fields.
  std::vector<std::string_view> apparmor_annotated;  // container names, for the beta annotation
  const bool annotation_apparmor =
      !windows && !field_apparmor && pod_patchable && policy.default_app_armor_profile.has_value();
  const bool pod_apparmor_field = pod_sc.app_armor_profile.has_value();
  ContainerDefaultsPlan d;
  plan.containers.reserve(pod.containers.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    if (!entry.patchable) continue;
    const Container& container = pod.containers[i];
    const ContainerSecurityContext& sc = container.security_context;
    d.container = i;
    if (entry.app_armor_profile) d.app_armor_profile = &*policy.default_app_armor_profile;
    if (entry.run_as_non_root) d.run_as_non_root = *policy.default_run_as_non_root;
    if (entry.seccomp_profile) d.seccomp_profile = &*policy.default_seccomp_profile;
    const auto capabilities_mark = static_cast<std::uint32_t>(plan.capabilities.size());
    d.add_begin = d.add_end = d.drop_begin = d.drop_end = capabilities_mark;
    if (!windows) {
      d.drop_end = MissingCapabilities(
          policy.default_capabilities_drop,
          [&](std::string_view cap) { return Contains(sc.capabilities_drop, cap); },
          plan.capabilities);
      d.add_begin = d.drop_end;
      d.add_end = MissingCapabilities(
          policy.default_capabilities_add,
          [&](std::string_view cap) {
            return Contains(sc.capabilities_add, cap) || Contains(sc.capabilities_drop, cap);
          },
          plan.capabilities);
      const std::span<const std::string_view> adding = plan.CapabilitiesAdd(d);
      if (policy.default_allow_privilege_escalation && !sc.allow_privilege_escalation) {
        auto sys_admin = [](std::string_view cap) {
          return cap == "SYS_ADMIN" || cap == "CAP_SYS_ADMIN";
        };
        const bool has_sys_admin = Contains(sc.capabilities_add, "SYS_ADMIN") ||
                                   Contains(sc.capabilities_add, "CAP_SYS_ADMIN") ||
                                   std::any_of(adding.begin(), adding.end(), sys_admin);
        // The API server rejects allowPrivilegeEscalation=false with privileged or CAP_SYS_ADMIN.
        const bool conflicts = !*policy.default_allow_privilege_escalation &&
                               (sc.privileged.value_or(false) || has_sys_admin);
        if (!conflicts) d.allow_privilege_escalation = *policy.default_allow_privilege_escalation;
      }
      if (annotation_apparmor && container.kind != ContainerKind::kEphemeral &&
          !pod_apparmor_field && !container_has(container, kAppArmorProfile)) {
        apparmor_annotated.push_back(container.name);
      }
    }
    const bool drop = d.drop_end > d.drop_begin;
    const bool add = d.add_end > d.add_begin;
    if (drop) add_field(kCapabilitiesDrop);
    if (add) add_field(kCapabilitiesAdd);
    if (d.allow_privilege_escalation) add_field(kAllowPrivilegeEscalation);
    const bool empty = !d.allow_privilege_escalation && d.app_armor_profile == nullptr && !add &&
                       !drop && !d.run_as_non_root && d.seccomp_profile == nullptr;
    if (!empty) plan.containers.push_back(d);
    d = ContainerDefaultsPlan{};
  }
  if (!apparmor_annotated.empty()) add_field(kAppArmorProfile);

  plan.fields.reserve(static_cast<std::size_t>(std::popcount(fields)));
  for (unsigned field = 0; field < kFieldCount; ++field) {
    if ((fields & (1U << field)) != 0) plan.fields.emplace_back(kFieldNames[field]);
  }
  if (fields == 0 || !pod_patchable) return plan;

  // Record what was filled in, merged with what an earlier invocation recorded.
  const std::string_view existing = pod.Annotation(kDefaultedAnnotation).value_or("");
  std::string joined;
  auto join = [&](const auto& items) {
    for (const auto& item : items) {
      if (!joined.empty()) joined += ',';
      joined += item;
    }
  };
  if (existing.empty()) {
    join(plan.fields);  // already sorted and unique
  } else {
    std::vector<std::string_view> recorded(plan.fields.begin(), plan.fields.end());
    SplitComma(existing, recorded);
    std::sort(recorded.begin(), recorded.end());
    recorded.erase(std::unique(recorded.begin(), recorded.end()), recorded.end());
    join(recorded);
  }

  // Sorted by key, as the annotations map: every AppArmor key sorts before "palisade.dev/...".
  std::sort(apparmor_annotated.begin(), apparmor_annotated.end());
  apparmor_annotated.erase(std::unique(apparmor_annotated.begin(), apparmor_annotated.end()),
                           apparmor_annotated.end());
  static_assert(kAppArmorAnnotationPrefix < kDefaultedAnnotation);
  plan.annotations.reserve(apparmor_annotated.size() + 1);
  if (!apparmor_annotated.empty()) {
    const std::string value = AppArmorAnnotationValue(*policy.default_app_armor_profile);
    for (std::string_view name : apparmor_annotated) {
      std::string annotation_key;
      annotation_key.reserve(kAppArmorAnnotationPrefix.size() + name.size());
      annotation_key += kAppArmorAnnotationPrefix;
      annotation_key += name;
      plan.annotations.push_back({std::move(annotation_key), value});
    }
  }
  if (joined != existing) {
    plan.annotations.push_back({std::string(kDefaultedAnnotation), std::move(joined)});
  }
  return plan;
}

void ApplyDefaultsPlan(const DefaultsPlan& plan, Pod& pod) {
  if (plan.runtime_class_name != nullptr) pod.runtime_class_name = *plan.runtime_class_name;
  if (plan.HasPodSecurityContext()) {
    PodSecurityContext& sc = pod.security_context;
    sc.present = true;
    if (plan.pod_app_armor_profile) sc.app_armor_profile = ViewOf(*plan.pod_app_armor_profile);
    if (plan.pod_run_as_non_root) sc.run_as_non_root = plan.pod_run_as_non_root;
    if (plan.pod_seccomp_profile) sc.seccomp_profile = ViewOf(*plan.pod_seccomp_profile);
  }
  for (const ContainerDefaultsPlan& d : plan.containers) {
    ContainerSecurityContext& sc = pod.containers[d.container].security_context;
    sc.present = true;
    if (d.allow_privilege_escalation) sc.allow_privilege_escalation = d.allow_privilege_escalation;
    if (d.app_armor_profile) sc.app_armor_profile = ViewOf(*d.app_armor_profile);
    auto append = [&](std::optional<std::vector<std::string_view>>& list,
                      std::span<const std::string_view> caps) {
      if (caps.empty()) return;
      sc.capabilities_present = true;
      if (!list) list.emplace();
      list->insert(list->end(), caps.begin(), caps.end());
    };
    append(sc.capabilities_add, plan.CapabilitiesAdd(d));
    append(sc.capabilities_drop, plan.CapabilitiesDrop(d));
    if (d.run_as_non_root) sc.run_as_non_root = d.run_as_non_root;
    if (d.seccomp_profile) sc.seccomp_profile = ViewOf(*d.seccomp_profile);
  }
  if (!plan.annotations.empty()) {
    pod.metadata_present = true;
    pod.annotations_present = true;
    for (const PlannedAnnotation& annotation : plan.annotations) {
      pod.AddAnnotation(annotation.key, annotation.value);
    }
  }
}

}  // namespace palisade::policy
