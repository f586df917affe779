// windowsHostProcess (baseline): Windows HostProcess containers must not be allowed.
//
// Restricted fields:
//   spec.securityContext.windowsOptions.hostProcess
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.windowsOptions.hostProcess
// Allowed values: unset, false
// v1.0: one implementation.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::string_view kPodField = "spec.securityContext.windowsOptions.hostProcess";

Findings windowsHostProcess_1_0(const Pod& pod) {
  Findings findings;
  if (pod.security_context.windows_host_process.value_or(false)) {
    findings.push_back({"", kPodField, {"true"}});
  }
  for (const Container& c : pod.containers) {
    if (c.security_context.windows_host_process.value_or(false)) {
      findings.push_back(
          {std::string(c.name), "securityContext.windowsOptions.hostProcess", {"true"}});
    }
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  return {"hostProcess", Setters(findings, kPodField) +
                             " must not set securityContext.windowsOptions.hostProcess=true"};
}

}  // namespace

Check WindowsHostProcessCheck() {
  return Check{
      "windowsHostProcess", Level::kBaseline, {{Version{0}, windowsHostProcess_1_0, {}}}, Render};
}

}  // namespace palisade::policy
