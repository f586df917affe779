#pragma once

// The explicit list of PSS checks and the registry that validates them once and builds, per level
// and version, the ordered list of check functions to run (PSA's policy/registry.go).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/check.h"

namespace palisade::policy {

struct RegisteredCheck {
  std::string_view id;
  CheckFunction function = nullptr;
  RenderFunction render = nullptr;
};

class CheckRegistry {
 public:
  // Validates the checks: unique non-empty ids, level baseline or restricted, at least one
  // version, minimum versions strictly increasing and not above Version::Latest(), functions and
  // render set, and `replaces` only on restricted checks naming baseline checks. On failure returns
  // nullopt and sets *error.
  static std::optional<CheckRegistry> Build(std::vector<Check> checks, std::string* error);

  // The checks to run, in PSA's order: baseline ids sorted, then restricted ids sorted; at
  // restricted without the baseline checks replaced at that version. A version above the newest
  // check version is evaluated as it; privileged runs none.
  std::span<const RegisteredCheck> ChecksFor(Level level, Version version) const;

  // The newest minimum version of any check: what "latest" evaluates as.
  Version MaxVersion() const { return Version{max_minor_}; }

  const std::vector<Check>& checks() const { return checks_; }

  // The check with this id, or nullptr.
  const Check* Find(std::string_view id) const;

 private:
  CheckRegistry() = default;

  std::vector<Check> checks_;
  int max_minor_ = 0;
  std::vector<std::vector<RegisteredCheck>> baseline_;    // by minor version
  std::vector<std::vector<RegisteredCheck>> restricted_;  // by minor version
};

// Every check Palisade knows, one per file in policy/checks/.
std::vector<Check> DefaultChecks();

// The registry over DefaultChecks(), built on first use. Aborts if the built-in list is invalid
// (a programming error the registry tests catch).
const CheckRegistry& DefaultRegistry();

}  // namespace palisade::policy
