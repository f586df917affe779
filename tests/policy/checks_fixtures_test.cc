// Every check, at every version where its behaviour differs: tweaks of the minimal pod that must
// pass and must fail, with PSA's whole message.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "fixtures.h"

namespace palisade::policy::testing {
namespace {

using Tweak = std::function<void(rapidjson::Document&)>;

struct FixtureCase {
  std::string name;
  std::vector<Level> levels;
  int from = 0;  // minor versions, inclusive
  int to = Version::kLatestMinor;
  Tweak tweak;
  std::string expected;  // empty: the pod is allowed
};

const std::vector<Level> kBoth{Level::kBaseline, Level::kRestricted};
const std::vector<Level> kBaseline{Level::kBaseline};
const std::vector<Level> kRestricted{Level::kRestricted};

std::vector<FixtureCase> Cases() {
  std::vector<FixtureCase> cases;
  const auto add = [&](std::string name, std::vector<Level> levels, int from, int to, Tweak tweak,
                       std::string expected) {
    cases.push_back(
        {std::move(name), std::move(levels), from, to, std::move(tweak), std::move(expected)});
  };
  constexpr int kLatest = Version::kLatestMinor;

  // The minimal pods themselves.
  add(
      "minimal", kBoth, 0, kLatest, [](auto&) {}, "");

  // privileged
  add(
      "privileged false", kBoth, 0, kLatest,
      [](auto& d) { Set(d, "/spec/containers/0/securityContext/privileged", "false"); }, "");
  add(
      "privileged true twice", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/initContainers/0/securityContext/privileged", "true");
        Set(d, "/spec/containers/0/securityContext/privileged", "true");
      },
      R"(privileged (containers "init", "app" must not set securityContext.privileged=true))");

  // hostNamespaces
  add(
      "host namespaces false", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/hostNetwork", "false");
        Set(d, "/spec/hostPID", "false");
        Set(d, "/spec/hostIPC", "false");
      },
      "");
  add(
      "host namespaces all", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/hostIPC", "true");
        Set(d, "/spec/hostNetwork", "true");
        Set(d, "/spec/hostPID", "true");
      },
      "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)");
  add(
      "hostPID", kBoth, 0, kLatest, [](auto& d) { Set(d, "/spec/hostPID", "true"); },
      "host namespaces (hostPID=true)");

  // capabilities_baseline
  add(
      "baseline capabilities allowed", kBaseline, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/capabilities/add",
            R"(["AUDIT_WRITE","CHOWN","DAC_OVERRIDE","FOWNER","FSETID","KILL","MKNOD",)"
            R"("NET_BIND_SERVICE","SETFCAP","SETGID","SETPCAP","SETUID","SYS_CHROOT"])");
      },
      "");
  add(
      "baseline capabilities not default", kBaseline, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/initContainers/0/securityContext/capabilities/add", R"(["CAP_CHOWN"])");
        Set(d, "/spec/containers/0/securityContext/capabilities/add",
            R"(["NET_RAW","SYS_ADMIN","NET_RAW","CHOWN"])");
      },
      R"(non-default capabilities (containers "init", "app" must not include "CAP_CHOWN", )"
      R"("NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add))");
  add(
      "baseline capabilities exact case", kBaseline, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/capabilities/add", R"(["chown"])");
      },
      R"(non-default capabilities (container "app" must not include "chown" in )"
      R"(securityContext.capabilities.add))");
  add(
      "restricted before v1.22 runs capabilities_baseline", kRestricted, 0, 21,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/capabilities/add", R"(["NET_RAW"])");
      },
      R"(non-default capabilities (container "app" must not include "NET_RAW" in )"
      R"(securityContext.capabilities.add))");

  // capabilities_restricted
  add(
      "capabilities_restricted replaces baseline", kRestricted, 22, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/capabilities/add", R"(["NET_RAW"])");
      },
      R"(unrestricted capabilities (container "app" must not include "NET_RAW" in )"
      R"(securityContext.capabilities.add))");
  add(
      "capabilities add NET_BIND_SERVICE", kRestricted, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/capabilities/add", R"(["NET_BIND_SERVICE"])");
      },
      "");
  add(
      "capabilities missing", kRestricted, 22, kLatest,
      [](auto& d) { Erase(d, "/spec/containers/0/securityContext/capabilities"); },
      R"(unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]))");
  add(
      "capabilities missing before v1.22", kRestricted, 0, 21,
      [](auto& d) { Erase(d, "/spec/containers/0/securityContext/capabilities"); }, "");
  add(
      "capabilities drop lowercase all and add", kRestricted, 22, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/capabilities/drop", R"(["all"])");
        Set(d, "/spec/initContainers/0/securityContext/capabilities/add",
            R"(["SYS_ADMIN","NET_BIND_SERVICE"])");
      },
      R"(unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]; )"
      R"(container "init" must not include "SYS_ADMIN" in securityContext.capabilities.add))");
  add(
      "capabilities null object", kRestricted, 22, kLatest,
      [](auto& d) { Set(d, "/spec/initContainers/0/securityContext/capabilities", "null"); },
      R"(unrestricted capabilities (container "init" must set securityContext.capabilities.drop=["ALL"]))");
  add(
      "windows pod without capabilities v1.22-v1.24", kRestricted, 22, 24,
      [](auto& d) {
        Set(d, "/spec/os/name", R"("windows")");
        Erase(d, "/spec/containers/0/securityContext/capabilities");
      },
      R"(unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]))");
  add(
      "windows pod without capabilities v1.25+", kRestricted, 25, kLatest,
      [](auto& d) {
        Set(d, "/spec/os/name", R"("windows")");
        Erase(d, "/spec/containers/0/securityContext/capabilities");
      },
      "");

  // hostPathVolumes and restrictedVolumes
  const Tweak host_path_volumes = [](auto& d) {
    Set(d, "/spec/volumes",
        R"([{"name":"host","hostPath":{"path":"/"}},{"name":"cfg","configMap":{"name":"c"}},)"
        R"({"name":"h2","hostPath":{"path":"/x"}}])");
  };
  add("hostPath volumes baseline", kBaseline, 0, kLatest, host_path_volumes,
      R"(hostPath volumes (volumes "host", "h2"))");
  add("hostPath volumes restricted", kRestricted, 0, kLatest, host_path_volumes,
      R"(restricted volume types (volumes "host", "h2" use restricted volume type "hostPath"))");
  add(
      "nfs allowed at baseline", kBaseline, 0, kLatest,
      [](auto& d) { Set(d, "/spec/volumes", R"([{"name":"n","nfs":{"server":"s","path":"/"}}])"); },
      "");
  add(
      "restricted volume types", kRestricted, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/volumes",
            R"([{"name":"a","nfs":{"server":"s","path":"/"}},{"name":"b","hostPath":{"path":"/"}},)"
            R"({"name":"c"},{"name":"d","madeUpSource":{}},{"name":"e","gitRepo":{"repository":"r"}}])");
      },
      R"(restricted volume types (volumes "a", "b", "c", "d", "e" use restricted volume types )"
      R"("gitRepo", "hostPath", "nfs", "unknown"))");
  add(
      "allowed volume types", kRestricted, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/volumes",
            R"([{"name":"a","configMap":{"name":"c"}},{"name":"b","csi":{"driver":"d"}},)"
            R"({"name":"c","downwardAPI":{}},{"name":"d","emptyDir":{}},)"
            R"({"name":"e","ephemeral":{"volumeClaimTemplate":{}}},{"name":"f","image":{"reference":"r"}},)"
            R"({"name":"g","persistentVolumeClaim":{"claimName":"p"}},{"name":"h","projected":{}},)"
            R"({"name":"i","secret":{"secretName":"s"}}])");
      },
      "");
  add(
      "null source is no source", kRestricted, 0, kLatest,
      [](auto& d) { Set(d, "/spec/volumes", R"([{"name":"x","emptyDir":null,"hostPath":{}}])"); },
      R"(restricted volume types (volume "x" uses restricted volume type "hostPath"))");
  add(
      "allowed source beside hostPath passes restricted", kRestricted, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/volumes",
            R"([{"name":"x","configMap":{"name":"c"},"hostPath":{"path":"/"}}])");
      },
      "");
  add(
      "allowed source beside hostPath fails baseline", kBaseline, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/volumes",
            R"([{"name":"x","configMap":{"name":"c"},"hostPath":{"path":"/"}}])");
      },
      R"(hostPath volumes (volume "x"))");

  // hostPorts
  add(
      "host ports", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/ports",
            R"([{"containerPort":80,"hostPort":8080},{"containerPort":81,"hostPort":10000},)"
            R"({"containerPort":82,"hostPort":0}])");
        Set(d, "/spec/initContainers/0/ports", R"([{"containerPort":1,"hostPort":8080}])");
      },
      R"(hostPort (containers "init", "app" use hostPorts 10000, 8080))");
  add(
      "one host port", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/ports", R"([{"containerPort":80,"hostPort":8080}])");
      },
      R"(hostPort (container "app" uses hostPort 8080))");
  add(
      "host port 0", kBoth, 0, kLatest,
      [](auto& d) { Set(d, "/spec/containers/0/ports", R"([{"containerPort":80,"hostPort":0}])"); },
      "");

  // appArmorProfile
  add(
      "apparmor annotation", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/metadata/annotations",
            R"({"container.apparmor.security.beta.kubernetes.io/app":"unconfined"})");
      },
      R"(forbidden AppArmor profile (annotation must not set AppArmor profile type to )"
      R"("container.apparmor.security.beta.kubernetes.io/app="unconfined""))");
  add(
      "apparmor fields", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/appArmorProfile", R"({"type":"Unconfined"})");
        Set(d, "/spec/containers/0/securityContext/appArmorProfile", R"({"type":"Unconfined"})");
        Set(d, "/spec/initContainers/0/securityContext/appArmorProfile",
            R"({"type":"Localhost","localhostProfile":"p"})");
      },
      R"(forbidden AppArmor profile (pod and container "app" must not set AppArmor profile type )"
      R"(to "Unconfined"))");
  add(
      "apparmor fields and annotations", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/appArmorProfile", R"({"type":"Unconfined"})");
        Set(d, "/spec/containers/0/securityContext/appArmorProfile", "{}");
        Set(d, "/metadata/annotations",
            R"({"container.apparmor.security.beta.kubernetes.io/init":"unconfined",)"
            R"("container.apparmor.security.beta.kubernetes.io/app":"localhost/foo",)"
            R"("container.apparmor.security.beta.kubernetes.io/x":"runtime/default",)"
            R"("container.apparmor.security.beta.kubernetes.io/y":"",)"
            R"("other.example/z":"unconfined"})");
      },
      R"(forbidden AppArmor profiles (pod and container "app" and annotation must not set )"
      R"(AppArmor profile type to "", "Unconfined", )"
      R"("container.apparmor.security.beta.kubernetes.io/init="unconfined""))");
  add(
      "apparmor allowed", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/appArmorProfile", R"({"type":"RuntimeDefault"})");
        Set(d, "/metadata/annotations",
            R"({"container.apparmor.security.beta.kubernetes.io/app":"localhost/foo"})");
      },
      "");
  add(
      "apparmor annotation quoted as Go does", kBaseline, 0, kLatest,
      [](auto& d) {
        Set(d, "/metadata/annotations",
            R"({"container.apparmor.security.beta.kubernetes.io/app":"a\"b\\c\n\u0001é"})");
      },
      "forbidden AppArmor profile (annotation must not set AppArmor profile type to "
      "\"container.apparmor.security.beta.kubernetes.io/app=\"a\\\"b\\\\c\\n\\x01é\"\")");

  // seLinuxOptions
  add(
      "selinux container_engine_t before v1.31", kBoth, 0, 30,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/seLinuxOptions",
            R"({"type":"container_engine_t"})");
      },
      R"(seLinuxOptions (container "app" set forbidden securityContext.seLinuxOptions: type )"
      R"("container_engine_t"))");
  add(
      "selinux container_engine_t from v1.31", kBoth, 31, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/seLinuxOptions",
            R"({"type":"container_engine_t"})");
      },
      "");
  add(
      "selinux type user role", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/seLinuxOptions", R"({"user":"u"})");
        Set(d, "/spec/initContainers/0/securityContext/seLinuxOptions", R"({"type":"spc_t"})");
        Set(d, "/spec/containers/0/securityContext/seLinuxOptions", R"({"role":"r"})");
      },
      R"(seLinuxOptions (pod and containers "init", "app" set forbidden )"
      R"(securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set))");
  add(
      "selinux user only", kBoth, 0, kLatest,
      [](auto& d) { Set(d, "/spec/securityContext/seLinuxOptions", R"({"user":"u"})"); },
      R"(seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set))");
  add(
      "selinux allowed", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/seLinuxOptions", R"({"type":"container_t","level":"s0:c1"})");
        Set(d, "/spec/containers/0/securityContext/seLinuxOptions", R"({"type":"","user":""})");
      },
      "");

  // procMount and procMount_restricted
  add(
      "procMount Default", kBoth, 0, kLatest,
      [](auto& d) { Set(d, "/spec/containers/0/securityContext/procMount", R"("Default")"); }, "");
  add(
      "procMount Unmasked", kBoth, 0, kLatest,
      [](auto& d) { Set(d, "/spec/containers/0/securityContext/procMount", R"("Unmasked")"); },
      R"(procMount (container "app" must not set securityContext.procMount to "Unmasked"))");
  add(
      "procMount Unmasked in user namespace before v1.35", kBoth, 0, 34,
      [](auto& d) {
        Set(d, "/spec/hostUsers", "false");
        Set(d, "/spec/containers/0/securityContext/procMount", R"("Unmasked")");
      },
      R"(procMount (container "app" must not set securityContext.procMount to "Unmasked"))");
  add(
      "procMount Unmasked in user namespace baseline v1.35+", kBaseline, 35, kLatest,
      [](auto& d) {
        Set(d, "/spec/hostUsers", "false");
        Set(d, "/spec/containers/0/securityContext/procMount", R"("Unmasked")");
      },
      "");
  add(
      "procMount_restricted in user namespace v1.35+", kRestricted, 35, kLatest,
      [](auto& d) {
        Set(d, "/spec/hostUsers", "false");
        Set(d, "/spec/initContainers/0/securityContext/procMount", R"("Unmasked")");
        Set(d, "/spec/containers/0/securityContext/procMount", R"("Other")");
      },
      R"(procMount (containers "init", "app" must not set securityContext.procMount to "Other", )"
      R"("Unmasked"))");

  // seccompProfile_baseline
  const Tweak seccomp_annotations = [](auto& d) {
    Set(d, "/metadata/annotations",
        R"({"seccomp.security.alpha.kubernetes.io/pod":"unconfined",)"
        R"("container.seccomp.security.alpha.kubernetes.io/app":"unconfined",)"
        R"("container.seccomp.security.alpha.kubernetes.io/init":"docker/default",)"
        R"("container.seccomp.security.alpha.kubernetes.io/gone":"unconfined"})");
  };
  add("seccomp annotations before v1.19", kBoth, 0, 18, seccomp_annotations,
      R"(seccompProfile (forbidden annotations )"
      R"(container.seccomp.security.alpha.kubernetes.io/app="unconfined", )"
      R"(seccomp.security.alpha.kubernetes.io/pod="unconfined"))");
  add("seccomp annotations ignored from v1.19", kBoth, 19, kLatest, seccomp_annotations, "");
  add(
      "seccomp annotations allowed", kBoth, 0, 18,
      [](auto& d) {
        Set(d, "/metadata/annotations",
            R"({"seccomp.security.alpha.kubernetes.io/pod":"runtime/default",)"
            R"("container.seccomp.security.alpha.kubernetes.io/app":"localhost/p"})");
      },
      "");
  add(
      "seccomp empty annotation", kBaseline, 0, 18,
      [](auto& d) {
        Set(d, "/metadata/annotations", R"({"seccomp.security.alpha.kubernetes.io/pod":""})");
      },
      R"(seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=""))");
  const Tweak seccomp_fields = [](auto& d) {
    Set(d, "/spec/securityContext/seccompProfile", R"({"type":"Unconfined"})");
    Set(d, "/spec/containers/0/securityContext/seccompProfile", R"({"type":"Localhost"})");
    Set(d, "/spec/initContainers/0/securityContext/seccompProfile", "{}");
  };
  add("seccomp fields from v1.19", kBoth, 19, kLatest, seccomp_fields,
      R"(seccompProfile (pod and container "init" must not set securityContext.seccompProfile.type )"
      R"(to "", "Unconfined"))");
  add("seccomp fields ignored before v1.19", kBaseline, 0, 18, seccomp_fields, "");

  // seccompProfile_restricted
  add(
      "seccomp unset", kRestricted, 19, kLatest,
      [](auto& d) { Erase(d, "/spec/securityContext/seccompProfile"); },
      R"(seccompProfile (pod or containers "init", "app" must set securityContext.seccompProfile.type )"
      R"(to "RuntimeDefault" or "Localhost"))");
  add(
      "seccomp on every container", kRestricted, 19, kLatest,
      [](auto& d) {
        Erase(d, "/spec/securityContext/seccompProfile");
        Set(d, "/spec/initContainers/0/securityContext/seccompProfile",
            R"({"type":"RuntimeDefault"})");
        Set(d, "/spec/containers/0/securityContext/seccompProfile",
            R"({"type":"Localhost","localhostProfile":"p.json"})");
      },
      "");
  add(
      "seccomp container overrides pod", kRestricted, 19, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/seccompProfile", R"({"type":"Unconfined"})");
      },
      R"(seccompProfile (container "app" must not set securityContext.seccompProfile.type to )"
      R"("Unconfined"))");
  add(
      "windows pod without seccomp v1.19-v1.24", kRestricted, 19, 24,
      [](auto& d) {
        Set(d, "/spec/os/name", R"("windows")");
        Erase(d, "/spec/securityContext/seccompProfile");
      },
      R"(seccompProfile (pod or containers "init", "app" must set securityContext.seccompProfile.type )"
      R"(to "RuntimeDefault" or "Localhost"))");
  add(
      "windows pod without seccomp v1.25+", kRestricted, 25, kLatest,
      [](auto& d) {
        Set(d, "/spec/os/name", R"("windows")");
        Erase(d, "/spec/securityContext/seccompProfile");
      },
      "");

  // sysctls
  struct SysctlStep {
    const char* name;
    int since;
  };
  for (const SysctlStep step : {SysctlStep{"kernel.shm_rmid_forced", 0},
                                {"net.ipv4.ip_unprivileged_port_start", 0},
                                {"net.ipv4.ip_local_reserved_ports", 27},
                                {"net.ipv4.tcp_keepalive_time", 29},
                                {"net.ipv4.tcp_keepalive_probes", 29},
                                {"net.ipv4.tcp_rmem", 32},
                                {"net.ipv4.tcp_wmem", 32},
                                {"net.ipv4.tcp_slow_start_after_idle", 37},
                                {"net.ipv4.tcp_notsent_lowat", 37}}) {
    const std::string json = R"([{"name":")" + std::string(step.name) + R"(","value":"1"}])";
    const Tweak tweak = [json](auto& d) { Set(d, "/spec/securityContext/sysctls", json); };
    if (step.since > 0) {
      add(std::string("sysctl ") + step.name + " before", kBoth, 0, step.since - 1, tweak,
          std::string("forbidden sysctls (") + step.name + ")");
    }
    add(std::string("sysctl ") + step.name + " allowed", kBoth, step.since, kLatest, tweak, "");
  }
  add(
      "sysctls forbidden in order", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/sysctls",
            R"([{"name":"kernel.msgmax"},{"name":"kernel.shm_rmid_forced"},)"
            R"({"name":"kernel.msgmax"},{"name":"net.core.somaxconn"}])");
      },
      "forbidden sysctls (kernel.msgmax, kernel.msgmax, net.core.somaxconn)");

  // windowsHostProcess
  add(
      "hostProcess", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/windowsOptions/hostProcess", "true");
        Set(d, "/spec/containers/0/securityContext/windowsOptions/hostProcess", "true");
      },
      R"(hostProcess (pod and container "app" must not set )"
      R"(securityContext.windowsOptions.hostProcess=true))");
  add(
      "hostProcess false", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/windowsOptions/hostProcess", "false");
      },
      "");

  // hostProbesAndHostLifecycle
  const Tweak probe_hosts = [](auto& d) {
    Set(d, "/spec/containers/0/livenessProbe", R"({"httpGet":{"host":"10.0.0.1","port":80}})");
    Set(d, "/spec/containers/0/readinessProbe", R"({"tcpSocket":{"host":"evil","port":80}})");
    Set(d, "/spec/containers/0/startupProbe", R"({"httpGet":{"host":"","port":80}})");
    Set(d, "/spec/initContainers/0/lifecycle",
        R"({"preStop":{"httpGet":{"host":"10.0.0.1","port":80}}})");
  };
  add("probe hosts before v1.34", kBoth, 0, 33, probe_hosts, "");
  add("probe hosts from v1.34", kBoth, 34, kLatest, probe_hosts,
      R"(probe or lifecycle host (containers "app", "init" use probe or lifecycle hosts )"
      R"("10.0.0.1", "evil"))");
  add(
      "one lifecycle host", kBoth, 34, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/lifecycle",
            R"({"postStart":{"tcpSocket":{"host":"h","port":1}}})");
      },
      R"(probe or lifecycle host (container "app" uses probe or lifecycle host "h"))");

  // allowPrivilegeEscalation
  const Tweak no_ape = [](auto& d) {
    Erase(d, "/spec/initContainers/0/securityContext/allowPrivilegeEscalation");
    Erase(d, "/spec/containers/0/securityContext/allowPrivilegeEscalation");
  };
  add("allowPrivilegeEscalation unset before v1.8", kRestricted, 0, 7, no_ape, "");
  add("allowPrivilegeEscalation unset", kRestricted, 8, kLatest, no_ape,
      R"(allowPrivilegeEscalation != false (containers "init", "app" must set )"
      R"(securityContext.allowPrivilegeEscalation=false))");
  add(
      "allowPrivilegeEscalation true", kRestricted, 8, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/allowPrivilegeEscalation", "true");
      },
      R"(allowPrivilegeEscalation != false (container "app" must set )"
      R"(securityContext.allowPrivilegeEscalation=false))");
  const Tweak windows_no_ape = [no_ape](auto& d) {
    no_ape(d);
    Set(d, "/spec/os", R"({"name":"windows"})");
  };
  add("windows pod without allowPrivilegeEscalation v1.8-v1.24", kRestricted, 8, 24, windows_no_ape,
      R"(allowPrivilegeEscalation != false (containers "init", "app" must set )"
      R"(securityContext.allowPrivilegeEscalation=false))");
  add("windows pod without allowPrivilegeEscalation v1.25+", kRestricted, 25, kLatest,
      windows_no_ape, "");
  add(
      "linux os name is not exempt", kRestricted, 25, kLatest,
      [no_ape](auto& d) {
        no_ape(d);
        Set(d, "/spec/os", R"({"name":"Windows"})");
      },
      R"(allowPrivilegeEscalation != false (containers "init", "app" must set )"
      R"(securityContext.allowPrivilegeEscalation=false))");

  // runAsNonRoot
  add(
      "runAsNonRoot pod false", kRestricted, 0, kLatest,
      [](auto& d) { Set(d, "/spec/securityContext/runAsNonRoot", "false"); },
      R"(runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false))");
  add(
      "runAsNonRoot one container", kRestricted, 0, kLatest,
      [](auto& d) {
        Erase(d, "/spec/securityContext/runAsNonRoot");
        Set(d, "/spec/containers/0/securityContext/runAsNonRoot", "true");
      },
      R"(runAsNonRoot != true (pod or container "init" must set securityContext.runAsNonRoot=true))");
  add(
      "runAsNonRoot every container", kRestricted, 0, kLatest,
      [](auto& d) {
        Erase(d, "/spec/securityContext/runAsNonRoot");
        Set(d, "/spec/containers/0/securityContext/runAsNonRoot", "true");
        Set(d, "/spec/initContainers/0/securityContext/runAsNonRoot", "true");
      },
      "");
  add(
      "runAsNonRoot container false", kRestricted, 0, kLatest,
      [](auto& d) { Set(d, "/spec/initContainers/0/securityContext/runAsNonRoot", "false"); },
      R"(runAsNonRoot != true (container "init" must not set securityContext.runAsNonRoot=false))");
  add(
      "runAsNonRoot pod and container false", kRestricted, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/securityContext/runAsNonRoot", "false");
        Set(d, "/spec/containers/0/securityContext/runAsNonRoot", "false");
      },
      R"(runAsNonRoot != true (pod and container "app" must not set securityContext.runAsNonRoot=false))");
  const Tweak user_namespace_root = [](auto& d) {
    Set(d, "/spec/hostUsers", "false");
    Set(d, "/spec/securityContext/runAsNonRoot", "false");
  };
  add("runAsNonRoot false in user namespace before v1.35", kRestricted, 0, 34, user_namespace_root,
      R"(runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false))");
  add("runAsNonRoot false in user namespace v1.35+", kRestricted, 35, kLatest, user_namespace_root,
      "");
  add(
      "hostUsers true is no user namespace", kRestricted, 35, kLatest,
      [](auto& d) {
        Set(d, "/spec/hostUsers", "true");
        Set(d, "/spec/securityContext/runAsNonRoot", "false");
      },
      R"(runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false))");

  // runAsUser
  const Tweak root_user = [](auto& d) {
    Set(d, "/spec/securityContext/runAsUser", "0");
    Set(d, "/spec/containers/0/securityContext/runAsUser", "0");
    Set(d, "/spec/initContainers/0/securityContext/runAsUser", "1000");
  };
  add("runAsUser 0 before v1.23", kRestricted, 0, 22, root_user, "");
  add("runAsUser 0", kRestricted, 23, kLatest, root_user,
      R"(runAsUser=0 (pod and container "app" must not set runAsUser=0))");
  add("runAsUser 0 baseline", kBaseline, 0, kLatest, root_user, "");
  const Tweak user_namespace_user = [](auto& d) {
    Set(d, "/spec/hostUsers", "false");
    Set(d, "/spec/initContainers/0/securityContext/runAsUser", "0");
  };
  add("runAsUser 0 in user namespace v1.23-v1.34", kRestricted, 23, 34, user_namespace_user,
      R"(runAsUser=0 (container "init" must not set runAsUser=0))");
  add("runAsUser 0 in user namespace v1.35+", kRestricted, 35, kLatest, user_namespace_user, "");

  // Ephemeral containers are containers too.
  add(
      "ephemeral container privileged", kBoth, 0, kLatest,
      [](auto& d) {
        Set(d, "/spec/ephemeralContainers",
            R"([{"name":"debug","image":"busybox","securityContext":{"privileged":true,)"
            R"("allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}])");
      },
      R"(privileged (container "debug" must not set securityContext.privileged=true))");
  add(
      "ephemeral container bare", kRestricted, 22, kLatest,
      [](auto& d) {
        Set(d, "/spec/ephemeralContainers", R"([{"name":"debug","image":"busybox"}])");
      },
      R"(allowPrivilegeEscalation != false (container "debug" must set )"
      R"(securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container )"
      R"("debug" must set securityContext.capabilities.drop=["ALL"]))");

  // Failures come in PSA's order: baseline ids sorted, then restricted ids sorted.
  add(
      "order of failures", kRestricted, 35, kLatest,
      [](auto& d) {
        Set(d, "/spec/containers/0/securityContext/privileged", "true");
        Set(d, "/spec/containers/0/securityContext/allowPrivilegeEscalation", "true");
        Set(d, "/spec/containers/0/securityContext/runAsUser", "0");
        Set(d, "/spec/hostNetwork", "true");
        Set(d, "/spec/volumes", R"([{"name":"h","hostPath":{"path":"/"}}])");
        Set(d, "/spec/securityContext/sysctls", R"([{"name":"kernel.msgmax"}])");
      },
      R"(host namespaces (hostNetwork=true), privileged (container "app" must not set )"
      R"(securityContext.privileged=true), forbidden sysctls (kernel.msgmax), )"
      R"(allowPrivilegeEscalation != false (container "app" must set )"
      R"(securityContext.allowPrivilegeEscalation=false), restricted volume types (volume "h" uses )"
      R"(restricted volume type "hostPath"), runAsUser=0 (container "app" must not set runAsUser=0))");
  return cases;
}

TEST(ChecksFixtures, EveryCaseAtEveryVersion) {
  int evaluated = 0;
  for (const FixtureCase& c : Cases()) {
    ASSERT_LE(c.from, c.to) << c.name;
    for (Level level : c.levels) {
      for (int minor = c.from; minor <= c.to; ++minor) {
        rapidjson::Document doc = MinimalPod(level, minor);
        c.tweak(doc);
        const Evaluation evaluation = Evaluate(doc, level, minor);
        const std::string where =
            c.name + " at " + std::string(LevelName(level)) + ":v1." + std::to_string(minor);
        EXPECT_TRUE(evaluation.errors.empty()) << where << ": " << evaluation.Message();
        EXPECT_EQ(evaluation.allowed, c.expected.empty()) << where;
        EXPECT_EQ(evaluation.Message(), c.expected) << where;
        ++evaluated;
      }
    }
  }
  EXPECT_GT(evaluated, 3000);
}

// Privileged runs no checks, whatever the pod does.
TEST(ChecksFixtures, PrivilegedRunsNothing) {
  rapidjson::Document doc = MinimalPod(Level::kBaseline, Version::kLatestMinor);
  Set(doc, "/spec/hostNetwork", "true");
  Set(doc, "/spec/containers/0/securityContext/privileged", "true");
  const Evaluation evaluation = Evaluate(doc, Level::kPrivileged, Version::kLatestMinor);
  EXPECT_TRUE(evaluation.allowed);
  EXPECT_EQ(evaluation.Message(), "");
  EXPECT_FALSE(Evaluate(doc, Level::kBaseline, Version::kLatestMinor).allowed);
}

TEST(ChecksFixtures, FailuresCarryIds) {
  rapidjson::Document doc = MinimalPod(Level::kRestricted, Version::kLatestMinor);
  Set(doc, "/spec/hostPID", "true");
  Erase(doc, "/spec/containers/0/securityContext/capabilities");
  const Evaluation evaluation = Evaluate(doc, Level::kRestricted, Version::kLatestMinor);
  ASSERT_EQ(evaluation.failures.size(), 2u);
  EXPECT_EQ(evaluation.failures[0].id, "hostNamespaces");
  EXPECT_EQ(evaluation.failures[0].reason, "host namespaces");
  EXPECT_EQ(evaluation.failures[0].detail, "hostPID=true");
  EXPECT_EQ(evaluation.failures[1].id, "capabilities_restricted");
}

// A wrong-typed field is never allowed, even when the checks pass; errors come first.
TEST(ChecksFixtures, WrongTypesAreDenied) {
  rapidjson::Document doc = MinimalPod(Level::kBaseline, Version::kLatestMinor);
  Set(doc, "/spec/containers/0/securityContext/privileged", R"("true")");
  Set(doc, "/spec/volumes", R"({"name":"v"})");
  const Evaluation evaluation = Evaluate(doc, Level::kBaseline, Version::kLatestMinor);
  EXPECT_FALSE(evaluation.allowed);
  EXPECT_TRUE(evaluation.failures.empty());
  EXPECT_EQ(evaluation.Message(),
            "spec.volumes: must be a list, got object, "
            "spec.containers[0].securityContext.privileged: must be a boolean, got string");

  // Also at privileged, and followed by the check failures.
  EXPECT_FALSE(Evaluate(doc, Level::kPrivileged, Version::kLatestMinor).allowed);
  Set(doc, "/spec/hostIPC", "true");
  EXPECT_EQ(Evaluate(doc, Level::kBaseline, Version::kLatestMinor).Message(),
            "spec.volumes: must be a list, got object, "
            "spec.containers[0].securityContext.privileged: must be a boolean, got string, "
            "host namespaces (hostIPC=true)");
}

TEST(ChecksFixtures, WrongTypeInRestrictedField) {
  rapidjson::Document doc = MinimalPod(Level::kRestricted, Version::kLatestMinor);
  Set(doc, "/spec/initContainers/0/securityContext/capabilities/drop", R"("ALL")");
  const Evaluation evaluation = Evaluate(doc, Level::kRestricted, Version::kLatestMinor);
  EXPECT_FALSE(evaluation.allowed);
  EXPECT_EQ(evaluation.Message(),
            "spec.initContainers[0].securityContext.capabilities.drop: must be a list, got string, "
            R"(unrestricted capabilities (container "init" must set )"
            R"(securityContext.capabilities.drop=["ALL"]))");
}

// A version newer than the binary knows is evaluated as the newest.
TEST(ChecksFixtures, NewerVersionEvaluatesAsLatest) {
  rapidjson::Document doc = MinimalPod(Level::kBaseline, Version::kLatestMinor);
  Set(doc, "/spec/securityContext/sysctls", R"([{"name":"net.ipv4.tcp_notsent_lowat"}])");
  EXPECT_TRUE(Evaluate(doc, Level::kBaseline, 99).allowed);
  Set(doc, "/spec/securityContext/sysctls", R"([{"name":"kernel.msgmax"}])");
  EXPECT_EQ(Evaluate(doc, Level::kBaseline, 99).Message(), "forbidden sysctls (kernel.msgmax)");
}

}  // namespace
}  // namespace palisade::policy::testing
