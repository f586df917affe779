// runAsUser (restricted): containers must not run as user 0.
//
// Restricted fields:
//   spec.securityContext.runAsUser
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.runAsUser
// Allowed values: unset, non-zero
// v1.23: the check starts.
// v1.35: skipped for pods in a user namespace (spec.hostUsers: false).

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

CheckResult runAsUser_1_23(const Pod& pod) {
  const auto& pod_user = pod.security_context.run_as_user;
  const bool pod_root = pod_user && *pod_user == 0;
  std::vector<std::string_view> bad_containers;
  for (const Container& c : pod.containers) {
    const auto& user = c.security_context.run_as_user;
    if (user && *user == 0) bad_containers.push_back(c.name);
  }
  if (!pod_root && bad_containers.empty()) return Allow();
  std::vector<std::string> bad_setters;
  if (pod_root) bad_setters.emplace_back("pod");
  if (!bad_containers.empty()) bad_setters.push_back(Containers(bad_containers));
  return Forbid("runAsUser=0", Join(bad_setters, " and ") + " must not set runAsUser=0");
}

CheckResult runAsUser_1_35(const Pod& pod) {
  if (InUserNamespace(pod)) return Allow();
  return runAsUser_1_23(pod);
}

}  // namespace

Check RunAsUserCheck() {
  return Check{"runAsUser",
               Level::kRestricted,
               {{Version{23}, runAsUser_1_23, {}}, {Version{35}, runAsUser_1_35, {}}}};
}

}  // namespace palisade::policy
