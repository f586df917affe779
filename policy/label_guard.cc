#include "policy/label_guard.h"

#include <algorithm>
#include <map>

#include "policy/check.h"
#include "policy/json_access.h"

namespace palisade::policy {
namespace {

using check_text::GoQuote;
using rapidjson::Value;

// A Namespace's guarded labels; a non-string value counts as its JSON type name so that any change
// to it is still seen.
std::map<std::string, std::string> GuardedLabels(const Value* object) {
  std::map<std::string, std::string> out;
  if (object == nullptr || !object->IsObject()) return out;
  const Value* metadata = json::Object(*object, "metadata");
  const Value* labels = metadata ? json::Object(*metadata, "labels") : nullptr;
  if (labels == nullptr) return out;
  for (const auto& member : labels->GetObject()) {
    const std::string key(json::View(member.name));
    if (!IsGuardedLabel(key)) continue;
    out[key] = member.value.IsString() ? std::string(json::View(member.value))
                                       : "<" + std::to_string(member.value.GetType()) + ">";
  }
  return out;
}

}  // namespace

bool IsGuardedLabel(std::string_view key) {
  return key.starts_with("pod-security.kubernetes.io/") || key.starts_with("palisade.dev/");
}

std::string LabelChange::ToString() const {
  if (!before) return key + " added " + GoQuote(after.value_or(""));
  if (!after) return key + " removed (was " + GoQuote(*before) + ")";
  return key + " " + GoQuote(*before) + " -> " + GoQuote(*after);
}

std::vector<LabelChange> GuardedLabelChanges(const Value* old_namespace,
                                             const Value* new_namespace) {
  const auto before = GuardedLabels(old_namespace);
  const auto after = GuardedLabels(new_namespace);
  std::vector<LabelChange> changes;
  for (const auto& [key, value] : before) {
    const auto it = after.find(key);
    if (it == after.end()) {
      changes.push_back(LabelChange{key, value, std::nullopt});
    } else if (it->second != value) {
      changes.push_back(LabelChange{key, value, it->second});
    }
  }
  for (const auto& [key, value] : after) {
    if (!before.contains(key)) changes.push_back(LabelChange{key, std::nullopt, value});
  }
  std::sort(changes.begin(), changes.end(),
            [](const LabelChange& a, const LabelChange& b) { return a.key < b.key; });
  return changes;
}

std::string JudgeNamespaceLabels(const LabelGuard& guard, const Value* old_namespace,
                                 const Value* new_namespace, std::string_view username,
                                 const std::vector<std::string_view>& groups) {
  if (!guard.enabled) return "";
  const std::vector<LabelChange> changes = GuardedLabelChanges(old_namespace, new_namespace);
  if (changes.empty()) return "";
  const auto admin = [&](std::string_view who) {
    return !who.empty() &&
           std::find(guard.admins.begin(), guard.admins.end(), who) != guard.admins.end();
  };
  if (admin(username) || std::any_of(groups.begin(), groups.end(), admin)) return "";
  std::string message = "user " + GoQuote(username) +
                        " may not change the namespace labels that select its pod security "
                        "policy (only --label-guard-admins may): ";
  for (std::size_t i = 0; i < changes.size(); ++i) {
    if (i > 0) message += ", ";
    message += changes[i].ToString();
  }
  return message;
}

}  // namespace palisade::policy
