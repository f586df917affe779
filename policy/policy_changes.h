#pragma once

// The changelog of a reload: which policies were added, changed or removed between two sets,
// with their old and new revisions. Pure.

#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {

struct PolicyChange {
  enum class Kind : std::uint8_t { kAdded, kChanged, kRemoved };

  Kind kind = Kind::kAdded;
  std::string policy;        // metadata.name
  std::string old_revision;  // empty when added
  std::string new_revision;  // empty when removed
  std::string reason;        // the new revision's palisade.dev/reason annotation ("" if none)

  bool operator==(const PolicyChange&) const = default;
  // `policy "payments" added (rev 4c1e9a)`, `policy "payments" changed (rev 4c1e9a -> 7d20b3)`,
  // `policy "payments" removed (rev 4c1e9a)`; a reason follows: `...(rev 4c1e9a): SEC-1234`
  std::string ToString() const;
};

std::string_view PolicyChangeKindName(PolicyChange::Kind kind);  // "added", "changed", "removed"

// One entry per policy whose revision differs, sorted by policy name. Either set may be null (the
// first load has no old set). A policy that only moved to another file is not a change.
std::vector<PolicyChange> DiffPolicySets(const PolicySet* old_set, const PolicySet* new_set);

}  // namespace palisade::policy
