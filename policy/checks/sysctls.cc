// sysctls (baseline): sysctls can disable security mechanisms or affect every container on a
// host; only a "safe" (namespaced and isolated) subset is allowed.
//
// Restricted fields: spec.securityContext.sysctls[*].name
// Allowed values:
//   v1.0:  kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies,
//          net.ipv4.ping_group_range, net.ipv4.ip_unprivileged_port_start
//   v1.27: + net.ipv4.ip_local_reserved_ports
//   v1.29: + net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout,
//          net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes
//   v1.32: + net.ipv4.tcp_rmem, net.ipv4.tcp_wmem
//   v1.37: + net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat

#include <array>
#include <span>

#include "policy/check.h"

namespace palisade::policy {
namespace {

using namespace check_text;

// Newest additions last: version N allows a prefix of this list.
constexpr std::array<std::string_view, 14> kSafeSysctls{
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",  // v1.27
    "net.ipv4.tcp_keepalive_time",       // v1.29
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",  // v1.32
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",  // v1.37
    "net.ipv4.tcp_notsent_lowat",
};

// One pod-level finding per forbidden sysctl, so an exception can waive some of them.
Findings Evaluate(const Pod& pod, std::size_t safe_count) {
  const std::span<const std::string_view> safe(kSafeSysctls.data(), safe_count);
  Findings findings;
  for (std::string_view name : pod.security_context.sysctl_names) {
    if (std::find(safe.begin(), safe.end(), name) == safe.end()) {
      findings.push_back({"", "spec.securityContext.sysctls", {std::string(name)}});
    }
  }
  return findings;
}

Findings sysctls_1_0(const Pod& pod) { return Evaluate(pod, 5); }
Findings sysctls_1_27(const Pod& pod) { return Evaluate(pod, 6); }
Findings sysctls_1_29(const Pod& pod) { return Evaluate(pod, 10); }
Findings sysctls_1_32(const Pod& pod) { return Evaluate(pod, 12); }
Findings sysctls_1_37(const Pod& pod) { return Evaluate(pod, 14); }

RenderedFailure Render(const Findings& findings) {
  return {"forbidden sysctls", Join(AllValues(findings), ", ")};
}

}  // namespace

Check SysctlsCheck() {
  return Check{"sysctls",
               Level::kBaseline,
               {{Version{0}, sysctls_1_0, {}},
                {Version{27}, sysctls_1_27, {}},
                {Version{29}, sysctls_1_29, {}},
                {Version{32}, sysctls_1_32, {}},
                {Version{37}, sysctls_1_37, {}}},
               Render};
}

}  // namespace palisade::policy
