// runAsNonRoot (restricted): containers must run as non-root users.
//
// Restricted fields:
//   spec.securityContext.runAsNonRoot
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.runAsNonRoot
// Allowed values: true; unset on a container when the pod sets true. false nowhere.
// v1.0:  as above.
// v1.35: skipped for pods in a user namespace (spec.hostUsers: false).

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

CheckResult runAsNonRoot_1_0(const Pod& pod) {
  const auto& pod_setting = pod.security_context.run_as_non_root;
  const bool pod_false = pod_setting && !*pod_setting;
  const bool pod_true = pod_setting && *pod_setting;
  std::vector<std::string_view> explicitly_bad;  // set runAsNonRoot=false
  std::vector<std::string_view> implicitly_bad;  // unset, and the pod does not set true
  for (const Container& c : pod.containers) {
    const auto& setting = c.security_context.run_as_non_root;
    if (setting) {
      if (!*setting) explicitly_bad.push_back(c.name);
    } else if (!pod_true) {
      implicitly_bad.push_back(c.name);
    }
  }
  if (pod_false || !explicitly_bad.empty()) {
    std::vector<std::string> bad_setters;
    if (pod_false) bad_setters.emplace_back("pod");
    if (!explicitly_bad.empty()) bad_setters.push_back(Containers(explicitly_bad));
    return Forbid("runAsNonRoot != true",
                  Join(bad_setters, " and ") + " must not set securityContext.runAsNonRoot=false");
  }
  if (!implicitly_bad.empty()) {
    return Forbid("runAsNonRoot != true", "pod or " + Containers(implicitly_bad) +
                                              " must set securityContext.runAsNonRoot=true");
  }
  return Allow();
}

CheckResult runAsNonRoot_1_35(const Pod& pod) {
  if (InUserNamespace(pod)) return Allow();
  return runAsNonRoot_1_0(pod);
}

}  // namespace

Check RunAsNonRootCheck() {
  return Check{"runAsNonRoot",
               Level::kRestricted,
               {{Version{0}, runAsNonRoot_1_0, {}}, {Version{35}, runAsNonRoot_1_35, {}}}};
}

}  // namespace palisade::policy
