#include "policy/apiserver_defaults.h"

#include <rapidjson/pointer.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/json_access.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// The members of core/v1 VolumeSource: a volume with none of them set is an emptyDir.
constexpr std::array<std::string_view, 30> kVolumeSources{"hostPath",
                                                          "emptyDir",
                                                          "gcePersistentDisk",
                                                          "awsElasticBlockStore",
                                                          "gitRepo",
                                                          "secret",
                                                          "nfs",
                                                          "iscsi",
                                                          "glusterfs",
                                                          "persistentVolumeClaim",
                                                          "rbd",
                                                          "flexVolume",
                                                          "cinder",
                                                          "cephfs",
                                                          "flocker",
                                                          "downwardAPI",
                                                          "fc",
                                                          "azureFile",
                                                          "configMap",
                                                          "vsphereVolume",
                                                          "quobyte",
                                                          "azureDisk",
                                                          "photonPersistentDisk",
                                                          "projected",
                                                          "portworxVolume",
                                                          "scaleIO",
                                                          "storageos",
                                                          "csi",
                                                          "ephemeral",
                                                          "image"};

Value* MutableMember(Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(
      Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

Value* MutableObject(Value& object, std::string_view name) {
  Value* value = MutableMember(object, name);
  return value != nullptr && value->IsObject() ? value : nullptr;
}

Value* MutableArray(Value& object, std::string_view name) {
  Value* value = MutableMember(object, name);
  return value != nullptr && value->IsArray() ? value : nullptr;
}

// Sets object[name] = value, replacing a null member of that name.
void Put(Value& object, std::string_view name, Value value, Allocator& allocator) {
  const auto it = object.FindMember(
      Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  if (it != object.MemberEnd()) {
    it->value = std::move(value);
    return;
  }
  object.AddMember(Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), allocator),
                   std::move(value), allocator);
}

// object[name] as an object, created when unset; nullptr when it holds something else.
Value* ObjectMember(Value& object, std::string_view name, Allocator& allocator) {
  if (Value* existing = MutableMember(object, name)) {
    return existing->IsObject() ? existing : nullptr;
  }
  Put(object, name, Value(rapidjson::kObjectType), allocator);
  return MutableMember(object, name);
}

void DefaultVolumes(Value& spec, Allocator& allocator) {
  Value* volumes = MutableArray(spec, "volumes");
  if (volumes == nullptr) return;
  for (Value& volume : volumes->GetArray()) {
    if (!volume.IsObject()) continue;
    bool has_source = false;
    for (std::string_view source : kVolumeSources) {
      if (json::Member(volume, source) != nullptr) {
        has_source = true;
        break;
      }
    }
    if (!has_source) Put(volume, "emptyDir", Value(rapidjson::kObjectType), allocator);
  }
}

void DefaultHostPorts(Value& spec, Allocator& allocator) {
  const Value* host_network = json::Member(spec, "hostNetwork");
  if (host_network == nullptr || !host_network->IsBool() || !host_network->GetBool()) return;
  for (std::string_view list_name : {"containers", "initContainers"}) {
    Value* list = MutableArray(spec, list_name);
    if (list == nullptr) continue;
    for (Value& container : list->GetArray()) {
      Value* ports = container.IsObject() ? MutableArray(container, "ports") : nullptr;
      if (ports == nullptr) continue;
      for (Value& port : ports->GetArray()) {
        if (!port.IsObject()) continue;
        const Value* container_port = json::Member(port, "containerPort");
        if (container_port == nullptr || !container_port->IsInt64()) continue;
        const Value* host_port = json::Member(port, "hostPort");
        if (host_port != nullptr && !(host_port->IsInt64() && host_port->GetInt64() == 0)) continue;
        Put(port, "hostPort", Value(container_port->GetInt64()), allocator);
      }
    }
  }
}

struct ProfileValue {
  std::string type;
  std::optional<std::string> localhost_profile;
};

std::optional<ProfileValue> ReadProfile(const Value* profile) {
  if (profile == nullptr || !profile->IsObject()) return std::nullopt;
  ProfileValue out;
  out.type = std::string(json::String(*profile, "type"));
  if (const Value* localhost = json::Member(*profile, "localhostProfile");
      localhost != nullptr && localhost->IsString()) {
    out.localhost_profile = std::string(json::View(*localhost));
  }
  return out;
}

Value ProfileJson(const ProfileValue& profile, Allocator& allocator) {
  Value out(rapidjson::kObjectType);
  out.AddMember("type", Value(profile.type.c_str(), allocator), allocator);
  if (profile.localhost_profile) {
    out.AddMember("localhostProfile", Value(profile.localhost_profile->c_str(), allocator),
                  allocator);
  }
  return out;
}

// podutil.ApparmorFieldForAnnotation, keeping only what ValidateAppArmorProfileField accepts.
std::optional<ProfileValue> AppArmorFieldFor(std::string_view annotation) {
  if (annotation == "unconfined") return ProfileValue{"Unconfined", std::nullopt};
  if (annotation == "runtime/default") return ProfileValue{"RuntimeDefault", std::nullopt};
  if (annotation.starts_with("localhost/") && annotation.size() > 10) {
    return ProfileValue{"Localhost", std::string(annotation.substr(10))};
  }
  return std::nullopt;
}

// podutil.SeccompFieldForAnnotation
std::optional<ProfileValue> SeccompFieldFor(std::string_view annotation) {
  if (annotation == "unconfined") return ProfileValue{"Unconfined", std::nullopt};
  if (annotation == "runtime/default" || annotation == "docker/default") {
    return ProfileValue{"RuntimeDefault", std::nullopt};
  }
  if (annotation.starts_with("localhost/") && annotation.size() > 10) {
    return ProfileValue{"Localhost", std::string(annotation.substr(10))};
  }
  return std::nullopt;
}

// podutil.SeccompAnnotationForField; "" when there is none.
std::string SeccompAnnotationFor(const ProfileValue& field) {
  if (field.type == "Unconfined") return "unconfined";
  if (field.type == "RuntimeDefault") return "runtime/default";
  if (field.type == "Localhost" && field.localhost_profile) {
    return "localhost/" + *field.localhost_profile;
  }
  return "";
}

bool SameProfile(const ProfileValue& a, const std::optional<ProfileValue>& b) {
  return b && a.type == b->type && a.localhost_profile == b->localhost_profile;
}

// The pod's containers (init, regular, ephemeral, as VisitContainers walks them).
template <class Visit>
void ForEachContainer(Value& spec, Visit visit) {
  for (std::string_view list_name : {"initContainers", "containers", "ephemeralContainers"}) {
    Value* list = MutableArray(spec, list_name);
    if (list == nullptr) continue;
    for (Value& container : list->GetArray()) {
      if (container.IsObject()) visit(container);
    }
  }
}

class PodAnnotations {
 public:
  // Indexed once (sorted, the first of duplicate keys as json::Member finds it): a lookup per
  // container stays n log n on a pod with tens of thousands of annotations.
  PodAnnotations(Value& pod, Allocator& allocator) : pod_(pod), allocator_(allocator) {
    const Value* metadata = json::Object(pod_, "metadata");
    const Value* annotations = metadata ? json::Object(*metadata, "annotations") : nullptr;
    if (annotations == nullptr) return;
    for (const auto& member : annotations->GetObject()) {
      if (member.value.IsString()) {
        index_.emplace_back(std::string(json::View(member.name)),
                            std::string(json::View(member.value)));
      }
    }
    std::stable_sort(index_.begin(), index_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }

  std::optional<std::string> Get(const std::string& key) const {
    const auto it = std::lower_bound(
        index_.begin(), index_.end(), key,
        [](const auto& entry, const std::string& wanted) { return entry.first < wanted; });
    if (it == index_.end() || it->first != key) return std::nullopt;
    return it->second;
  }

  // Written by Flush: adding metadata to the pod may move its spec, which callers still hold.
  void Set(std::string key, std::string value) {
    pending_.emplace_back(std::move(key), std::move(value));
  }

  void Flush() {
    if (pending_.empty()) return;
    Value* metadata = ObjectMember(pod_, "metadata", allocator_);
    Value* annotations = metadata ? ObjectMember(*metadata, "annotations", allocator_) : nullptr;
    if (annotations == nullptr) return;
    for (const auto& [key, value] : pending_) {
      Put(*annotations, key, Value(value.c_str(), allocator_), allocator_);
    }
    pending_.clear();
  }

 private:
  Value& pod_;
  Allocator& allocator_;
  std::vector<std::pair<std::string, std::string>> pending_;
  std::vector<std::pair<std::string, std::string>> index_;  // read before any Flush
};

void ApplyAppArmorVersionSkew(Value& pod, Value& spec, Allocator& allocator) {
  const PodAnnotations annotations(pod, allocator);
  const Value* pod_sc = json::Object(spec, "securityContext");
  const std::optional<ProfileValue> pod_profile =
      ReadProfile(pod_sc ? json::Member(*pod_sc, "appArmorProfile") : nullptr);
  ForEachContainer(spec, [&](Value& container) {
    const std::optional<std::string> annotation =
        annotations.Get("container.apparmor.security.beta.kubernetes.io/" +
                        std::string(json::String(container, "name")));
    if (!annotation) return;
    const Value* sc = json::Object(container, "securityContext");
    if (sc != nullptr && json::Member(*sc, "appArmorProfile") != nullptr) return;
    const std::optional<ProfileValue> field = AppArmorFieldFor(*annotation);
    if (!field || SameProfile(*field, pod_profile)) return;
    if (Value* security_context = ObjectMember(container, "securityContext", allocator)) {
      Put(*security_context, "appArmorProfile", ProfileJson(*field, allocator), allocator);
    }
  });
}

void ApplySeccompVersionSkew(Value& pod, Value& spec, bool field_to_annotation,
                             Allocator& allocator) {
  PodAnnotations annotations(pod, allocator);
  // One profile holder: the pod's securityContext or a container's.
  auto sync = [&](Value& holder, const std::string& key) {
    const Value* sc = json::Object(holder, "securityContext");
    const std::optional<ProfileValue> field =
        ReadProfile(sc ? json::Member(*sc, "seccompProfile") : nullptr);
    const std::optional<std::string> annotation = annotations.Get(key);
    if (field && !annotation) {
      if (!field_to_annotation) return;
      const std::string value = SeccompAnnotationFor(*field);
      if (!value.empty()) annotations.Set(key, value);
    } else if (annotation && !field) {
      const std::optional<ProfileValue> new_field = SeccompFieldFor(*annotation);
      if (!new_field) return;
      if (Value* security_context = ObjectMember(holder, "securityContext", allocator)) {
        Put(*security_context, "seccompProfile", ProfileJson(*new_field, allocator), allocator);
      }
    }
  };
  sync(spec, "seccomp.security.alpha.kubernetes.io/pod");
  ForEachContainer(spec, [&](Value& container) {
    sync(container, "container.seccomp.security.alpha.kubernetes.io/" +
                        std::string(json::String(container, "name")));
  });
  annotations.Flush();
}

}  // namespace

void ApplyApiServerDefaults(Value& object, ObjectType type, Allocator& allocator,
                            const ApiServerDefaultsOptions& options) {
  const TemplateLocation location = TemplateOf(type);
  Value* pod = &object;
  if (!location.pointer.empty()) {
    pod = rapidjson::Pointer(location.pointer.data(), location.pointer.size()).Get(object);
  }
  if (pod == nullptr || !pod->IsObject()) return;
  Value* spec = MutableObject(*pod, "spec");
  if (spec == nullptr) return;
  const bool is_pod = type == ObjectType::kPod;
  const int minor = options.kubernetes_minor;

  DefaultVolumes(*spec, allocator);
  if (is_pod || minor < 28) DefaultHostPorts(*spec, allocator);
  if (!is_pod) return;  // the rest happens when a pod is created

  const Value* os = json::Object(*spec, "os");
  const bool windows = os != nullptr && json::String(*os, "name") == "windows";
  if (minor >= 30 && !windows) ApplyAppArmorVersionSkew(*pod, *spec, allocator);
  if (minor >= 19 && minor < 27) {
    ApplySeccompVersionSkew(*pod, *spec, /*field_to_annotation=*/minor < 25, allocator);
  }
}

}  // namespace palisade::policy
