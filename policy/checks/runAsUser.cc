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

constexpr std::string_view kPodField = "spec.securityContext.runAsUser";

Findings runAsUser_1_23(const Pod& pod) {
  Findings findings;
  const auto& pod_user = pod.security_context.run_as_user;
  if (pod_user && *pod_user == 0) findings.push_back({"", kPodField, {"0"}});
  for (const Container& c : pod.containers) {
    const auto& user = c.security_context.run_as_user;
    if (user && *user == 0)
      findings.push_back({std::string(c.name), "securityContext.runAsUser", {"0"}});
  }
  return findings;
}

Findings runAsUser_1_35(const Pod& pod) {
  if (InUserNamespace(pod)) return {};
  return runAsUser_1_23(pod);
}

RenderedFailure Render(const Findings& findings) {
  return {"runAsUser=0", Setters(findings, kPodField) + " must not set runAsUser=0"};
}

}  // namespace

Check RunAsUserCheck() {
  return Check{"runAsUser",
               Level::kRestricted,
               {{Version{23}, runAsUser_1_23, {}}, {Version{35}, runAsUser_1_35, {}}},
               Render};
}

}  // namespace palisade::policy
