#include "policy/rules.h"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <utility>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using check_text::GoQuote;
using check_text::JoinQuote;

// Groups containers that share the same complaint, in first-seen order:
// `containers "a", "b" must ...; container "c" must ...`. Indexed by complaint, so tens of
// thousands of containers with different complaints stay linear. Names are views into the pod.
class ContainerGroups {
 public:
  void Add(std::string_view container, std::string tail) {
    if (const auto it = index_.find(tail); it != index_.end()) {
      groups_[it->second].names.push_back(container);
      return;
    }
    groups_.push_back(Group{std::move(tail), {container}});
    index_.emplace(groups_.back().tail, groups_.size() - 1);  // deque: the tail stays put
  }
  bool empty() const { return groups_.empty(); }
  std::string Detail() const {
    std::size_t size = 0;
    for (const Group& group : groups_) {
      size += group.tail.size() + 16;
      for (std::string_view name : group.names) size += name.size() + 4;
    }
    std::string out;
    out.reserve(size);
    for (const Group& group : groups_) {
      if (!out.empty()) out += ", ";
      out += group.names.size() == 1 ? "container " : "containers ";
      out += JoinQuote(group.names);
      out += ' ';
      out += group.tail;
    }
    return out;
  }

 private:
  struct Group {
    std::string tail;
    std::vector<std::string_view> names;
  };
  std::deque<Group> groups_;
  std::unordered_map<std::string_view, std::size_t> index_;
};

bool Privileged(const Container& container) {
  return container.security_context.privileged.value_or(false);
}

bool MatchesAny(const std::vector<std::string>& globs, std::string_view text) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& glob) { return GlobMatch(glob, text); });
}

std::string FormatProfile(const ProfileRef& profile) {
  const std::string_view type = profile.type.value_or("");
  if (type == "Localhost")
    return "Localhost/" + std::string(profile.localhost_profile.value_or(""));
  return std::string(type);
}

}  // namespace

std::string EffectiveSeccompProfile(const Pod& pod, const Container& container) {
  // The runtime runs a privileged container without seccomp, whatever its profile says.
  if (Privileged(container)) return "Unconfined";
  if (container.security_context.seccomp_profile) {
    return FormatProfile(*container.security_context.seccomp_profile);
  }
  if (pod.security_context.seccomp_profile)
    return FormatProfile(*pod.security_context.seccomp_profile);
  return "Unconfined";
}

std::string EffectiveAppArmorProfile(const Pod& pod, const Container& container) {
  // Likewise without AppArmor.
  if (Privileged(container)) return "Unconfined";
  if (container.security_context.app_armor_profile) {
    return FormatProfile(*container.security_context.app_armor_profile);
  }
  const std::string key =
      "container.apparmor.security.beta.kubernetes.io/" + std::string(container.name);
  if (const auto annotation = pod.Annotation(key)) {
    if (*annotation == "runtime/default") return "RuntimeDefault";
    if (annotation->starts_with("localhost/")) {
      return "Localhost/" + std::string(annotation->substr(10));
    }
    if (*annotation == "unconfined") return "Unconfined";
    return std::string(*annotation);
  }
  if (pod.security_context.app_armor_profile) {
    return FormatProfile(*pod.security_context.app_armor_profile);
  }
  return "RuntimeDefault";
}

std::vector<RuleFailure> EvaluateRules(const Pod& pod, const EffectivePolicy& policy) {
  std::vector<RuleFailure> failures;
  const bool is_linux = !pod.IsWindows();

  if (is_linux && policy.allowed_capabilities) {
    const auto& allowed = *policy.allowed_capabilities;
    ContainerGroups groups;
    const std::string allowed_text = allowed.empty() ? std::string("none") : JoinQuote(allowed);
    const bool all_allowed = std::find(allowed.begin(), allowed.end(), "ALL") != allowed.end();
    for (const Container& c : pod.containers) {
      if (Privileged(c) && !all_allowed) {
        groups.Add(c.name,
                   "must not set securityContext.privileged=true (it has every capability; "
                   "allowed: " +
                       allowed_text + ")");
        continue;
      }
      std::vector<std::string_view> bad;
      if (c.security_context.capabilities_add) {
        for (std::string_view cap : *c.security_context.capabilities_add) {
          if (std::find(allowed.begin(), allowed.end(), cap) == allowed.end()) bad.push_back(cap);
        }
      }
      if (!bad.empty()) {
        groups.Add(c.name, "must not add " + JoinQuote(bad) + " (allowed: " + allowed_text + ")");
      }
    }
    if (!groups.empty()) {
      failures.push_back({"allowedCapabilities", "capabilities not allowed", groups.Detail(),
                          "rules.allowedCapabilities"});
    }
  }

  if (is_linux && policy.required_drop_capabilities) {
    ContainerGroups groups;
    for (const Container& c : pod.containers) {
      if (Privileged(c) && !policy.required_drop_capabilities->empty()) {
        groups.Add(c.name,
                   "must not set securityContext.privileged=true (it keeps every capability, "
                   "whatever it drops)");
        continue;
      }
      static const std::vector<std::string_view> kNone;
      const auto& drop =
          c.security_context.capabilities_drop ? *c.security_context.capabilities_drop : kNone;
      std::vector<std::string_view> missing;
      for (const std::string& cap : *policy.required_drop_capabilities) {
        if (std::find(drop.begin(), drop.end(), cap) == drop.end()) missing.push_back(cap);
      }
      if (!missing.empty()) {
        groups.Add(c.name,
                   "must drop " + JoinQuote(missing) + " in securityContext.capabilities.drop");
      }
    }
    if (!groups.empty()) {
      failures.push_back({"requiredDropCapabilities", "required capabilities not dropped",
                          groups.Detail(), "rules.requiredDropCapabilities"});
    }
  }

  auto profile_rule = [&](const std::optional<std::vector<std::string>>& allowed,
                          std::string_view id, std::string_view reason, std::string_view field,
                          std::string_view rule_field, auto effective) {
    if (!is_linux || !allowed) return;
    ContainerGroups groups;
    const std::string wanted =
        "must set securityContext." + std::string(field) + " to one of " + JoinQuote(*allowed);
    for (const Container& c : pod.containers) {
      const std::string profile = effective(pod, c);
      if (MatchesAny(*allowed, profile)) continue;
      std::string tail;
      tail.reserve(wanted.size() + profile.size() + 8);
      tail += wanted;
      tail += " (has ";
      tail += profile;
      tail += ')';
      groups.Add(c.name, std::move(tail));
    }
    if (!groups.empty()) failures.push_back({id, reason, groups.Detail(), rule_field});
  };
  profile_rule(policy.allowed_seccomp_profiles, "allowedSeccompProfiles",
               "seccomp profile not allowed", "seccompProfile", "rules.allowedSeccompProfiles",
               EffectiveSeccompProfile);
  profile_rule(policy.allowed_app_armor_profiles, "allowedAppArmorProfiles",
               "AppArmor profile not allowed", "appArmorProfile", "rules.allowedAppArmorProfiles",
               EffectiveAppArmorProfile);

  if (policy.allowed_runtime_classes) {
    const auto& allowed = *policy.allowed_runtime_classes;
    const std::string_view rc = pod.runtime_class_name.value_or("");
    if (!MatchesAny(allowed, rc)) {
      failures.push_back({"allowedRuntimeClasses", "runtime class not allowed",
                          "pod must set spec.runtimeClassName to one of " + JoinQuote(allowed) +
                              (rc.empty() ? std::string(" (unset)") : " (has " + GoQuote(rc) + ")"),
                          "rules.allowedRuntimeClasses"});
    }
  }
  return failures;
}

}  // namespace palisade::policy
