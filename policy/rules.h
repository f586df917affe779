#pragma once

// Namespace rules beyond the Pod Security Standards (spec.rules of a NamespacePolicy).
//
// Effective profiles: a container's own setting overrides the pod's. For AppArmor the order is
// the container field, the container's beta annotation, then the pod field. An unset profile is
// matched as what the node runs for it: seccomp "Unconfined" (the kubelet's default), AppArmor
// "RuntimeDefault". A privileged container runs without seccomp and AppArmor and with every
// capability whatever its fields say: it is "Unconfined" for both, fails allowedCapabilities
// unless "ALL" is allowed, and fails requiredDropCapabilities. Windows pods have no capabilities,
// seccomp or AppArmor, so only allowedRuntimeClasses applies to them.

#include <string>
#include <string_view>
#include <vector>

#include "policy/check.h"
#include "policy/namespace_policy.h"
#include "policy/pod.h"

namespace palisade::policy {

struct RuleFailure {
  std::string_view id;      // "allowedCapabilities", "requiredDropCapabilities", ...
  std::string_view reason;  // "capabilities not allowed"
  std::string detail;  // `container "app" must not add "SYS_TIME" (allowed: "NET_BIND_SERVICE")`
  std::string_view field;  // the policy field: "rules.allowedCapabilities"
  // What offends, as checks report it (check.h): per container the field and values (added
  // capabilities, capabilities not dropped, the effective profile; "true" for privileged), or the
  // pod's runtime class (no value when unset).
  Findings findings;
};

// Every rule of `policy` on `pod`, in a fixed order.
std::vector<RuleFailure> EvaluateRules(const Pod& pod, const EffectivePolicy& policy);

// Every rule id, in evaluation order ("allowedCapabilities", ...).
std::vector<std::string_view> RuleIds();

// The failure of rule `id` ("allowedCapabilities") worded from `findings` (non-empty): what is
// left after exceptions waived some.
RuleFailure RenderRule(std::string_view id, Findings findings, const EffectivePolicy& policy);

// "RuntimeDefault", "Unconfined" or "Localhost/<profile>".
std::string EffectiveSeccompProfile(const Pod& pod, const Container& container);
std::string EffectiveAppArmorProfile(const Pod& pod, const Container& container);

}  // namespace palisade::policy
