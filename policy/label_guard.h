#pragma once

// The label guard: who may change the namespace labels that decide a namespace's policy
// (`pod-security.kubernetes.io/*`, `palisade.dev/*`). Anyone who may label a namespace could
// otherwise lower its level or opt it out. Pure.

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace palisade::policy {

struct LabelGuard {
  bool enabled = false;             // off: Namespace reviews are allowed
  std::vector<std::string> admins;  // user names and group names
};

// Whether changing `key` is reserved for the guard's admins.
bool IsGuardedLabel(std::string_view key);

struct LabelChange {
  std::string key;
  std::optional<std::string> before, after;  // unset: absent

  // `pod-security.kubernetes.io/enforce "restricted" -> "privileged"`, `... added "true"`,
  // `... removed (was "baseline")`.
  std::string ToString() const;
};

// The guarded labels that differ between two Namespaces (either may be null: CREATE has no old
// object), sorted by key.
std::vector<LabelChange> GuardedLabelChanges(const rapidjson::Value* old_namespace,
                                             const rapidjson::Value* new_namespace);

// "" when the change is allowed, else the denial message naming every guarded label changed.
std::string JudgeNamespaceLabels(const LabelGuard& guard, const rapidjson::Value* old_namespace,
                                 const rapidjson::Value* new_namespace, std::string_view username,
                                 const std::vector<std::string_view>& groups);

}  // namespace palisade::policy
