#include "policy/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace palisade::policy {
namespace {

const Check* FindCheck(const std::vector<Check>& checks, std::string_view id) {
  for (const Check& check : checks) {
    if (check.id == id) return &check;
  }
  return nullptr;
}

// The implementation of `check` in force at `minor`, or nullptr when the check starts later.
const VersionedCheck* VersionAt(const Check& check, int minor) {
  const VersionedCheck* found = nullptr;
  for (const VersionedCheck& v : check.versions) {
    if (v.minimum.minor <= minor) found = &v;
  }
  return found;
}

std::optional<std::string> Validate(const std::vector<Check>& checks) {
  std::set<std::string_view> ids;
  for (const Check& check : checks) {
    const std::string id(check.id);
    if (check.id.empty()) return "a check has an empty id";
    if (!ids.insert(check.id).second) return "multiple checks registered for id " + id;
    if (check.level != Level::kBaseline && check.level != Level::kRestricted) {
      return "check " + id + ": invalid level " + std::string(LevelName(check.level));
    }
    if (check.versions.empty()) return "check " + id + ": no versions";
    if (check.render == nullptr) return "check " + id + ": no render function";
    int previous = -1;
    for (const VersionedCheck& v : check.versions) {
      if (v.minimum.minor < Version::kOldestMinor || v.minimum > Version::Latest()) {
        return "check " + id + ": version " + v.minimum.ToString() + " is out of range";
      }
      if (v.minimum.minor <= previous) {
        return "check " + id + ": versions must be strictly increasing";
      }
      previous = v.minimum.minor;
      if (v.function == nullptr) {
        return "check " + id + ": version " + v.minimum.ToString() + " has no function";
      }
      if (!v.replaces.empty() && check.level != Level::kRestricted) {
        return "check " + id + ": only restricted checks may replace others";
      }
    }
  }
  for (const Check& check : checks) {
    for (const VersionedCheck& v : check.versions) {
      for (std::string_view replaced : v.replaces) {
        const Check* target = FindCheck(checks, replaced);
        if (target == nullptr) {
          return "check " + std::string(check.id) + ": replaces unknown check " +
                 std::string(replaced);
        }
        if (target->level != Level::kBaseline) {
          return "check " + std::string(check.id) + ": replaces non-baseline check " +
                 std::string(replaced);
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<CheckRegistry> CheckRegistry::Build(std::vector<Check> checks, std::string* error) {
  if (auto problem = Validate(checks)) {
    if (error != nullptr) *error = std::move(*problem);
    return std::nullopt;
  }
  CheckRegistry registry;
  registry.checks_ = std::move(checks);
  for (const Check& check : registry.checks_) {
    registry.max_minor_ = std::max(registry.max_minor_, check.versions.back().minimum.minor);
  }

  // PSA's order: baseline ids sorted, then restricted ids sorted (byte order).
  std::vector<const Check*> ordered;
  for (const Check& check : registry.checks_) ordered.push_back(&check);
  std::sort(ordered.begin(), ordered.end(), [](const Check* a, const Check* b) {
    if (a->level != b->level) return a->level == Level::kBaseline;
    return a->id < b->id;
  });

  const int versions = registry.max_minor_ + 1;
  registry.baseline_.resize(versions);
  registry.restricted_.resize(versions);
  for (int minor = 0; minor < versions; ++minor) {
    std::vector<std::string_view> replaced;
    for (const Check* check : ordered) {
      if (check->level != Level::kRestricted) continue;
      if (const VersionedCheck* v = VersionAt(*check, minor)) {
        replaced.insert(replaced.end(), v->replaces.begin(), v->replaces.end());
      }
    }
    for (const Check* check : ordered) {
      const VersionedCheck* v = VersionAt(*check, minor);
      if (v == nullptr) continue;
      const RegisteredCheck entry{check->id, v->function, check->render};
      if (check->level == Level::kBaseline) {
        registry.baseline_[minor].push_back(entry);
        if (std::find(replaced.begin(), replaced.end(), check->id) == replaced.end()) {
          registry.restricted_[minor].push_back(entry);
        }
      } else {
        registry.restricted_[minor].push_back(entry);
      }
    }
  }
  return registry;
}

const Check* CheckRegistry::Find(std::string_view id) const { return FindCheck(checks_, id); }

std::span<const RegisteredCheck> CheckRegistry::ChecksFor(Level level, Version version) const {
  if (level == Level::kPrivileged) return {};
  const int minor = std::clamp(version.minor, 0, max_minor_);
  const auto& table = level == Level::kBaseline ? baseline_ : restricted_;
  return table[static_cast<std::size_t>(minor)];
}

std::vector<Check> DefaultChecks() {
  std::vector<Check> checks;
  checks.reserve(19);
  // Baseline
  checks.push_back(AppArmorProfileCheck());
  checks.push_back(CapabilitiesBaselineCheck());
  checks.push_back(HostNamespacesCheck());
  checks.push_back(HostPathVolumesCheck());
  checks.push_back(HostPortsCheck());
  checks.push_back(HostProbesAndHostLifecycleCheck());
  checks.push_back(PrivilegedCheck());
  checks.push_back(ProcMountCheck());
  checks.push_back(SELinuxOptionsCheck());
  checks.push_back(SeccompProfileBaselineCheck());
  checks.push_back(SysctlsCheck());
  checks.push_back(WindowsHostProcessCheck());
  // Restricted
  checks.push_back(AllowPrivilegeEscalationCheck());
  checks.push_back(CapabilitiesRestrictedCheck());
  checks.push_back(ProcMountRestrictedCheck());
  checks.push_back(RestrictedVolumesCheck());
  checks.push_back(RunAsNonRootCheck());
  checks.push_back(RunAsUserCheck());
  checks.push_back(SeccompProfileRestrictedCheck());
  return checks;
}

const CheckRegistry& DefaultRegistry() {
  static const CheckRegistry registry = [] {
    std::string error;
    auto built = CheckRegistry::Build(DefaultChecks(), &error);
    if (!built) {
      std::fprintf(stderr, "palisade: invalid built-in check registry: %s\n", error.c_str());
      std::abort();
    }
    return std::move(*built);
  }();
  return registry;
}

}  // namespace palisade::policy
