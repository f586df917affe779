#include "policy/mutator.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>

#include "policy/json_access.h"
#include "policy/review.h"

namespace palisade::policy {
namespace {

using rapidjson::Pointer;
using rapidjson::Value;

// Whether the JSON array `list` holds the string `item` (not an array: no).
bool ListContains(const Value* list, std::string_view item) {
  if (list == nullptr || !list->IsArray()) return false;
  for (const Value& entry : list->GetArray()) {
    if (entry.IsString() && json::View(entry) == item) return true;
  }
  return false;
}

bool ImageExempt(const Value& container, const EffectivePolicy& policy) {
  return policy.ExemptsImage(json::String(container, "image"));
}

constexpr std::string_view kSeccompPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod";
constexpr std::string_view kSeccompContainerAnnotationPrefix =
    "container.seccomp.security.alpha.kubernetes.io/";

// The annotations whose keys start with one prefix, by the rest of the key (a container name):
// built once per pod so that looking up every container's annotation stays n log n.
class AnnotationsByContainer {
 public:
  AnnotationsByContainer(const Value* annotations, std::string_view prefix) {
    if (annotations == nullptr) return;
    for (const auto& member : annotations->GetObject()) {
      const std::string_view name = json::View(member.name);
      if (name.starts_with(prefix)) {
        entries_.emplace_back(name.substr(prefix.size()), &member.value);
      }
    }
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return a.first < b.first; });
  }
  // As json::Member(annotations, prefix + container): the first member of that name, unset when
  // null.
  const Value* Find(std::string_view container) const {
    const auto it = std::lower_bound(
        entries_.begin(), entries_.end(), container,
        [](const Entry& entry, std::string_view key) { return entry.first < key; });
    if (it == entries_.end() || it->first != container || it->second->IsNull()) return nullptr;
    return it->second;
  }

 private:
  using Entry = std::pair<std::string_view, const Value*>;
  std::vector<Entry> entries_;
};

// Whether the API server accepts a seccompProfile field next to a legacy seccomp annotation of
// `value` (validateSeccompAnnotationsAndFieldsMatch): they must name the same profile.
bool SeccompAnnotationAgrees(const Value& value, const Profile& profile) {
  if (!value.IsString()) return false;
  const std::string_view annotation = json::View(value);
  if (profile.type == "Unconfined") return annotation == "unconfined";
  if (profile.type == "RuntimeDefault") {
    return annotation == "runtime/default" || annotation == "docker/default";
  }
  if (profile.type == "Localhost") {
    return annotation.starts_with("localhost/") &&
           annotation.substr(10) == profile.localhost_profile;
  }
  return false;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// A securityContext's member `name`, or nullptr.
const Value* SecuritySetting(const Value* security_context, std::string_view name) {
  return security_context == nullptr ? nullptr : json::Member(*security_context, name);
}

const Value* WindowsSetting(const Value* security_context, std::string_view name) {
  const Value* options =
      security_context ? json::Object(*security_context, "windowsOptions") : nullptr;
  return options == nullptr ? nullptr : json::Member(*options, name);
}

bool IsTrue(const Value* value) { return value != nullptr && value->IsBool() && value->GetBool(); }

std::string AppArmorAnnotationValue(const Profile& profile) {
  if (profile.type == "Localhost") return "localhost/" + profile.localhost_profile;
  if (profile.type == "Unconfined") return "unconfined";
  return "runtime/default";
}

// Output stream for Pointer::Stringify.
struct StringStream {
  using Ch = char;
  std::string& out;
  void Put(char c) { out.push_back(c); }
  void Flush() {}
};

// Output stream for Pointer::Stringify into a stack buffer; a long path spills into a string.
class PathBuffer {
 public:
  using Ch = char;
  void Clear() {
    size_ = 0;
    spill_.clear();
  }
  void Put(char c) {
    if (size_ < sizeof inline_) {
      inline_[size_++] = c;
      return;
    }
    if (spill_.empty()) spill_.assign(inline_, size_);
    spill_.push_back(c);
    ++size_;
  }
  void Append(std::string_view text) {
    for (char c : text) Put(c);
  }
  void Flush() {}
  std::string_view View() const {
    return size_ <= sizeof inline_ ? std::string_view(inline_, size_) : std::string_view(spill_);
  }

 private:
  char inline_[256];
  std::size_t size_ = 0;
  std::string spill_;
};

// Compact JSON text, written as rapidjson::Writer writes it (strings through AppendJsonString).
class JsonText {
 public:
  explicit JsonText(std::string& out) : out_(out) {}

  void StartObject() {
    Separate();
    out_ += '{';
    first_ = true;
  }
  void EndObject() {
    out_ += '}';
    first_ = false;
  }
  void StartArray() {
    Separate();
    out_ += '[';
    first_ = true;
  }
  void EndArray() {
    out_ += ']';
    first_ = false;
  }
  void Key(std::string_view name) {
    Separate();
    AppendJsonString(out_, name);
    out_ += ':';
    first_ = true;
  }
  void String(std::string_view text) {
    Separate();
    AppendJsonString(out_, text);
    first_ = false;
  }
  void Bool(bool value) {
    Separate();
    out_ += value ? "true" : "false";
    first_ = false;
  }
  // A raw value follows a key or starts a list with no comma of its own.
  void ExpectValue() { first_ = true; }
  std::string& out() { return out_; }

 private:
  void Separate() {
    if (!first_) out_ += ',';
  }

  std::string& out_;
  bool first_ = true;
};

void WriteProfile(JsonText& json, const Profile& profile) {
  json.StartObject();
  if (profile.type == "Localhost") {
    json.Key("localhostProfile");
    json.String(profile.localhost_profile);
  }
  json.Key("type");
  json.String(profile.type);
  json.EndObject();
}

// The patch as JSON text, one "add" op at a time. Paths are the base pointer followed by an op's
// tokens, escaped by rapidjson::Pointer::Stringify (`~0`, `~1`).
class PatchWriter {
 public:
  PatchWriter(const Pointer& base, std::string& out) : json_(out) {
    StringStream stream{base_path_};
    base.Stringify(stream);
    out.reserve(1024);
    out += '[';
  }

  JsonText& json() { return json_; }
  int ops() const { return ops_; }

  // Writes `{"op":"add","path":...,"value":` for base + `tokens`; the caller writes the value and
  // calls EndOp.
  void StartOp(std::initializer_list<std::string_view> tokens) {
    std::array<Pointer::Token, 8> suffix{};
    std::size_t count = 0;
    for (std::string_view token : tokens) {
      suffix[count++] = {token.data(), static_cast<rapidjson::SizeType>(token.size()),
                         rapidjson::kPointerInvalidIndex};
    }
    path_.Clear();
    path_.Append(base_path_);
    Pointer(suffix.data(), count).Stringify(path_);
    std::string& out = json_.out();
    if (ops_ > 0) out += ',';
    out += R"({"op":"add","path":)";
    AppendJsonString(out, path_.View());
    out += R"(,"value":)";
    json_.ExpectValue();
  }
  void EndOp() {
    json_.out() += '}';
    ++ops_;
  }
  void Finish() { json_.out() += ']'; }

 private:
  JsonText json_;
  std::string base_path_;
  PathBuffer path_;
  int ops_ = 0;
};

enum Field : unsigned {  // in alphabetical order of their names
  kAllowPrivilegeEscalation,
  kAppArmorProfile,
  kCapabilitiesAdd,
  kCapabilitiesDrop,
  kRunAsNonRoot,
  kRuntimeClassName,
  kSeccompProfile,
  kFieldCount,
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities.add",
    "capabilities.drop",        "runAsNonRoot",    "runtimeClassName",
    "seccompProfile",
};

struct ContainerEntry {
  const Value* json = nullptr;
  const Value* sc = nullptr;  // securityContext, when an object
  std::string_view list;      // "initContainers", "containers", "ephemeralContainers"
  rapidjson::SizeType index = 0;
  std::string_view name;
  bool patchable = false;  // not exempt, and changeable by this request
  bool needs = false;      // scratch: lacks the field being placed
  // Pod-level fields placed on this container.
  bool app_armor_profile = false;
  bool run_as_non_root = false;
  bool seccomp_profile = false;
};

// A default capability list minus what the container already has: `skip` says which to leave out;
// a name repeated in the list is written once.
template <typename Skip>
bool AnyCapability(const std::optional<std::vector<std::string>>& defaults, Skip skip) {
  if (!defaults) return false;
  for (const std::string& cap : *defaults) {
    if (!skip(cap)) return true;
  }
  return false;
}

template <typename Skip>
void WriteCapabilities(JsonText& json, const std::vector<std::string>& defaults, Skip skip) {
  for (std::size_t i = 0; i < defaults.size(); ++i) {
    const std::string& cap = defaults[i];
    if (skip(cap) || std::find(defaults.begin(), defaults.begin() + static_cast<std::ptrdiff_t>(i),
                               cap) != defaults.begin() + static_cast<std::ptrdiff_t>(i)) {
      continue;
    }
    json.String(cap);
  }
}

// What one container gets; fields in the alphabetical order they are written.
struct ContainerDefaults {
  std::optional<bool> allow_privilege_escalation;
  const Profile* app_armor_profile = nullptr;
  bool add = false, drop = false;  // capabilities to append
  std::optional<bool> run_as_non_root;
  const Profile* seccomp_profile = nullptr;

  bool empty() const {
    return !allow_privilege_escalation && app_armor_profile == nullptr && !add && !drop &&
           !run_as_non_root && seccomp_profile == nullptr;
  }
};

// Capabilities of one container: the lists it already has, and the defaults left to append.
struct CapabilityLists {
  const EffectivePolicy& policy;
  const Value* has_add;   // the container's capabilities.add (any type)
  const Value* has_drop;  // the container's capabilities.drop (any type)

  bool SkipDrop(std::string_view cap) const { return ListContains(has_drop, cap); }
  bool SkipAdd(std::string_view cap) const {
    return ListContains(has_add, cap) || ListContains(has_drop, cap);
  }
  void WriteAdd(JsonText& json) const {
    json.StartArray();
    WriteCapabilities(json, *policy.default_capabilities_add,
                      [&](std::string_view cap) { return SkipAdd(cap); });
    json.EndArray();
  }
  void WriteDrop(JsonText& json) const {
    json.StartArray();
    WriteCapabilities(json, *policy.default_capabilities_drop,
                      [&](std::string_view cap) { return SkipDrop(cap); });
    json.EndArray();
  }
};

void EmitContainer(PatchWriter& writer, const ContainerEntry& container,
                   const ContainerDefaults& defaults, const CapabilityLists& caps_lists) {
  JsonText& json = writer.json();
  char index_text[16];
  const auto index_end =
      std::to_chars(index_text, index_text + sizeof index_text, container.index).ptr;
  const std::string_view index(index_text, static_cast<std::size_t>(index_end - index_text));
  const std::string_view list = container.list;
  const Value* sc = container.sc;

  auto capabilities_value = [&] {
    json.StartObject();
    if (defaults.add) {
      json.Key("add");
      caps_lists.WriteAdd(json);
    }
    if (defaults.drop) {
      json.Key("drop");
      caps_lists.WriteDrop(json);
    }
    json.EndObject();
  };
  const bool caps_needed = defaults.add || defaults.drop;

  if (sc == nullptr) {  // one op creating the whole securityContext
    writer.StartOp({"spec", list, index, "securityContext"});
    json.StartObject();
    if (defaults.allow_privilege_escalation) {
      json.Key("allowPrivilegeEscalation");
      json.Bool(*defaults.allow_privilege_escalation);
    }
    if (defaults.app_armor_profile != nullptr) {
      json.Key("appArmorProfile");
      WriteProfile(json, *defaults.app_armor_profile);
    }
    if (caps_needed) {
      json.Key("capabilities");
      capabilities_value();
    }
    if (defaults.run_as_non_root) {
      json.Key("runAsNonRoot");
      json.Bool(*defaults.run_as_non_root);
    }
    if (defaults.seccomp_profile != nullptr) {
      json.Key("seccompProfile");
      WriteProfile(json, *defaults.seccomp_profile);
    }
    json.EndObject();
    writer.EndOp();
    return;
  }
  if (defaults.allow_privilege_escalation) {
    writer.StartOp({"spec", list, index, "securityContext", "allowPrivilegeEscalation"});
    json.Bool(*defaults.allow_privilege_escalation);
    writer.EndOp();
  }
  if (defaults.app_armor_profile != nullptr) {
    writer.StartOp({"spec", list, index, "securityContext", "appArmorProfile"});
    WriteProfile(json, *defaults.app_armor_profile);
    writer.EndOp();
  }
  if (caps_needed) {
    const Value* caps = json::Object(*sc, "capabilities");
    if (caps == nullptr) {
      writer.StartOp({"spec", list, index, "securityContext", "capabilities"});
      capabilities_value();
      writer.EndOp();
    } else {
      for (const bool add : {true, false}) {
        if (add ? !defaults.add : !defaults.drop) continue;
        const std::string_view list_name = add ? "add" : "drop";
        if (json::Array(*caps, list_name) == nullptr) {
          writer.StartOp({"spec", list, index, "securityContext", "capabilities", list_name});
          if (add) {
            caps_lists.WriteAdd(json);
          } else {
            caps_lists.WriteDrop(json);
          }
          writer.EndOp();
        } else {
          auto append = [&](std::string_view cap) {
            writer.StartOp(
                {"spec", list, index, "securityContext", "capabilities", list_name, "-"});
            json.String(cap);
            writer.EndOp();
          };
          const auto& items = add ? *caps_lists.policy.default_capabilities_add
                                  : *caps_lists.policy.default_capabilities_drop;
          for (std::size_t i = 0; i < items.size(); ++i) {
            const std::string& cap = items[i];
            const bool skip = add ? caps_lists.SkipAdd(cap) : caps_lists.SkipDrop(cap);
            if (skip || std::find(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(i),
                                  cap) != items.begin() + static_cast<std::ptrdiff_t>(i)) {
              continue;
            }
            append(cap);
          }
        }
      }
    }
  }
  if (defaults.run_as_non_root) {
    writer.StartOp({"spec", list, index, "securityContext", "runAsNonRoot"});
    json.Bool(*defaults.run_as_non_root);
    writer.EndOp();
  }
  if (defaults.seccomp_profile != nullptr) {
    writer.StartOp({"spec", list, index, "securityContext", "seccompProfile"});
    WriteProfile(json, *defaults.seccomp_profile);
    writer.EndOp();
  }
}

std::size_t ListSize(const Value& spec, std::string_view name) {
  const Value* list = json::Array(spec, name);
  return list == nullptr ? 0 : list->Size();
}

// Appends the comma-separated items of `text` (empty ones dropped) to `out`.
void SplitComma(std::string_view text, std::vector<std::string_view>& out) {
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
}

// One annotation the patch writes: `prefix` + `suffix` = value.
struct NewAnnotation {
  std::string_view prefix;
  std::string_view suffix;
  std::string_view value;
};

}  // namespace

PatchText ComputeDefaultsText(const Value& pod, const Pointer& base, const EffectivePolicy& policy,
                              const MutationOptions& options) {
  PatchText result;
  PatchWriter writer(base, result.json);
  JsonText& json = writer.json();
  auto finish = [&] {
    writer.Finish();
    result.ops = writer.ops();
    return std::move(result);
  };
  if (!policy.HasDefaults() || !pod.IsObject()) return finish();
  const Value* spec = json::Object(pod, "spec");
  if (spec == nullptr) return finish();
  const Value* metadata = json::Object(pod, "metadata");
  const Value* annotations = metadata ? json::Object(*metadata, "annotations") : nullptr;
  const Value* pod_sc = json::Object(*spec, "securityContext");
  const Value* os = json::Object(*spec, "os");
  // A hostProcess container exists only on Windows, whether or not the pod says spec.os.
  bool windows = (os != nullptr && json::String(*os, "name") == "windows") ||
                 IsTrue(WindowsSetting(pod_sc, "hostProcess"));
  const bool field_apparmor = options.kubernetes_minor >= 30;

  std::vector<std::string_view> old_ephemeral_names = options.old_ephemeral_names;
  std::sort(old_ephemeral_names.begin(), old_ephemeral_names.end());
  std::vector<ContainerEntry> containers;
  containers.reserve(ListSize(*spec, "initContainers") + ListSize(*spec, "containers") +
                     ListSize(*spec, "ephemeralContainers"));
  for (std::string_view list_name : {"initContainers", "containers", "ephemeralContainers"}) {
    const Value* list = json::Array(*spec, list_name);
    if (list == nullptr) continue;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const Value& item = (*list)[i];
      if (!item.IsObject()) continue;
      ContainerEntry entry;
      entry.json = &item;
      entry.sc = json::Object(item, "securityContext");
      entry.list = list_name;
      entry.index = i;
      entry.name = json::String(item, "name");
      const bool ephemeral = list_name == "ephemeralContainers";
      entry.patchable = !ImageExempt(item, policy) &&
                        (!options.ephemeral_update ||
                         (ephemeral && !std::binary_search(old_ephemeral_names.begin(),
                                                           old_ephemeral_names.end(), entry.name)));
      containers.push_back(entry);
      windows = windows || IsTrue(WindowsSetting(entry.sc, "hostProcess"));
    }
  }

  const AnnotationsByContainer apparmor_annotations(annotations, kAppArmorAnnotationPrefix);
  const AnnotationsByContainer seccomp_annotations(annotations, kSeccompContainerAnnotationPrefix);
  // A legacy seccomp annotation counts as the field it stands for: the API server refuses a pod
  // whose annotation and field name different profiles, so the field is added only where the
  // annotation already agrees with the default.
  auto seccomp_annotation_differs = [&](const Value* annotation) {
    return annotation != nullptr && policy.default_seccomp_profile &&
           !SeccompAnnotationAgrees(*annotation, *policy.default_seccomp_profile);
  };
  auto container_has = [&](const ContainerEntry& c, std::string_view field) {
    if (c.sc != nullptr && json::Member(*c.sc, field) != nullptr) return true;
    if (field == "appArmorProfile") return apparmor_annotations.Find(c.name) != nullptr;
    if (field == "seccompProfile") {
      return seccomp_annotation_differs(seccomp_annotations.Find(c.name));
    }
    return false;
  };
  auto pod_has = [&](std::string_view field) {
    if (pod_sc != nullptr && json::Member(*pod_sc, field) != nullptr) return true;
    return field == "seccompProfile" && annotations != nullptr &&
           seccomp_annotation_differs(json::Member(*annotations, kSeccompPodAnnotation));
  };
  // runAsNonRoot=true on a container that runs as root (runAsUser 0, or Windows'
  // ContainerAdministrator) makes the kubelet refuse to start it: such containers do not get it.
  auto runs_as_root = [&](const ContainerEntry& c) {
    const Value* user = SecuritySetting(c.sc, "runAsUser");
    if (user == nullptr) user = SecuritySetting(pod_sc, "runAsUser");
    if (user != nullptr && user->IsInt64() && user->GetInt64() == 0) return true;
    const Value* user_name = WindowsSetting(c.sc, "runAsUserName");
    if (user_name == nullptr) user_name = WindowsSetting(pod_sc, "runAsUserName");
    return user_name != nullptr &&
           EqualsIgnoringAsciiCase(json::View(*user_name), "ContainerAdministrator");
  };
  auto never = [](const ContainerEntry&) { return false; };

  unsigned fields = 0;  // bits of Field
  auto add_field = [&](Field field) { fields |= 1U << field; };

  // runtimeClassName: pod level only, and not changeable after creation.
  const bool pod_patchable = !options.ephemeral_update;
  if (pod_patchable && policy.default_runtime_class_name &&
      json::Member(*spec, "runtimeClassName") == nullptr) {
    writer.StartOp({"spec", "runtimeClassName"});
    json.String(*policy.default_runtime_class_name);
    writer.EndOp();
    add_field(kRuntimeClassName);
  }

  // Fields that exist at pod level and per container (a container's value wins): set at pod level
  // unless that would reach a container we must not touch; then on each container that needs it.
  // `refuses`: containers the value must not reach (they keep the field unset).
  auto place = [&](Field field, bool ContainerEntry::*on_container, auto refuses) {
    const std::string_view name = kFieldNames[field];
    if (pod_has(name)) return false;
    bool untouchable_needs = false;
    bool any_needing = false;
    for (ContainerEntry& container : containers) {
      container.needs = false;
      if (container_has(container, name)) continue;
      if (container.patchable && !refuses(container)) {
        container.needs = true;
        any_needing = true;
      } else {
        untouchable_needs = true;
      }
    }
    if (!any_needing) return false;
    add_field(field);
    if (untouchable_needs || !pod_patchable) {
      for (ContainerEntry& container : containers) {
        if (container.needs) container.*on_container = true;
      }
      return false;
    }
    return true;  // at pod level
  };
  const bool pod_app_armor = !windows && field_apparmor && policy.default_app_armor_profile &&
                             place(kAppArmorProfile, &ContainerEntry::app_armor_profile, never);
  const bool non_root = policy.default_run_as_non_root && *policy.default_run_as_non_root;
  const bool pod_run_as_non_root =
      policy.default_run_as_non_root &&
      (non_root ? place(kRunAsNonRoot, &ContainerEntry::run_as_non_root, runs_as_root)
                : place(kRunAsNonRoot, &ContainerEntry::run_as_non_root, never));
  const bool pod_seccomp = !windows && policy.default_seccomp_profile &&
                           place(kSeccompProfile, &ContainerEntry::seccomp_profile, never);
  if (pod_app_armor || pod_run_as_non_root || pod_seccomp) {
    // Pod-level members in the order they were placed.
    auto write_members = [&](bool one_op) {
      auto member = [&](std::string_view name, auto write_value) {
        if (one_op) {
          json.Key(name);
        } else {
          writer.StartOp({"spec", "securityContext", name});
        }
        write_value();
        if (!one_op) writer.EndOp();
      };
      if (pod_app_armor) {
        member("appArmorProfile", [&] { WriteProfile(json, *policy.default_app_armor_profile); });
      }
      if (pod_run_as_non_root) {
        member("runAsNonRoot", [&] { json.Bool(*policy.default_run_as_non_root); });
      }
      if (pod_seccomp) {
        member("seccompProfile", [&] { WriteProfile(json, *policy.default_seccomp_profile); });
      }
    };
    if (pod_sc == nullptr) {
      writer.StartOp({"spec", "securityContext"});
      json.StartObject();
      write_members(true);
      json.EndObject();
      writer.EndOp();
    } else {
      write_members(false);
    }
  }

  // Container-level fields.
  std::vector<std::string_view> apparmor_annotated;  // container names, for the beta annotation
  const bool annotation_apparmor =
      !windows && !field_apparmor && pod_patchable && policy.default_app_armor_profile.has_value();
  const bool pod_apparmor_field = pod_sc != nullptr && json::Member(*pod_sc, "appArmorProfile");
  for (const ContainerEntry& container : containers) {
    if (!container.patchable) continue;
    ContainerDefaults d;
    if (container.app_armor_profile) d.app_armor_profile = &*policy.default_app_armor_profile;
    if (container.run_as_non_root) d.run_as_non_root = *policy.default_run_as_non_root;
    if (container.seccomp_profile) d.seccomp_profile = &*policy.default_seccomp_profile;
    const Value* sc = container.sc;
    const Value* caps = sc ? json::Object(*sc, "capabilities") : nullptr;
    const CapabilityLists caps_lists{policy, caps ? json::Member(*caps, "add") : nullptr,
                                     caps ? json::Member(*caps, "drop") : nullptr};
    if (!windows) {
      d.drop = AnyCapability(policy.default_capabilities_drop,
                             [&](std::string_view cap) { return caps_lists.SkipDrop(cap); });
      d.add = AnyCapability(policy.default_capabilities_add,
                            [&](std::string_view cap) { return caps_lists.SkipAdd(cap); });
      if (policy.default_allow_privilege_escalation &&
          (sc == nullptr || json::Member(*sc, "allowPrivilegeEscalation") == nullptr)) {
        const Value* privileged = sc ? json::Member(*sc, "privileged") : nullptr;
        const bool is_privileged =
            privileged != nullptr && privileged->IsBool() && privileged->GetBool();
        auto sys_admin = [](std::string_view cap) {
          return cap == "SYS_ADMIN" || cap == "CAP_SYS_ADMIN";
        };
        auto has_sys_admin = [&] {
          return ListContains(caps_lists.has_add, "SYS_ADMIN") ||
                 ListContains(caps_lists.has_add, "CAP_SYS_ADMIN");
        };
        auto appends_sys_admin = [&] {
          if (!d.add) return false;
          for (const std::string& cap : *policy.default_capabilities_add) {
            if (sys_admin(cap) && !caps_lists.SkipAdd(cap)) return true;
          }
          return false;
        };
        // The API server rejects allowPrivilegeEscalation=false with privileged or CAP_SYS_ADMIN.
        const bool conflicts = *policy.default_allow_privilege_escalation == false &&
                               (is_privileged || has_sys_admin() || appends_sys_admin());
        if (!conflicts) d.allow_privilege_escalation = *policy.default_allow_privilege_escalation;
      }
      if (annotation_apparmor && container.list != "ephemeralContainers" && !pod_apparmor_field &&
          !container_has(container, "appArmorProfile")) {
        apparmor_annotated.push_back(container.name);
      }
    }
    if (d.drop) add_field(kCapabilitiesDrop);
    if (d.add) add_field(kCapabilitiesAdd);
    if (d.allow_privilege_escalation) add_field(kAllowPrivilegeEscalation);
    if (d.empty()) continue;
    EmitContainer(writer, container, d, caps_lists);
  }
  if (!apparmor_annotated.empty()) add_field(kAppArmorProfile);

  result.fields.reserve(static_cast<std::size_t>(std::popcount(fields)));
  for (unsigned field = 0; field < kFieldCount; ++field) {
    if ((fields & (1U << field)) != 0) result.fields.emplace_back(kFieldNames[field]);
  }
  if (fields == 0 || !pod_patchable) return finish();

  // Record what was filled in, merged with what an earlier invocation recorded.
  std::string_view existing;
  if (annotations != nullptr) existing = json::String(*annotations, kDefaultedAnnotation);
  std::string joined;
  auto join = [&](const auto& items) {
    for (const auto& item : items) {
      if (!joined.empty()) joined += ',';
      joined += item;
    }
  };
  if (existing.empty()) {
    join(result.fields);  // already sorted and unique
  } else {
    std::vector<std::string_view> recorded(result.fields.begin(), result.fields.end());
    SplitComma(existing, recorded);
    std::sort(recorded.begin(), recorded.end());
    recorded.erase(std::unique(recorded.begin(), recorded.end()), recorded.end());
    join(recorded);
  }

  // Sorted by key, as the annotations map: every AppArmor key sorts before "palisade.dev/...".
  std::sort(apparmor_annotated.begin(), apparmor_annotated.end());
  apparmor_annotated.erase(std::unique(apparmor_annotated.begin(), apparmor_annotated.end()),
                           apparmor_annotated.end());
  static_assert(kAppArmorAnnotationPrefix < kDefaultedAnnotation);
  const std::string apparmor_value =
      apparmor_annotated.empty() ? std::string()
                                 : AppArmorAnnotationValue(*policy.default_app_armor_profile);
  std::vector<NewAnnotation> new_annotations;
  new_annotations.reserve(apparmor_annotated.size() + 1);
  for (std::string_view name : apparmor_annotated) {
    new_annotations.push_back({kAppArmorAnnotationPrefix, name, apparmor_value});
  }
  if (joined != existing) new_annotations.push_back({kDefaultedAnnotation, {}, joined});
  if (new_annotations.empty()) return finish();

  std::string key;
  auto key_of = [&](const NewAnnotation& annotation) -> std::string_view {
    if (annotation.suffix.empty()) return annotation.prefix;
    key.assign(annotation.prefix);
    key += annotation.suffix;
    return key;
  };
  auto write_annotations = [&] {
    json.StartObject();
    for (const NewAnnotation& annotation : new_annotations) {
      json.Key(key_of(annotation));
      json.String(annotation.value);
    }
    json.EndObject();
  };
  if (metadata == nullptr) {
    writer.StartOp({"metadata"});
    json.StartObject();
    json.Key("annotations");
    write_annotations();
    json.EndObject();
    writer.EndOp();
  } else if (annotations == nullptr) {
    writer.StartOp({"metadata", "annotations"});
    write_annotations();
    writer.EndOp();
  } else {
    for (const NewAnnotation& annotation : new_annotations) {
      writer.StartOp({"metadata", "annotations", key_of(annotation)});
      json.String(annotation.value);
      writer.EndOp();
    }
  }
  return finish();
}

Mutation ComputeDefaults(const Value& pod, const Pointer& base, const EffectivePolicy& policy,
                         const MutationOptions& options) {
  PatchText text = ComputeDefaultsText(pod, base, policy, options);
  Mutation mutation;
  mutation.patch.Parse(text.json.data(), text.json.size());
  mutation.fields = std::move(text.fields);
  return mutation;
}

namespace {

// A JSON Pointer token as text: "~1" is "/", "~0" is "~".
std::string UnescapeToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

}  // namespace

void ApplyPatch(const Value& patch, rapidjson::Document& target) {
  if (!patch.IsArray()) return;
  auto& allocator = target.GetAllocator();
  struct Op {
    std::string_view path, parent, token;  // token still escaped
    const Value* value;
  };
  std::vector<Op> ops;
  ops.reserve(patch.Size());
  for (const Value& op : patch.GetArray()) {
    const Value* path = json::Member(op, "path");
    const Value* value = json::Member(op, "value");
    if (path == nullptr || !path->IsString() || value == nullptr) continue;
    const std::string_view text = json::View(*path);
    const std::size_t slash = text.rfind('/');
    if (slash == std::string_view::npos) {
      ops.push_back({text, text, {}, value});
    } else {
      ops.push_back({text, text.substr(0, slash), text.substr(slash + 1), value});
    }
  }
  auto set_one = [&](const Op& op) {
    const Pointer pointer(op.path.data(), op.path.size());
    if (pointer.IsValid()) pointer.Set(target, Value(*op.value, allocator));
  };
  // Consecutive ops adding members to one object (an annotation per container, say) are applied
  // together: Pointer::Set scans the object's members for every op, quadratic on a pod with tens
  // of thousands of annotations.
  constexpr std::size_t kBatchFrom = 8;
  for (std::size_t begin = 0; begin < ops.size();) {
    std::size_t end = begin + 1;
    while (end < ops.size() && ops[end].parent == ops[begin].parent) ++end;
    const std::span<const Op> run(ops.data() + begin, end - begin);
    begin = end;
    Value* parent = nullptr;
    if (run.size() >= kBatchFrom && run.front().path != run.front().parent) {
      const Pointer pointer(run.front().parent.data(), run.front().parent.size());
      parent = pointer.IsValid() ? pointer.Get(target) : nullptr;
    }
    std::deque<std::string> unescaped;
    std::unordered_map<std::string_view, std::size_t> op_of_key;
    bool batch = parent != nullptr && parent->IsObject();
    for (std::size_t i = 0; batch && i < run.size(); ++i) {
      std::string_view key = run[i].token;
      if (key == "-") batch = false;
      if (key.find('~') != std::string_view::npos) key = unescaped.emplace_back(UnescapeToken(key));
      if (!op_of_key.emplace(key, i).second) batch = false;  // a key twice: one at a time
    }
    if (!batch) {
      for (const Op& op : run) set_one(op);
      continue;
    }
    std::vector<rapidjson::SizeType> existing(run.size(), rapidjson::kPointerInvalidIndex);
    for (auto it = parent->MemberBegin(); it != parent->MemberEnd(); ++it) {
      if (const auto found = op_of_key.find(json::View(it->name)); found != op_of_key.end()) {
        existing[found->second] = static_cast<rapidjson::SizeType>(it - parent->MemberBegin());
      }
    }
    for (const auto& [key, i] : op_of_key) {
      if (existing[i] != rapidjson::kPointerInvalidIndex) {
        (parent->MemberBegin() + existing[i])->value.CopyFrom(*run[i].value, allocator);
      }
    }
    std::vector<std::string_view> keys(run.size());
    for (const auto& [key, i] : op_of_key) keys[i] = key;
    for (std::size_t i = 0; i < run.size(); ++i) {
      if (existing[i] != rapidjson::kPointerInvalidIndex) continue;
      parent->AddMember(
          Value(keys[i].data(), static_cast<rapidjson::SizeType>(keys[i].size()), allocator),
          Value(*run[i].value, allocator), allocator);
    }
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
