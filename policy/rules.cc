#include "policy/rules.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace palisade::policy {
namespace {

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string QuotedList(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += Quoted(item);
  }
  return out;
}

// Groups containers that share the same complaint, in first-seen order:
// `containers "a", "b" must ...; container "c" must ...`.
class ContainerGroups {
 public:
  void Add(std::string_view container, std::string tail) {
    // Indexed by tail: tens of thousands of containers with different complaints stay linear.
    const auto [it, inserted] = index_.try_emplace(tail, groups_.size());
    if (inserted) {
      groups_.push_back({std::move(tail), {std::string(container)}});
    } else {
      groups_[it->second].second.emplace_back(container);
    }
  }
  bool empty() const { return groups_.empty(); }
  std::string Detail() const {
    std::string out;
    for (const auto& [tail, names] : groups_) {
      if (!out.empty()) out += ", ";
      out += names.size() == 1 ? "container " : "containers ";
      out += QuotedList(names);
      out += ' ';
      out += tail;
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> groups_;
  std::unordered_map<std::string, std::size_t> index_;
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
    const std::string allowed_text = allowed.empty() ? std::string("none") : QuotedList(allowed);
    const bool all_allowed = std::find(allowed.begin(), allowed.end(), "ALL") != allowed.end();
    for (const Container& c : pod.containers) {
      if (Privileged(c) && !all_allowed) {
        groups.Add(c.name,
                   "must not set securityContext.privileged=true (it has every capability; "
                   "allowed: " +
                       allowed_text + ")");
        continue;
      }
      std::vector<std::string> bad;
      for (std::string_view cap :
           c.security_context.capabilities_add.value_or(std::vector<std::string_view>{})) {
        if (std::find(allowed.begin(), allowed.end(), cap) == allowed.end()) bad.emplace_back(cap);
      }
      if (!bad.empty()) {
        groups.Add(c.name, "must not add " + QuotedList(bad) + " (allowed: " + allowed_text + ")");
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
      const auto drop =
          c.security_context.capabilities_drop.value_or(std::vector<std::string_view>{});
      std::vector<std::string> missing;
      for (const std::string& cap : *policy.required_drop_capabilities) {
        if (std::find(drop.begin(), drop.end(), cap) == drop.end()) missing.push_back(cap);
      }
      if (!missing.empty()) {
        groups.Add(c.name,
                   "must drop " + QuotedList(missing) + " in securityContext.capabilities.drop");
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
    for (const Container& c : pod.containers) {
      const std::string profile = effective(pod, c);
      if (MatchesAny(*allowed, profile)) continue;
      groups.Add(c.name, "must set securityContext." + std::string(field) + " to one of " +
                             QuotedList(*allowed) + " (has " + profile + ")");
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
                          "pod must set spec.runtimeClassName to one of " + QuotedList(allowed) +
                              (rc.empty() ? std::string(" (unset)") : " (has " + Quoted(rc) + ")"),
                          "rules.allowedRuntimeClasses"});
    }
  }
  return failures;
}

}  // namespace palisade::policy
