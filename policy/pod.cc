#include "policy/pod.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "policy/json_access.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;

// A path segment chain on the stack; rendered only when an error is reported.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;

  Path Child(std::string_view child) const { return Path{this, child, 0, false}; }
  Path Item(std::size_t i) const { return Path{this, {}, i, true}; }
};

void Render(const Path* path, std::string& out) {
  if (path == nullptr) return;
  Render(path->parent, out);
  if (path->is_index) {
    out += '[';
    out += std::to_string(path->index);
    out += ']';
  } else if (!path->key.empty()) {
    if (!out.empty() && out.back() != '.') out += '.';
    out += path->key;
  }
}

class PodReader {
 public:
  PodReader(std::string_view prefix, std::vector<FieldError>& errors)
      : prefix_(prefix), errors_(errors) {}

  void Report(const Path& path, std::string message) {
    std::string rendered(prefix_);
    Render(&path, rendered);
    errors_.push_back(FieldError{std::move(rendered), std::move(message)});
  }

  void Fail(const Path& path, std::string_view want, const Value& got) {
    Report(path, "must be " + std::string(want) + ", got " +
                     std::string(json::TypeName(got, json::Words::kJson)));
  }

  void Missing(const Path& path) { Report(path, "is required"); }

  // Present and not null; nullptr otherwise.
  static const Value* Find(const Value& object, std::string_view key) {
    return json::Member(object, key);
  }

  // Find for each of `keys` at once, in one pass over the members of `object` (an object): each
  // lookup alone would compare every member's name again.
  template <std::size_t N>
  static std::array<const Value*, N> FindAll(const Value& object,
                                             const std::array<std::string_view, N>& keys) {
    std::array<const Value*, N> found{};
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      const std::string_view name = View(it->name);
      for (std::size_t i = 0; i < N; ++i) {
        if (keys[i] == name) {
          if (found[i] == nullptr) found[i] = &it->value;  // the first of duplicates, as Find
          break;
        }
      }
    }
    for (const Value*& value : found) {
      if (value != nullptr && value->IsNull()) value = nullptr;
    }
    return found;
  }

  const Value* Object(const Value& parent, std::string_view key, const Path& path) {
    return Object(Find(parent, key), key, path);
  }

  // The member `key` found already (nullptr when unset), checked as the lookups below check it.
  const Value* Object(const Value* value, std::string_view key, const Path& path) {
    if (value == nullptr) return nullptr;
    if (!value->IsObject()) {
      Fail(path.Child(key), "an object", *value);
      return nullptr;
    }
    return value;
  }

  const Value* Array(const Value& parent, std::string_view key, const Path& path) {
    return Array(Find(parent, key), key, path);
  }

  const Value* Array(const Value* value, std::string_view key, const Path& path) {
    if (value == nullptr) return nullptr;
    if (!value->IsArray()) {
      Fail(path.Child(key), "a list", *value);
      return nullptr;
    }
    return value;
  }

  std::optional<bool> Bool(const Value& parent, std::string_view key, const Path& path) {
    return Bool(Find(parent, key), key, path);
  }

  std::optional<bool> Bool(const Value* value, std::string_view key, const Path& path) {
    if (value == nullptr) return std::nullopt;
    if (!value->IsBool()) {
      Fail(path.Child(key), "a boolean", *value);
      return std::nullopt;
    }
    return value->GetBool();
  }

  static std::string_view View(const Value& value) { return json::View(value); }

  std::optional<std::string_view> String(const Value& parent, std::string_view key,
                                         const Path& path) {
    return String(Find(parent, key), key, path);
  }

  std::optional<std::string_view> String(const Value* value, std::string_view key,
                                         const Path& path) {
    if (value == nullptr) return std::nullopt;
    if (!value->IsString()) {
      Fail(path.Child(key), "a string", *value);
      return std::nullopt;
    }
    return View(*value);
  }

  std::optional<std::int64_t> Int(const Value& parent, std::string_view key, const Path& path) {
    return Int(Find(parent, key), key, path);
  }

  std::optional<std::int64_t> Int(const Value* value, std::string_view key, const Path& path) {
    if (value == nullptr) return std::nullopt;
    if (!value->IsInt64()) {
      Fail(path.Child(key), "an integer", *value);
      return std::nullopt;
    }
    return value->GetInt64();
  }

  std::optional<std::vector<std::string_view>> Strings(const Value& parent, std::string_view key,
                                                       const Path& path) {
    const Value* list = Array(parent, key, path);
    if (list == nullptr) return std::nullopt;
    std::vector<std::string_view> out;
    out.reserve(list->Size());
    const Path list_path = path.Child(key);
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const Value& item = (*list)[i];
      if (!item.IsString()) {
        Fail(list_path.Item(i), "a string", item);
        continue;
      }
      out.push_back(View(item));
    }
    return out;
  }

  std::optional<ProfileRef> Profile(const Value* value, std::string_view key, const Path& path) {
    const Value* object = Object(value, key, path);
    if (object == nullptr) return std::nullopt;
    const Path here = path.Child(key);
    return ProfileRef{String(*object, "type", here), String(*object, "localhostProfile", here)};
  }

  std::optional<SELinuxOptions> SELinux(const Value* value, const Path& path) {
    const Value* object = Object(value, "seLinuxOptions", path);
    if (object == nullptr) return std::nullopt;
    const Path here = path.Child("seLinuxOptions");
    return SELinuxOptions{String(*object, "user", here), String(*object, "role", here),
                          String(*object, "type", here), String(*object, "level", here)};
  }

  // windowsOptions: hostProcess and runAsUserName.
  template <class SecurityContext>
  void WindowsOptions(const Value* value, const Path& path, SecurityContext& out) {
    const Value* windows = Object(value, "windowsOptions", path);
    if (windows == nullptr) return;
    const Path here = path.Child("windowsOptions");
    out.windows_host_process = Bool(*windows, "hostProcess", here);
    out.windows_run_as_user_name = String(*windows, "runAsUserName", here);
  }

  void ReadPodSecurityContext(const Value* value, const Path& spec_path, PodSecurityContext& out) {
    const Value* sc = Object(value, "securityContext", spec_path);
    if (sc == nullptr) return;
    const Path path = spec_path.Child("securityContext");
    out.present = true;
    static constexpr std::array<std::string_view, 7> kKeys{
        "runAsNonRoot",    "runAsUser",      "seLinuxOptions", "seccompProfile",
        "appArmorProfile", "windowsOptions", "sysctls"};
    const auto [run_as_non_root, run_as_user, se_linux_options, seccomp_profile, app_armor_profile,
                windows_options, sysctls_value] = FindAll(*sc, kKeys);
    out.run_as_non_root = Bool(run_as_non_root, "runAsNonRoot", path);
    out.run_as_user = Int(run_as_user, "runAsUser", path);
    out.se_linux_options = SELinux(se_linux_options, path);
    out.seccomp_profile = Profile(seccomp_profile, "seccompProfile", path);
    out.app_armor_profile = Profile(app_armor_profile, "appArmorProfile", path);
    WindowsOptions(windows_options, path, out);
    if (const Value* sysctls = Array(sysctls_value, "sysctls", path)) {
      const Path list_path = path.Child("sysctls");
      for (rapidjson::SizeType i = 0; i < sysctls->Size(); ++i) {
        const Value& item = (*sysctls)[i];
        if (item.IsNull()) continue;
        if (!item.IsObject()) {
          Fail(list_path.Item(i), "an object", item);
          continue;
        }
        if (auto name = String(item, "name", list_path.Item(i))) out.sysctl_names.push_back(*name);
      }
    }
  }

  void ReadContainerSecurityContext(const Value* value, const Path& container_path,
                                    ContainerSecurityContext& out) {
    const Value* sc = Object(value, "securityContext", container_path);
    if (sc == nullptr) return;
    const Path path = container_path.Child("securityContext");
    out.present = true;
    static constexpr std::array<std::string_view, 10> kKeys{
        "privileged",      "allowPrivilegeEscalation",
        "runAsNonRoot",    "runAsUser",
        "procMount",       "capabilities",
        "seLinuxOptions",  "seccompProfile",
        "appArmorProfile", "windowsOptions"};
    const auto [privileged, allow_privilege_escalation, run_as_non_root, run_as_user, proc_mount,
                capabilities, se_linux_options, seccomp_profile, app_armor_profile,
                windows_options] = FindAll(*sc, kKeys);
    out.privileged = Bool(privileged, "privileged", path);
    out.allow_privilege_escalation =
        Bool(allow_privilege_escalation, "allowPrivilegeEscalation", path);
    out.run_as_non_root = Bool(run_as_non_root, "runAsNonRoot", path);
    out.run_as_user = Int(run_as_user, "runAsUser", path);
    out.proc_mount = String(proc_mount, "procMount", path);
    if (const Value* caps = Object(capabilities, "capabilities", path)) {
      const Path caps_path = path.Child("capabilities");
      out.capabilities_present = true;
      out.capabilities_add = Strings(*caps, "add", caps_path);
      out.capabilities_drop = Strings(*caps, "drop", caps_path);
    }
    out.se_linux_options = SELinux(se_linux_options, path);
    out.seccomp_profile = Profile(seccomp_profile, "seccompProfile", path);
    out.app_armor_profile = Profile(app_armor_profile, "appArmorProfile", path);
    WindowsOptions(windows_options, path, out);
  }

  // probes and lifecycle handlers that can name a host
  struct HandlerField {
    std::size_t parent_index;  // in kHandlerParents
    std::string_view parent;   // livenessProbe, lifecycle
    std::string_view handler;  // "" for probes, postStart/preStop for lifecycle
    std::string_view action;   // httpGet, tcpSocket
    std::string_view field;    // the dotted path reported
  };
  static constexpr std::array<std::string_view, 4> kHandlerParents{
      "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"};
  static constexpr std::array<HandlerField, 10> kHandlerFields{{
      {0, "livenessProbe", "", "httpGet", "livenessProbe.httpGet.host"},
      {0, "livenessProbe", "", "tcpSocket", "livenessProbe.tcpSocket.host"},
      {1, "readinessProbe", "", "httpGet", "readinessProbe.httpGet.host"},
      {1, "readinessProbe", "", "tcpSocket", "readinessProbe.tcpSocket.host"},
      {2, "startupProbe", "", "httpGet", "startupProbe.httpGet.host"},
      {2, "startupProbe", "", "tcpSocket", "startupProbe.tcpSocket.host"},
      {3, "lifecycle", "postStart", "httpGet", "lifecycle.postStart.httpGet.host"},
      {3, "lifecycle", "postStart", "tcpSocket", "lifecycle.postStart.tcpSocket.host"},
      {3, "lifecycle", "preStop", "httpGet", "lifecycle.preStop.httpGet.host"},
      {3, "lifecycle", "preStop", "tcpSocket", "lifecycle.preStop.tcpSocket.host"},
  }};

  // `parents`: the container's members named in kHandlerParents, in that order.
  void ReadHandlerHosts(const std::array<const Value*, kHandlerParents.size()>& parents,
                        const Path& path, Container& out) {
    for (const HandlerField& f : kHandlerFields) {
      const Value* parent = parents[f.parent_index];
      if (parent == nullptr) continue;
      if (!parent->IsObject()) {
        // Report once per parent object, on its first field.
        if (f.action == "httpGet" && (f.handler.empty() || f.handler == "postStart")) {
          Fail(path.Child(f.parent), "an object", *parent);
        }
        continue;
      }
      Path parent_path = path.Child(f.parent);
      const Value* handler = parent;
      Path handler_path = parent_path;
      if (!f.handler.empty()) {
        handler = Object(*parent, f.handler, parent_path);
        if (handler == nullptr) continue;
        handler_path = parent_path.Child(f.handler);
      }
      // handler_path may refer to parent_path; both live in this scope.
      const Value* action = Find(*handler, f.action);
      if (action == nullptr) continue;
      const Path action_path = handler_path.Child(f.action);
      if (!action->IsObject()) {
        Fail(action_path, "an object", *action);
        continue;
      }
      if (auto host = String(*action, "host", action_path)) {
        out.handler_hosts.push_back(HandlerHost{f.field, *host});
      }
    }
  }

  void ReadContainers(const Value* value, std::string_view list_name, ContainerKind kind,
                      const Path& spec_path, std::vector<Container>& out) {
    const Value* list = Array(value, list_name, spec_path);
    if (list == nullptr) return;
    const Path list_path = spec_path.Child(list_name);
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const Value& item = (*list)[i];
      const Path path = list_path.Item(i);
      if (!item.IsObject()) {
        Fail(path, "an object", item);
        continue;
      }
      Container& c = out.emplace_back();
      c.kind = kind;
      c.index = i;
      static constexpr std::array<std::string_view, 4 + kHandlerParents.size()> kKeys{
          "name",
          "image",
          "securityContext",
          "ports",
          kHandlerParents[0],
          kHandlerParents[1],
          kHandlerParents[2],
          kHandlerParents[3]};
      const auto found = FindAll(item, kKeys);
      c.name = String(found[0], "name", path).value_or(std::string_view{});
      c.image = String(found[1], "image", path);
      ReadContainerSecurityContext(found[2], path, c.security_context);
      if (const Value* ports = Array(found[3], "ports", path)) {
        const Path ports_path = path.Child("ports");
        for (rapidjson::SizeType p = 0; p < ports->Size(); ++p) {
          const Value& port = (*ports)[p];
          if (port.IsNull()) continue;
          if (!port.IsObject()) {
            Fail(ports_path.Item(p), "an object", port);
            continue;
          }
          if (auto host_port = Int(port, "hostPort", ports_path.Item(p))) {
            c.host_ports.push_back(*host_port);
          }
        }
      }
      ReadHandlerHosts({found[4], found[5], found[6], found[7]}, path, c);
    }
  }

  void ReadVolumes(const Value* value, const Path& spec_path, std::vector<Volume>& out) {
    const Value* list = Array(value, "volumes", spec_path);
    if (list == nullptr) return;
    const Path list_path = spec_path.Child("volumes");
    out.reserve(list->Size());
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const Value& item = (*list)[i];
      if (!item.IsObject()) {
        Fail(list_path.Item(i), "an object", item);
        continue;
      }
      Volume& v = out.emplace_back();
      v.name = String(item, "name", list_path.Item(i)).value_or(std::string_view{});
      for (auto it = item.MemberBegin(); it != item.MemberEnd(); ++it) {
        const std::string_view key = View(it->name);
        if (key == "name" || it->value.IsNull()) continue;
        v.sources.push_back(key);
      }
    }
  }

  void Read(const Value& object, Pod& pod) {
    const Path root;
    if (!object.IsObject()) {
      std::string rendered(prefix_);
      if (!rendered.empty() && rendered.back() == '.') rendered.pop_back();
      errors_.push_back(FieldError{
          rendered.empty() ? "object" : rendered,
          "must be an object, got " + std::string(json::TypeName(object, json::Words::kJson))});
      return;
    }
    if (const Value* metadata = Object(object, "metadata", root)) {
      pod.metadata_present = true;
      const Path metadata_path = root.Child("metadata");
      if (const Value* annotations = Object(*metadata, "annotations", metadata_path)) {
        pod.annotations_present = true;
        const Path annotations_path = metadata_path.Child("annotations");
        for (auto it = annotations->MemberBegin(); it != annotations->MemberEnd(); ++it) {
          if (!it->value.IsString()) {
            Fail(annotations_path.Child(View(it->name)), "a string", it->value);
            continue;
          }
          pod.AddAnnotation(View(it->name), View(it->value));
        }
      }
    }
    const Value* spec = Find(object, "spec");
    const Path spec_path = root.Child("spec");
    if (spec == nullptr) {
      Missing(spec_path);
      return;
    }
    if (!spec->IsObject()) {
      Fail(spec_path, "an object", *spec);
      return;
    }
    static constexpr std::array<std::string_view, 11> kKeys{"os",
                                                            "hostUsers",
                                                            "hostNetwork",
                                                            "hostPID",
                                                            "hostIPC",
                                                            "runtimeClassName",
                                                            "securityContext",
                                                            "volumes",
                                                            "initContainers",
                                                            "containers",
                                                            "ephemeralContainers"};
    const auto [os_value, host_users, host_network, host_pid, host_ipc, runtime_class_name,
                security_context, volumes, init_containers, containers, ephemeral_containers] =
        FindAll(*spec, kKeys);
    if (const Value* os = Object(os_value, "os", spec_path)) {
      pod.os_name = String(*os, "name", spec_path.Child("os"));
    }
    pod.host_users = Bool(host_users, "hostUsers", spec_path);
    pod.host_network = Bool(host_network, "hostNetwork", spec_path);
    pod.host_pid = Bool(host_pid, "hostPID", spec_path);
    pod.host_ipc = Bool(host_ipc, "hostIPC", spec_path);
    pod.runtime_class_name = String(runtime_class_name, "runtimeClassName", spec_path);
    ReadPodSecurityContext(security_context, spec_path, pod.security_context);
    ReadVolumes(volumes, spec_path, pod.volumes);
    // Reserved at once: a pod may have tens of thousands of containers, each a large struct.
    std::size_t container_count = 0;
    for (const Value* list : {init_containers, containers, ephemeral_containers}) {
      if (list != nullptr && list->IsArray()) container_count += list->Size();
    }
    if (container_count > kMaxPodContainers) {
      Report(spec_path, "has " + std::to_string(container_count) +
                            " containers (initContainers, containers and ephemeralContainers "
                            "together); Palisade judges pods of at most " +
                            std::to_string(kMaxPodContainers));
      return;
    }
    pod.containers.reserve(container_count);
    ReadContainers(init_containers, "initContainers", ContainerKind::kInit, spec_path,
                   pod.containers);
    ReadContainers(containers, "containers", ContainerKind::kRegular, spec_path, pod.containers);
    ReadContainers(ephemeral_containers, "ephemeralContainers", ContainerKind::kEphemeral,
                   spec_path, pod.containers);
  }

 private:
  std::string_view prefix_;
  std::vector<FieldError>& errors_;
};

}  // namespace

std::string_view Container::ListName() const {
  switch (kind) {
    case ContainerKind::kInit:
      return "initContainers";
    case ContainerKind::kRegular:
      return "containers";
    case ContainerKind::kEphemeral:
      return "ephemeralContainers";
  }
  return "containers";
}

std::optional<std::string_view> Pod::Annotation(std::string_view key) const {
  if (!annotation_index.empty()) {
    const auto it = annotation_index.find(key);
    if (it == annotation_index.end()) return std::nullopt;
    return annotations[it->second].second;
  }
  for (const auto& [k, v] : annotations) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> Pod::Annotation(std::string_view prefix,
                                                std::string_view name) const {
  if (annotations.empty()) return std::nullopt;
  if (annotation_index.empty()) {
    for (const auto& [k, v] : annotations) {
      if (k.size() == prefix.size() + name.size() && k.starts_with(prefix) && k.ends_with(name))
        return v;
    }
    return std::nullopt;
  }
  char buffer[256];
  if (prefix.size() + name.size() > sizeof buffer) {
    return Annotation(std::string(prefix).append(name));
  }
  // Either view may be empty with a null data pointer, which memcpy must not be given.
  if (!prefix.empty()) std::memcpy(buffer, prefix.data(), prefix.size());
  if (!name.empty()) std::memcpy(buffer + prefix.size(), name.data(), name.size());
  return Annotation(std::string_view(buffer, prefix.size() + name.size()));
}

void Pod::AddAnnotation(std::string_view key, std::string_view value) {
  // A few annotations are scanned; past kIndexFrom they are hashed, so that a pod with tens of
  // thousands of them costs linear time to read and to look up per container. Up to 32 the scans
  // (mostly a length compared) cost less than hashing each key and allocating its node.
  constexpr std::size_t kIndexFrom = 32;
  if (annotation_index.empty()) {
    for (auto& [k, v] : annotations) {
      if (k == key) {
        v = value;  // the last of duplicate keys wins
        return;
      }
    }
    annotations.emplace_back(key, value);
    if (annotations.size() == kIndexFrom) {
      annotation_index.reserve(2 * kIndexFrom);
      for (std::size_t i = 0; i < annotations.size(); ++i) {
        annotation_index.emplace(annotations[i].first, i);
      }
    }
    return;
  }
  const auto [it, inserted] = annotation_index.try_emplace(key, annotations.size());
  if (inserted) {
    annotations.emplace_back(key, value);
  } else {
    annotations[it->second].second = value;
  }
}

PodReadResult ReadPod(const rapidjson::Value& object, std::string_view path_prefix) {
  PodReadResult result;
  PodReader reader(path_prefix, result.errors);
  reader.Read(object, result.pod);
  return result;
}

}  // namespace palisade::policy
