#include "policy/policy_changes.h"

#include <map>

#include "policy/check.h"

namespace palisade::policy {

std::string_view PolicyChangeKindName(PolicyChange::Kind kind) {
  switch (kind) {
    case PolicyChange::Kind::kAdded:
      return "added";
    case PolicyChange::Kind::kChanged:
      return "changed";
    case PolicyChange::Kind::kRemoved:
      return "removed";
  }
  return "changed";
}

std::string PolicyChange::ToString() const {
  std::string out = "policy " + check_text::GoQuote(policy) + " " +
                    std::string(PolicyChangeKindName(kind)) + " (rev ";
  switch (kind) {
    case Kind::kAdded:
      out += new_revision;
      break;
    case Kind::kChanged:
      out += old_revision + " -> " + new_revision;
      break;
    case Kind::kRemoved:
      out += old_revision;
      break;
  }
  out += ")";
  if (!reason.empty()) out += ": " + reason;
  return out;
}

namespace {

std::map<std::string_view, const NamespacePolicy*> ByName(const PolicySet* set) {
  std::map<std::string_view, const NamespacePolicy*> policies;
  if (set == nullptr) return policies;
  for (const NamespacePolicy& policy : set->policies()) policies[policy.name] = &policy;
  return policies;
}

}  // namespace

std::vector<PolicyChange> DiffPolicySets(const PolicySet* old_set, const PolicySet* new_set) {
  const auto before = ByName(old_set);
  const auto after = ByName(new_set);
  std::vector<PolicyChange> changes;
  auto old_it = before.begin();
  auto new_it = after.begin();
  // Both maps are sorted by name: walk them together.
  while (old_it != before.end() || new_it != after.end()) {
    if (new_it == after.end() || (old_it != before.end() && old_it->first < new_it->first)) {
      changes.push_back({PolicyChange::Kind::kRemoved, std::string(old_it->first),
                         old_it->second->revision, "", ""});
      ++old_it;
    } else if (old_it == before.end() || new_it->first < old_it->first) {
      changes.push_back({PolicyChange::Kind::kAdded, std::string(new_it->first), "",
                         new_it->second->revision, new_it->second->change_reason});
      ++new_it;
    } else {
      if (old_it->second->revision != new_it->second->revision) {
        changes.push_back({PolicyChange::Kind::kChanged, std::string(old_it->first),
                           old_it->second->revision, new_it->second->revision,
                           new_it->second->change_reason});
      }
      ++old_it;
      ++new_it;
    }
  }
  return changes;
}

}  // namespace palisade::policy
