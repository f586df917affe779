#include "policy/mutator.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "policy/json_access.h"
#include "policy/review.h"

namespace palisade::policy {
namespace {

using rapidjson::Pointer;
using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

bool Contains(const std::vector<std::string_view>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::vector<std::string_view> Strings(const Value* list) {
  std::vector<std::string_view> out;
  if (list == nullptr || !list->IsArray()) return out;
  for (const Value& item : list->GetArray()) {
    if (item.IsString()) out.push_back(json::View(item));
  }
  return out;
}

bool ImageExempt(const Value& container, const EffectivePolicy& policy) {
  const std::string_view image = json::String(container, "image");
  for (const std::string& glob : policy.exempt_images) {
    if (GlobMatch(glob, image)) return true;
  }
  return false;
}

Value ProfileValue(const Profile& profile, Allocator& allocator) {
  Value value(rapidjson::kObjectType);
  if (profile.type == "Localhost") {
    value.AddMember("localhostProfile", Value(profile.localhost_profile, allocator), allocator);
  }
  value.AddMember("type", Value(profile.type, allocator), allocator);
  return value;
}

std::string AppArmorAnnotationValue(const Profile& profile) {
  if (profile.type == "Localhost") return "localhost/" + profile.localhost_profile;
  if (profile.type == "Unconfined") return "unconfined";
  return "runtime/default";
}

Value StringList(const std::vector<std::string_view>& items, Allocator& allocator) {
  Value list(rapidjson::kArrayType);
  for (std::string_view item : items) {
    list.PushBack(Value(item.data(), static_cast<rapidjson::SizeType>(item.size()), allocator),
                  allocator);
  }
  return list;
}

struct ContainerEntry {
  const Value* json = nullptr;
  std::string_view list;  // "initContainers", "containers", "ephemeralContainers"
  rapidjson::SizeType index = 0;
  std::string_view name;
  bool patchable = false;  // not exempt, and changeable by this request
};

// What one container gets; fields in the alphabetical order they are written.
struct ContainerDefaults {
  std::optional<bool> allow_privilege_escalation;
  const Profile* app_armor_profile = nullptr;
  std::vector<std::string_view> add_append, drop_append;
  std::optional<bool> run_as_non_root;
  const Profile* seccomp_profile = nullptr;

  bool empty() const {
    return !allow_privilege_escalation && app_armor_profile == nullptr && add_append.empty() &&
           drop_append.empty() && !run_as_non_root && seccomp_profile == nullptr;
  }
};

class PatchBuilder {
 public:
  PatchBuilder(Mutation& mutation, const Pointer& base) : mutation_(mutation), base_(base) {}

  Allocator& allocator() { return mutation_.patch.GetAllocator(); }

  // `tokens` are appended to the base pointer; "-" appends to a list.
  void Add(std::initializer_list<std::string_view> tokens, Value value) {
    Pointer pointer = base_;
    for (std::string_view token : tokens) {
      pointer = pointer.Append(token.data(), static_cast<rapidjson::SizeType>(token.size()));
    }
    AddAt(pointer, std::move(value));
  }

  void AddAt(const Pointer& pointer, Value value) {
    rapidjson::StringBuffer path;
    pointer.Stringify(path);  // escapes '~' and '/' in tokens
    Value op(rapidjson::kObjectType);
    op.AddMember("op", "add", allocator());
    op.AddMember("path", Value(path.GetString(), path.GetSize(), allocator()), allocator());
    op.AddMember("value", value, allocator());
    mutation_.patch.PushBack(op, allocator());
  }

  Pointer ContainerPointer(const ContainerEntry& container) const {
    return base_.Append("spec", 4)
        .Append(container.list.data(), static_cast<rapidjson::SizeType>(container.list.size()))
        .Append(container.index);
  }

 private:
  Mutation& mutation_;
  const Pointer& base_;
};

Pointer Child(const Pointer& pointer, std::string_view token) {
  return pointer.Append(token.data(), static_cast<rapidjson::SizeType>(token.size()));
}

void EmitContainer(PatchBuilder& builder, const ContainerEntry& container,
                   const ContainerDefaults& defaults) {
  Allocator& allocator = builder.allocator();
  const Pointer container_pointer = builder.ContainerPointer(container);
  const Pointer sc_pointer = Child(container_pointer, "securityContext");
  const Value* sc = json::Object(*container.json, "securityContext");

  auto capabilities_value = [&]() {
    Value caps(rapidjson::kObjectType);
    if (!defaults.add_append.empty()) {
      caps.AddMember("add", StringList(defaults.add_append, allocator), allocator);
    }
    if (!defaults.drop_append.empty()) {
      caps.AddMember("drop", StringList(defaults.drop_append, allocator), allocator);
    }
    return caps;
  };
  const bool caps_needed = !defaults.add_append.empty() || !defaults.drop_append.empty();

  if (sc == nullptr) {  // one op creating the whole securityContext
    Value value(rapidjson::kObjectType);
    if (defaults.allow_privilege_escalation) {
      value.AddMember("allowPrivilegeEscalation", *defaults.allow_privilege_escalation, allocator);
    }
    if (defaults.app_armor_profile != nullptr) {
      value.AddMember("appArmorProfile", ProfileValue(*defaults.app_armor_profile, allocator),
                      allocator);
    }
    if (caps_needed) value.AddMember("capabilities", capabilities_value(), allocator);
    if (defaults.run_as_non_root) {
      value.AddMember("runAsNonRoot", *defaults.run_as_non_root, allocator);
    }
    if (defaults.seccomp_profile != nullptr) {
      value.AddMember("seccompProfile", ProfileValue(*defaults.seccomp_profile, allocator),
                      allocator);
    }
    builder.AddAt(sc_pointer, std::move(value));
    return;
  }
  if (defaults.allow_privilege_escalation) {
    builder.AddAt(Child(sc_pointer, "allowPrivilegeEscalation"),
                  Value(*defaults.allow_privilege_escalation));
  }
  if (defaults.app_armor_profile != nullptr) {
    builder.AddAt(Child(sc_pointer, "appArmorProfile"),
                  ProfileValue(*defaults.app_armor_profile, allocator));
  }
  if (caps_needed) {
    const Pointer caps_pointer = Child(sc_pointer, "capabilities");
    const Value* caps = json::Object(*sc, "capabilities");
    if (caps == nullptr) {
      builder.AddAt(caps_pointer, capabilities_value());
    } else {
      for (std::string_view list_name : {std::string_view("add"), std::string_view("drop")}) {
        const auto& items = list_name == "add" ? defaults.add_append : defaults.drop_append;
        if (items.empty()) continue;
        const Pointer list_pointer = Child(caps_pointer, list_name);
        if (json::Array(*caps, list_name) == nullptr) {
          builder.AddAt(list_pointer, StringList(items, allocator));
        } else {
          for (std::string_view item : items) {
            builder.AddAt(
                Child(list_pointer, "-"),
                Value(item.data(), static_cast<rapidjson::SizeType>(item.size()), allocator));
          }
        }
      }
    }
  }
  if (defaults.run_as_non_root) {
    builder.AddAt(Child(sc_pointer, "runAsNonRoot"), Value(*defaults.run_as_non_root));
  }
  if (defaults.seccomp_profile != nullptr) {
    builder.AddAt(Child(sc_pointer, "seccompProfile"),
                  ProfileValue(*defaults.seccomp_profile, allocator));
  }
}

std::vector<std::string_view> SplitComma(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

Mutation ComputeDefaults(const Value& pod, const Pointer& base, const EffectivePolicy& policy,
                         const MutationOptions& options) {
  Mutation mutation;
  if (!policy.HasDefaults() || !pod.IsObject()) return mutation;
  const Value* spec = json::Object(pod, "spec");
  if (spec == nullptr) return mutation;
  const Value* metadata = json::Object(pod, "metadata");
  const Value* annotations = metadata ? json::Object(*metadata, "annotations") : nullptr;
  const Value* pod_sc = json::Object(*spec, "securityContext");
  const Value* os = json::Object(*spec, "os");
  const bool windows = os != nullptr && json::String(*os, "name") == "windows";
  const bool field_apparmor = options.kubernetes_minor >= 30;

  std::vector<ContainerEntry> containers;
  for (std::string_view list_name : {"initContainers", "containers", "ephemeralContainers"}) {
    const Value* list = json::Array(*spec, list_name);
    if (list == nullptr) continue;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const Value& item = (*list)[i];
      if (!item.IsObject()) continue;
      ContainerEntry entry{&item, list_name, i, json::String(item, "name"), false};
      const bool ephemeral = list_name == "ephemeralContainers";
      entry.patchable = !ImageExempt(item, policy) &&
                        (!options.ephemeral_update ||
                         (ephemeral && !Contains(options.old_ephemeral_names, entry.name)));
      containers.push_back(entry);
    }
  }

  auto annotation_of = [&](std::string_view container_name) -> const Value* {
    if (annotations == nullptr) return nullptr;
    const std::string key = std::string(kAppArmorAnnotationPrefix) + std::string(container_name);
    return json::Member(*annotations, key);
  };
  auto container_sc = [](const ContainerEntry& c) {
    return json::Object(*c.json, "securityContext");
  };
  auto container_has = [&](const ContainerEntry& c, std::string_view field) {
    const Value* sc = container_sc(c);
    if (sc != nullptr && json::Member(*sc, field) != nullptr) return true;
    return field == "appArmorProfile" && annotation_of(c.name) != nullptr;
  };

  std::vector<ContainerDefaults> per_container(containers.size());
  std::vector<std::string> fields;
  PatchBuilder builder(mutation, base);
  Allocator& allocator = mutation.patch.GetAllocator();

  // runtimeClassName: pod level only, and not changeable after creation.
  const bool pod_patchable = !options.ephemeral_update;
  if (pod_patchable && policy.default_runtime_class_name &&
      json::Member(*spec, "runtimeClassName") == nullptr) {
    builder.Add({"spec", "runtimeClassName"}, Value(*policy.default_runtime_class_name, allocator));
    fields.push_back("runtimeClassName");
  }

  // Fields that exist at pod level and per container (a container's value wins): set at pod level
  // unless that would reach a container we must not touch; then on each container that needs it.
  Value pod_sc_additions(rapidjson::kObjectType);
  auto place = [&](std::string_view field, auto assign_container, auto pod_value) {
    if (pod_sc != nullptr && json::Member(*pod_sc, field) != nullptr) return;
    bool untouchable_needs = false;
    std::vector<std::size_t> needing;
    for (std::size_t i = 0; i < containers.size(); ++i) {
      if (container_has(containers[i], field)) continue;
      if (containers[i].patchable) {
        needing.push_back(i);
      } else {
        untouchable_needs = true;
      }
    }
    if (needing.empty()) return;
    fields.emplace_back(field);
    if (untouchable_needs || !pod_patchable) {
      for (std::size_t i : needing) assign_container(per_container[i]);
    } else {
      pod_sc_additions.AddMember(
          Value(field.data(), static_cast<rapidjson::SizeType>(field.size()), allocator),
          pod_value(), allocator);
    }
  };
  if (!windows && field_apparmor && policy.default_app_armor_profile) {
    const Profile& profile = *policy.default_app_armor_profile;
    place(
        "appArmorProfile", [&](ContainerDefaults& d) { d.app_armor_profile = &profile; },
        [&] { return ProfileValue(profile, allocator); });
  }
  if (policy.default_run_as_non_root) {
    const bool value = *policy.default_run_as_non_root;
    place(
        "runAsNonRoot", [&](ContainerDefaults& d) { d.run_as_non_root = value; },
        [&] { return Value(value); });
  }
  if (!windows && policy.default_seccomp_profile) {
    const Profile& profile = *policy.default_seccomp_profile;
    place(
        "seccompProfile", [&](ContainerDefaults& d) { d.seccomp_profile = &profile; },
        [&] { return ProfileValue(profile, allocator); });
  }
  if (!pod_sc_additions.ObjectEmpty()) {
    if (pod_sc == nullptr) {
      builder.Add({"spec", "securityContext"}, std::move(pod_sc_additions));
    } else {
      for (const auto& member : std::as_const(pod_sc_additions).GetObject()) {
        builder.Add({"spec", "securityContext", json::View(member.name)},
                    Value(member.value, allocator));
      }
    }
  }

  // Container-level fields.
  std::map<std::string, std::string> new_annotations;
  const bool annotation_apparmor =
      !windows && !field_apparmor && pod_patchable && policy.default_app_armor_profile.has_value();
  const bool pod_apparmor_field = pod_sc != nullptr && json::Member(*pod_sc, "appArmorProfile");
  for (std::size_t i = 0; i < containers.size(); ++i) {
    const ContainerEntry& container = containers[i];
    if (!container.patchable) continue;
    ContainerDefaults& d = per_container[i];
    const Value* sc = container_sc(container);
    const Value* caps = sc ? json::Object(*sc, "capabilities") : nullptr;
    const std::vector<std::string_view> has_add =
        Strings(caps ? json::Member(*caps, "add") : nullptr);
    const std::vector<std::string_view> has_drop =
        Strings(caps ? json::Member(*caps, "drop") : nullptr);
    if (!windows) {
      if (policy.default_capabilities_drop) {
        for (const std::string& cap : *policy.default_capabilities_drop) {
          if (!Contains(has_drop, cap) && !Contains(d.drop_append, cap))
            d.drop_append.push_back(cap);
        }
      }
      if (policy.default_capabilities_add) {
        for (const std::string& cap : *policy.default_capabilities_add) {
          if (!Contains(has_add, cap) && !Contains(has_drop, cap) && !Contains(d.add_append, cap)) {
            d.add_append.push_back(cap);
          }
        }
      }
      if (policy.default_allow_privilege_escalation &&
          (sc == nullptr || json::Member(*sc, "allowPrivilegeEscalation") == nullptr)) {
        const Value* privileged = sc ? json::Member(*sc, "privileged") : nullptr;
        const bool is_privileged =
            privileged != nullptr && privileged->IsBool() && privileged->GetBool();
        auto adds_sys_admin = [](const std::vector<std::string_view>& list) {
          return Contains(list, "SYS_ADMIN") || Contains(list, "CAP_SYS_ADMIN");
        };
        // The API server rejects allowPrivilegeEscalation=false with privileged or CAP_SYS_ADMIN.
        const bool conflicts =
            *policy.default_allow_privilege_escalation == false &&
            (is_privileged || adds_sys_admin(has_add) || adds_sys_admin(d.add_append));
        if (!conflicts) d.allow_privilege_escalation = *policy.default_allow_privilege_escalation;
      }
      if (annotation_apparmor && container.list != "ephemeralContainers" && !pod_apparmor_field &&
          !container_has(container, "appArmorProfile")) {
        new_annotations.emplace(
            std::string(kAppArmorAnnotationPrefix) + std::string(container.name),
            AppArmorAnnotationValue(*policy.default_app_armor_profile));
      }
    }
    if (!d.drop_append.empty()) fields.push_back("capabilities.drop");
    if (!d.add_append.empty()) fields.push_back("capabilities.add");
    if (d.allow_privilege_escalation) fields.push_back("allowPrivilegeEscalation");
    if (d.empty()) continue;
    EmitContainer(builder, container, d);
  }
  if (!new_annotations.empty()) fields.push_back("appArmorProfile");

  std::sort(fields.begin(), fields.end());
  fields.erase(std::unique(fields.begin(), fields.end()), fields.end());
  mutation.fields = fields;
  if (fields.empty() || !pod_patchable) return mutation;

  // Record what was filled in, merged with what an earlier invocation recorded.
  std::vector<std::string> recorded(fields.begin(), fields.end());
  std::string_view existing;
  if (annotations != nullptr) existing = json::String(*annotations, kDefaultedAnnotation);
  for (std::string_view item : SplitComma(existing)) recorded.emplace_back(item);
  std::sort(recorded.begin(), recorded.end());
  recorded.erase(std::unique(recorded.begin(), recorded.end()), recorded.end());
  std::string joined;
  for (const std::string& item : recorded) {
    if (!joined.empty()) joined += ',';
    joined += item;
  }
  if (joined != existing) new_annotations.emplace(std::string(kDefaultedAnnotation), joined);
  if (new_annotations.empty()) return mutation;

  Value annotation_values(rapidjson::kObjectType);
  for (const auto& [key, value] : new_annotations) {
    annotation_values.AddMember(Value(key, allocator), Value(value, allocator), allocator);
  }
  if (metadata == nullptr) {
    Value value(rapidjson::kObjectType);
    value.AddMember("annotations", annotation_values, allocator);
    builder.Add({"metadata"}, std::move(value));
  } else if (annotations == nullptr) {
    builder.Add({"metadata", "annotations"}, std::move(annotation_values));
  } else {
    for (const auto& member : std::as_const(annotation_values).GetObject()) {
      builder.Add({"metadata", "annotations", json::View(member.name)},
                  Value(member.value, allocator));
    }
  }
  return mutation;
}

void ApplyPatch(const Value& patch, rapidjson::Document& target) {
  if (!patch.IsArray()) return;
  for (const Value& op : patch.GetArray()) {
    const Value* path = json::Member(op, "path");
    const Value* value = json::Member(op, "value");
    if (path == nullptr || !path->IsString() || value == nullptr) continue;
    const Pointer pointer(path->GetString(), path->GetStringLength());
    if (!pointer.IsValid()) continue;
    pointer.Set(target, Value(*value, target.GetAllocator()));
  }
}

namespace {

// `value` as rapidjson::Writer writes it, a run at a time rather than a character at a time.
void AppendJson(std::string& out, const Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      out += "null";
      return;
    case rapidjson::kFalseType:
      out += "false";
      return;
    case rapidjson::kTrueType:
      out += "true";
      return;
    case rapidjson::kStringType:
      AppendJsonString(out, json::View(value));
      return;
    case rapidjson::kObjectType: {
      out += '{';
      bool first = true;
      for (const auto& member : value.GetObject()) {
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, json::View(member.name));
        out += ':';
        AppendJson(out, member.value);
      }
      out += '}';
      return;
    }
    case rapidjson::kArrayType: {
      out += '[';
      bool first = true;
      for (const Value& item : value.GetArray()) {
        if (!first) out += ',';
        first = false;
        AppendJson(out, item);
      }
      out += ']';
      return;
    }
    case rapidjson::kNumberType: {
      // Rare in a patch; the writer's own formatting (doubles especially).
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      value.Accept(writer);
      out.append(buffer.GetString(), buffer.GetSize());
      return;
    }
  }
}

}  // namespace

std::string PatchJson(const Value& patch) {
  std::string out;
  out.reserve(1024);
  AppendJson(out, patch);
  return out;
}

}  // namespace palisade::policy
