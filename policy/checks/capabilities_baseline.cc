// capabilities_baseline (baseline): adding NET_RAW or capabilities beyond the default set must be
// disallowed.
//
// Restricted fields:
//   spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.add
// Allowed values: unset, empty, or entries of AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
//   KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT (exact strings).
// v1.0: one implementation. At restricted, capabilities_restricted replaces it from v1.22.

#include <array>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

constexpr std::array<std::string_view, 13> kAllowed_1_0{
    "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};

bool Allowed(std::string_view capability) {
  return std::find(kAllowed_1_0.begin(), kAllowed_1_0.end(), capability) != kAllowed_1_0.end();
}

Findings capabilitiesBaseline_1_0(const Pod& pod) {
  Findings findings;
  for (const Container& c : pod.containers) {
    const auto& add = c.security_context.capabilities_add;
    if (!add) continue;
    std::vector<std::string> bad;
    for (std::string_view capability : *add) {
      if (!Allowed(capability)) bad.emplace_back(capability);
    }
    if (!bad.empty()) {
      findings.push_back({std::string(c.name), "securityContext.capabilities.add", std::move(bad)});
    }
  }
  return findings;
}

RenderedFailure Render(const Findings& findings) {
  std::vector<std::string_view> bad_capabilities = AllValues(findings);
  SortUnique(bad_capabilities);
  return {"non-default capabilities", Containers(ContainerNames(findings)) + " must not include " +
                                          JoinQuote(bad_capabilities) +
                                          " in securityContext.capabilities.add"};
}

}  // namespace

Check CapabilitiesBaselineCheck() {
  return Check{"capabilities_baseline",
               Level::kBaseline,
               {{Version{0}, capabilitiesBaseline_1_0, {}}},
               Render};
}

}  // namespace palisade::policy
