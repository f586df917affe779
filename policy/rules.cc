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
// `containers "a", "b" must ...; container "c" must ...`. Indexed by what makes complaints differ
// (the finding's field and values), so each complaint's text is built once and tens of thousands
// of containers stay linear. Names are views into the findings.
class ContainerGroups {
 public:
  template <typename MakeTail>
  void Add(const Finding& finding, MakeTail&& make_tail) {
    // Each part with its length first, so no two different findings share a key.
    key_.clear();
    auto part = [this](std::string_view text) {
      const std::size_t size = text.size();
      key_.append(reinterpret_cast<const char*>(&size), sizeof size);
      key_.append(text);
    };
    part(finding.field);
    for (const std::string& value : finding.values) part(value);
    if (const auto it = index_.find(key_); it != index_.end()) {
      groups_[it->second].names.push_back(finding.container);
      return;
    }
    groups_.push_back(Group{key_, make_tail(finding), {finding.container}});
    index_.emplace(groups_.back().key, groups_.size() - 1);  // deque: the key stays put
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
    std::string key;
    std::string tail;
    std::vector<std::string_view> names;
  };
  std::string key_;  // reused: no allocation per container once it has grown
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
  if (const auto annotation =
          pod.Annotation("container.apparmor.security.beta.kubernetes.io/", container.name)) {
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

namespace {

constexpr std::string_view kPrivilegedField = "securityContext.privileged";

struct RuleInfo {
  std::string_view id;
  std::string_view reason;
  std::string_view field;
};
constexpr RuleInfo kRules[] = {
    {"allowedCapabilities", "capabilities not allowed", "rules.allowedCapabilities"},
    {"requiredDropCapabilities", "required capabilities not dropped",
     "rules.requiredDropCapabilities"},
    {"allowedSeccompProfiles", "seccomp profile not allowed", "rules.allowedSeccompProfiles"},
    {"allowedAppArmorProfiles", "AppArmor profile not allowed", "rules.allowedAppArmorProfiles"},
    {"allowedRuntimeClasses", "runtime class not allowed", "rules.allowedRuntimeClasses"},
};

std::string ProfileTail(std::string_view field, const std::vector<std::string>& allowed,
                        std::string_view profile) {
  std::string tail = "must set securityContext." + std::string(field) + " to one of " +
                     JoinQuote(allowed) + " (has ";
  tail += profile;
  tail += ')';
  return tail;
}

// The complaint about one container's finding of rule `id`.
std::string ContainerTail(std::string_view id, const Finding& finding,
                          const EffectivePolicy& policy) {
  static const std::vector<std::string> kNone;
  if (id == "allowedCapabilities") {
    const auto& allowed = policy.allowed_capabilities ? *policy.allowed_capabilities : kNone;
    const std::string allowed_text = allowed.empty() ? std::string("none") : JoinQuote(allowed);
    if (finding.field == kPrivilegedField) {
      return "must not set securityContext.privileged=true (it has every capability; allowed: " +
             allowed_text + ")";
    }
    return "must not add " + JoinQuote(finding.values) + " (allowed: " + allowed_text + ")";
  }
  if (id == "requiredDropCapabilities") {
    if (finding.field == kPrivilegedField) {
      return "must not set securityContext.privileged=true (it keeps every capability, whatever "
             "it drops)";
    }
    return "must drop " + JoinQuote(finding.values) + " in securityContext.capabilities.drop";
  }
  if (id == "allowedSeccompProfiles") {
    return ProfileTail("seccompProfile",
                       policy.allowed_seccomp_profiles ? *policy.allowed_seccomp_profiles : kNone,
                       finding.values.front());
  }
  return ProfileTail("appArmorProfile",
                     policy.allowed_app_armor_profiles ? *policy.allowed_app_armor_profiles : kNone,
                     finding.values.front());
}

}  // namespace

std::vector<std::string_view> RuleIds() {
  std::vector<std::string_view> ids;
  for (const RuleInfo& rule : kRules) ids.push_back(rule.id);
  return ids;
}

RuleFailure RenderRule(std::string_view id, Findings findings, const EffectivePolicy& policy) {
  const RuleInfo* info = &kRules[0];
  for (const RuleInfo& rule : kRules) {
    if (rule.id == id) info = &rule;
  }
  std::string detail;
  if (info->id == "allowedRuntimeClasses") {
    static const std::vector<std::string> kNone;
    const Finding& finding = findings.front();
    detail = "pod must set spec.runtimeClassName to one of " +
             JoinQuote(policy.allowed_runtime_classes ? *policy.allowed_runtime_classes : kNone) +
             (finding.values.empty() ? std::string(" (unset)")
                                     : " (has " + GoQuote(finding.values.front()) + ")");
  } else {
    ContainerGroups groups;
    for (const Finding& finding : findings) {
      groups.Add(finding, [&](const Finding& f) { return ContainerTail(info->id, f, policy); });
    }
    detail = groups.Detail();
  }
  return {info->id, info->reason, std::move(detail), info->field, std::move(findings)};
}

std::vector<RuleFailure> EvaluateRules(const Pod& pod, const EffectivePolicy& policy) {
  std::vector<RuleFailure> failures;
  const bool is_linux = !pod.IsWindows();
  auto add = [&](std::string_view id, Findings findings) {
    if (!findings.empty()) failures.push_back(RenderRule(id, std::move(findings), policy));
  };

  if (is_linux && policy.allowed_capabilities) {
    const auto& allowed = *policy.allowed_capabilities;
    const bool all_allowed = std::find(allowed.begin(), allowed.end(), "ALL") != allowed.end();
    Findings findings;
    for (const Container& c : pod.containers) {
      if (Privileged(c) && !all_allowed) {
        findings.push_back({std::string(c.name), kPrivilegedField, {"true"}});
        continue;
      }
      std::vector<std::string> bad;
      if (c.security_context.capabilities_add) {
        for (std::string_view cap : *c.security_context.capabilities_add) {
          if (std::find(allowed.begin(), allowed.end(), cap) == allowed.end())
            bad.emplace_back(cap);
        }
      }
      if (!bad.empty()) {
        findings.push_back(
            {std::string(c.name), "securityContext.capabilities.add", std::move(bad)});
      }
    }
    add("allowedCapabilities", std::move(findings));
  }

  if (is_linux && policy.required_drop_capabilities) {
    Findings findings;
    for (const Container& c : pod.containers) {
      if (Privileged(c) && !policy.required_drop_capabilities->empty()) {
        findings.push_back({std::string(c.name), kPrivilegedField, {"true"}});
        continue;
      }
      static const std::vector<std::string_view> kNone;
      const auto& drop =
          c.security_context.capabilities_drop ? *c.security_context.capabilities_drop : kNone;
      std::vector<std::string> missing;
      for (const std::string& cap : *policy.required_drop_capabilities) {
        if (std::find(drop.begin(), drop.end(), cap) == drop.end()) missing.push_back(cap);
      }
      if (!missing.empty()) {
        findings.push_back(
            {std::string(c.name), "securityContext.capabilities.drop", std::move(missing)});
      }
    }
    add("requiredDropCapabilities", std::move(findings));
  }

  auto profile_rule = [&](const Shared<std::vector<std::string>>& allowed, std::string_view id,
                          std::string_view field, auto effective) {
    if (!is_linux || !allowed) return;
    Findings findings;
    for (const Container& c : pod.containers) {
      std::string profile = effective(pod, c);
      if (MatchesAny(*allowed, profile)) continue;
      findings.push_back({std::string(c.name), FieldText::Joined({field}), {std::move(profile)}});
    }
    add(id, std::move(findings));
  };
  profile_rule(policy.allowed_seccomp_profiles, "allowedSeccompProfiles",
               "securityContext.seccompProfile", EffectiveSeccompProfile);
  profile_rule(policy.allowed_app_armor_profiles, "allowedAppArmorProfiles",
               "securityContext.appArmorProfile", EffectiveAppArmorProfile);

  if (policy.allowed_runtime_classes) {
    const std::string_view rc = pod.runtime_class_name.value_or("");
    if (!MatchesAny(*policy.allowed_runtime_classes, rc)) {
      Finding finding{"", "spec.runtimeClassName", {}};
      if (!rc.empty()) finding.values.emplace_back(rc);
      add("allowedRuntimeClasses", {std::move(finding)});
    }
  }
  return failures;
}

}  // namespace palisade::policy
