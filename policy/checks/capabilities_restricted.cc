// capabilities_restricted (restricted): containers must drop ALL, and may only add
// NET_BIND_SERVICE.
//
// Restricted fields:
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.drop
//     allowed: must include "ALL"
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.add
//     allowed: unset, empty, "NET_BIND_SERVICE"
// v1.22: replaces capabilities_baseline at restricted.
// v1.25: Windows pods (spec.os.name: windows) are exempt.

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::string_view kDropField = "securityContext.capabilities.drop";
constexpr std::string_view kAddField = "securityContext.capabilities.add";

bool DropsAll(const ContainerSecurityContext& sc) {
  if (!sc.capabilities_drop) return false;
  for (std::string_view capability : *sc.capabilities_drop) {
    if (capability == "ALL") return true;
  }
  return false;
}

// Per container: a missing drop of ALL (no values), then the forbidden additions.
Findings capabilitiesRestricted_1_22(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    const ContainerSecurityContext& sc = c.security_context;
    if (!sc.capabilities_present) {
      AddFinding(findings, pod, {std::string(c.name), kDropField, {}});
      continue;
    }
    if (!DropsAll(sc)) AddFinding(findings, pod, {std::string(c.name), kDropField, {}});
    std::vector<std::string> forbidden;
    if (sc.capabilities_add) {
      for (std::string_view capability : *sc.capabilities_add) {
        if (capability != "NET_BIND_SERVICE") forbidden.emplace_back(capability);
      }
    }
    if (!forbidden.empty()) {
      AddFinding(findings, pod, {std::string(c.name), kAddField, std::move(forbidden)});
    }
  }
  return findings;
}

Findings capabilitiesRestricted_1_25(const Pod& pod) {
  if (pod.IsWindows()) return {};
  return capabilitiesRestricted_1_22(pod);
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string_view> missing_drop_all;
  std::vector<std::string_view> adding_forbidden;
  std::vector<std::string_view> forbidden_capabilities;
  missing_drop_all.reserve(findings.size());
  for (const Finding& finding : findings) {
    if (finding.field == kDropField) {
      missing_drop_all.push_back(finding.container);
    } else {
      adding_forbidden.push_back(finding.container);
      forbidden_capabilities.insert(forbidden_capabilities.end(), finding.values.begin(),
                                    finding.values.end());
    }
  }
  std::string detail;
  if (!missing_drop_all.empty()) {
    detail =
        Containers({}, missing_drop_all, " must set securityContext.capabilities.drop=[\"ALL\"]");
  }
  if (!adding_forbidden.empty()) {
    SortUnique(forbidden_capabilities);
    if (!detail.empty()) detail += "; ";
    detail += Containers(adding_forbidden);
    detail += " must not include ";
    detail += JoinQuote(forbidden_capabilities);
    detail += " in securityContext.capabilities.add";
  }
  return {"unrestricted capabilities", std::move(detail)};
}

}  // namespace

Check CapabilitiesRestrictedCheck() {
  return Check{"capabilities_restricted",
               Level::kRestricted,
               {{Version{22}, capabilitiesRestricted_1_22, {"capabilities_baseline"}},
                {Version{25}, capabilitiesRestricted_1_25, {"capabilities_baseline"}}},
               Render};
}

}  // namespace palisade::policy
