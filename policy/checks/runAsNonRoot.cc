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

constexpr std::string_view kPodField = "spec.securityContext.runAsNonRoot";
constexpr std::string_view kContainerField = "securityContext.runAsNonRoot";

// Every offence, explicit (set to false: value "false") and implicit (unset where the pod does
// not set true: no value). PSA words only the explicit ones when there are any, but a waiver of
// those must not hide the implicit ones.
Findings runAsNonRoot_1_0(const Pod& pod) {
  Findings findings;
  const auto& pod_setting = pod.security_context.run_as_non_root;
  const bool pod_true = pod_setting && *pod_setting;
  if (pod_setting && !*pod_setting) AddFinding(findings, pod, {"", kPodField, {"false"}});
  for (const Container& c : pod.containers) {
    const auto& setting = c.security_context.run_as_non_root;
    if (setting) {
      if (!*setting) AddFinding(findings, pod, {std::string(c.name), kContainerField, {"false"}});
    } else if (!pod_true) {
      AddFinding(findings, pod, {std::string(c.name), kContainerField, {}});
    }
  }
  return findings;
}

Findings runAsNonRoot_1_35(const Pod& pod) {
  if (InUserNamespace(pod)) return {};
  return runAsNonRoot_1_0(pod);
}

RenderedFailure Render(const Findings& findings) {
  bool pod_false = false;
  std::vector<std::string_view> explicitly_bad;
  std::vector<std::string_view> implicitly_bad;
  implicitly_bad.reserve(findings.size());
  for (const Finding& finding : findings) {
    if (finding.field == kPodField) {
      pod_false = true;
    } else if (!finding.values.empty()) {
      explicitly_bad.push_back(finding.container);
    } else {
      implicitly_bad.push_back(finding.container);
    }
  }
  if (pod_false || !explicitly_bad.empty()) {
    std::vector<std::string> bad_setters;
    if (pod_false) bad_setters.emplace_back("pod");
    if (!explicitly_bad.empty()) bad_setters.push_back(Containers(explicitly_bad));
    return {"runAsNonRoot != true",
            Join(bad_setters, " and ") + " must not set securityContext.runAsNonRoot=false"};
  }
  return {"runAsNonRoot != true",
          Containers("pod or ", implicitly_bad, " must set securityContext.runAsNonRoot=true")};
}

}  // namespace

Check RunAsNonRootCheck() {
  return Check{"runAsNonRoot",
               Level::kRestricted,
               {{Version{0}, runAsNonRoot_1_0, {}}, {Version{35}, runAsNonRoot_1_35, {}}},
               Render};
}

}  // namespace palisade::policy
