#pragma once

#include <algorithm>
#include <string>

#include "policy/namespace_policy.h"

namespace palisade::policy::testing_support {

// Test JSON is written with single quotes to stay readable in C++ literals.
inline std::string Json(std::string text) {
  std::replace(text.begin(), text.end(), '\'', '"');
  return text;
}

// Every default set, as a platform team would for a restricted namespace.
inline EffectivePolicy FullDefaults() {
  EffectivePolicy policy;
  policy.matched = {"payments"};
  policy.default_seccomp_profile = Profile{"RuntimeDefault", ""};
  policy.default_app_armor_profile = Profile{"RuntimeDefault", ""};
  policy.default_capabilities_drop = std::vector<std::string>{"ALL"};
  policy.default_capabilities_add = std::vector<std::string>{"NET_BIND_SERVICE"};
  policy.default_allow_privilege_escalation = false;
  policy.default_run_as_non_root = true;
  policy.exempt_images = {"registry.example.com/debug/*"};
  return policy;
}

}  // namespace palisade::policy::testing_support
