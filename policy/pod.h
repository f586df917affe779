#pragma once

// A read-only, typed view of a pod (or a pod template) over a RapidJSON value. Strings are views
// into the JSON document, which must outlive the Pod. Unset and `null` are both nullopt; a field of
// the wrong JSON type is not skipped but reported as a FieldError, and callers deny on any error.

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace palisade::policy {

// The most containers (all three lists together) a pod may have to be judged; a pod with more is
// reported as a FieldError (denied). Kubernetes stores no such pod with etcd's default 1.5 MiB
// object limit (a container the API server has defaulted takes about 50 bytes there), and
// each container read costs a view, findings and answer text: unbounded, a review of 2.8 million
// `{}` containers took 2 GiB.
constexpr std::size_t kMaxPodContainers = 50'000;

struct FieldError {
  std::string path;     // "spec.containers[0].securityContext.privileged"
  std::string message;  // "must be a boolean, got string"
};

// seccompProfile / appArmorProfile
struct ProfileRef {
  std::optional<std::string_view> type;
  std::optional<std::string_view> localhost_profile;
};

struct SELinuxOptions {
  std::optional<std::string_view> user;
  std::optional<std::string_view> role;
  std::optional<std::string_view> type;
  std::optional<std::string_view> level;
};

struct ContainerSecurityContext {
  bool present = false;  // the securityContext object exists
  std::optional<bool> privileged;
  std::optional<bool> allow_privilege_escalation;
  std::optional<bool> run_as_non_root;
  std::optional<std::int64_t> run_as_user;
  std::optional<std::string_view> proc_mount;
  bool capabilities_present = false;  // securityContext.capabilities exists
  std::optional<std::vector<std::string_view>> capabilities_add;
  std::optional<std::vector<std::string_view>> capabilities_drop;
  std::optional<SELinuxOptions> se_linux_options;
  std::optional<ProfileRef> seccomp_profile;
  std::optional<ProfileRef> app_armor_profile;
  std::optional<bool> windows_host_process;                  // windowsOptions.hostProcess
  std::optional<std::string_view> windows_run_as_user_name;  // windowsOptions.runAsUserName
};

struct PodSecurityContext {
  bool present = false;  // spec.securityContext exists
  std::optional<bool> run_as_non_root;
  std::optional<std::int64_t> run_as_user;
  std::optional<SELinuxOptions> se_linux_options;
  std::optional<ProfileRef> seccomp_profile;
  std::optional<ProfileRef> app_armor_profile;
  std::optional<bool> windows_host_process;
  std::optional<std::string_view> windows_run_as_user_name;
  std::vector<std::string_view> sysctl_names;  // securityContext.sysctls[*].name
};

enum class ContainerKind : std::uint8_t { kInit, kRegular, kEphemeral };

// A `host` set in a probe or lifecycle handler: field is e.g. "livenessProbe.httpGet.host".
struct HandlerHost {
  std::string_view field;
  std::string_view host;
};

struct Container {
  ContainerKind kind = ContainerKind::kRegular;
  std::size_t index =
      0;  // position in its own list (initContainers/containers/ephemeralContainers)
  std::string_view name;
  std::optional<std::string_view> image;
  ContainerSecurityContext security_context;
  std::vector<std::int64_t> host_ports;  // every ports[*].hostPort that is set (0 included)
  std::vector<HandlerHost> handler_hosts;

  // "initContainers", "containers" or "ephemeralContainers"
  std::string_view ListName() const;
};

struct Volume {
  std::string_view name;
  // Keys of the volume object other than "name" whose value is not null, in document order:
  // the volume source(s), e.g. {"hostPath"}.
  std::vector<std::string_view> sources;
};

struct Pod {
  bool metadata_present = false;     // metadata exists
  bool annotations_present = false;  // metadata.annotations exists
  // One entry per key, in first-seen order, with the last value of duplicates (Go's map decoding
  // keeps the last). Add through AddAnnotation.
  std::vector<std::pair<std::string_view, std::string_view>> annotations;
  std::unordered_map<std::string_view, std::size_t> annotation_index;  // key -> position, when many
  std::optional<std::string_view> os_name;                             // spec.os.name
  std::optional<bool> host_users;
  std::optional<bool> host_network;
  std::optional<bool> host_pid;
  std::optional<bool> host_ipc;
  std::optional<std::string_view> runtime_class_name;
  PodSecurityContext security_context;
  std::vector<Volume> volumes;
  // initContainers, then containers, then ephemeralContainers, each in document order.
  std::vector<Container> containers;

  bool IsWindows() const { return os_name && *os_name == "windows"; }
  std::optional<std::string_view> Annotation(std::string_view key) const;
  // The annotation `prefix` + `name` (a per-container key), looked up without building the key on
  // the heap.
  std::optional<std::string_view> Annotation(std::string_view prefix, std::string_view name) const;
  void AddAnnotation(std::string_view key, std::string_view value);
};

struct PodReadResult {
  Pod pod;
  std::vector<FieldError> errors;  // wrong-typed fields; empty when the pod reads cleanly
};

// Reads a Pod or a PodTemplateSpec: an object with optional `metadata` and required `spec`.
// `path_prefix` is prepended to error paths ("" for a pod, "spec.template." for a Deployment).
PodReadResult ReadPod(const rapidjson::Value& object, std::string_view path_prefix = "");

}  // namespace palisade::policy
