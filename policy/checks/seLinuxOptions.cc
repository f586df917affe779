// seLinuxOptions (baseline): the SELinux type is restricted, and a custom SELinux user or role is
// forbidden.
//
// Restricted fields:
//   spec.securityContext.seLinuxOptions.{type,user,role}
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seLinuxOptions.{type,user,role}
// Allowed values: type unset, "", container_t, container_init_t, container_kvm_t
//   (v1.31 adds container_engine_t); user and role unset or "".
// v1.0, v1.31.

#include <array>
#include <span>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::array<std::string_view, 4> kAllowedTypes_1_0{"", "container_t", "container_init_t",
                                                            "container_kvm_t"};
constexpr std::array<std::string_view, 5> kAllowedTypes_1_31{
    "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"};

constexpr std::string_view kPodPrefix = "spec.";
// Per setter, in this order.
constexpr std::array<std::string_view, 3> kAspects{"type", "user", "role"};

std::size_t Aspect(std::string_view field) {
  for (std::size_t i = 0; i < kAspects.size(); ++i) {
    if (field.ends_with(kAspects[i])) return i;
  }
  return 0;
}

void Find(const std::optional<SELinuxOptions>& options, std::span<const std::string_view> allowed,
          std::string_view container, std::string_view field_prefix, Findings& findings) {
  if (!options) return;
  constexpr std::string_view kOptions = "securityContext.seLinuxOptions.";
  const std::string_view type = OrEmpty(options->type);
  if (std::find(allowed.begin(), allowed.end(), type) == allowed.end()) {
    findings.push_back({std::string(container),
                        FieldText::Joined({field_prefix, kOptions, "type"}),
                        {std::string(type)}});
  }
  if (!OrEmpty(options->user).empty()) {
    findings.push_back({std::string(container),
                        FieldText::Joined({field_prefix, kOptions, "user"}),
                        {std::string(*options->user)}});
  }
  if (!OrEmpty(options->role).empty()) {
    findings.push_back({std::string(container),
                        FieldText::Joined({field_prefix, kOptions, "role"}),
                        {std::string(*options->role)}});
  }
}

Findings Evaluate(const Pod& pod, std::span<const std::string_view> allowed) {
  Findings findings;
  Find(pod.security_context.se_linux_options, allowed, "", kPodPrefix, findings);
  for (const Container& c : pod.containers) {
    Find(c.security_context.se_linux_options, allowed, c.name, "", findings);
  }
  return findings;
}

Findings seLinuxOptions_1_0(const Pod& pod) { return Evaluate(pod, kAllowedTypes_1_0); }
Findings seLinuxOptions_1_31(const Pod& pod) { return Evaluate(pod, kAllowedTypes_1_31); }

RenderedFailure Render(const Findings& findings) {
  bool pod_bad = false;
  bool set_user = false;
  bool set_role = false;
  std::vector<std::string_view> bad_types;
  std::vector<std::string_view> bad_containers;
  const Finding* previous = nullptr;  // the previous container finding
  for (const Finding& finding : findings) {
    const std::size_t aspect = Aspect(finding.field);
    if (aspect == 0) bad_types.push_back(finding.values.front());
    set_user |= aspect == 1;
    set_role |= aspect == 2;
    if (finding.field.starts_with(kPodPrefix)) {
      pod_bad = true;
      continue;
    }
    // A container's findings are adjacent and in aspect order: a new run is a new container.
    if (previous == nullptr || previous->container != finding.container ||
        Aspect(previous->field) >= aspect) {
      bad_containers.push_back(finding.container);
    }
    previous = &finding;
  }
  std::vector<std::string> bad_setters;
  if (pod_bad) bad_setters.emplace_back("pod");
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  std::vector<std::string> bad_data;
  if (!bad_types.empty()) {
    SortUnique(bad_types);
    bad_data.push_back(std::string(Pluralize("type", "types", bad_types.size())) + " " +
                       JoinQuote(bad_types));
  }
  if (set_user) bad_data.emplace_back("user may not be set");
  if (set_role) bad_data.emplace_back("role may not be set");
  return {"seLinuxOptions",
          Join(bad_setters, " and ") +
              " set forbidden securityContext.seLinuxOptions: " + Join(bad_data, "; ")};
}

}  // namespace

Check SELinuxOptionsCheck() {
  return Check{"seLinuxOptions",
               Level::kBaseline,
               {{Version{0}, seLinuxOptions_1_0, {}}, {Version{31}, seLinuxOptions_1_31, {}}},
               Render};
}

}  // namespace palisade::policy
