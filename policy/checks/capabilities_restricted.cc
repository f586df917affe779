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

bool DropsAll(const ContainerSecurityContext& sc) {
  if (!sc.capabilities_drop) return false;
  for (std::string_view capability : *sc.capabilities_drop) {
    if (capability == "ALL") return true;
  }
  return false;
}

CheckResult capabilitiesRestricted_1_22(const Pod& pod) {
  std::vector<std::string_view> missing_drop_all;
  std::vector<std::string_view> adding_forbidden;
  std::vector<std::string_view> forbidden_capabilities;
  for (const Container& c : pod.containers) {
    const ContainerSecurityContext& sc = c.security_context;
    if (!sc.capabilities_present) {
      missing_drop_all.push_back(c.name);
      continue;
    }
    if (!DropsAll(sc)) missing_drop_all.push_back(c.name);
    bool added_forbidden = false;
    if (sc.capabilities_add) {
      for (std::string_view capability : *sc.capabilities_add) {
        if (capability != "NET_BIND_SERVICE") {
          added_forbidden = true;
          forbidden_capabilities.push_back(capability);
        }
      }
    }
    if (added_forbidden) adding_forbidden.push_back(c.name);
  }
  if (missing_drop_all.empty() && adding_forbidden.empty()) return Allow();
  std::vector<std::string> details;
  if (!missing_drop_all.empty()) {
    details.push_back(Containers(missing_drop_all) +
                      " must set securityContext.capabilities.drop=[\"ALL\"]");
  }
  if (!adding_forbidden.empty()) {
    SortUnique(forbidden_capabilities);
    details.push_back(Containers(adding_forbidden) + " must not include " +
                      JoinQuote(forbidden_capabilities) + " in securityContext.capabilities.add");
  }
  return Forbid("unrestricted capabilities", Join(details, "; "));
}

CheckResult capabilitiesRestricted_1_25(const Pod& pod) {
  if (pod.IsWindows()) return Allow();
  return capabilitiesRestricted_1_22(pod);
}

}  // namespace

Check CapabilitiesRestrictedCheck() {
  return Check{"capabilities_restricted",
               Level::kRestricted,
               {{Version{22}, capabilitiesRestricted_1_22, {"capabilities_baseline"}},
                {Version{25}, capabilitiesRestricted_1_25, {"capabilities_baseline"}}}};
}

}  // namespace palisade::policy
