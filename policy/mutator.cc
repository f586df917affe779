#include "policy/mutator.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>

#include "policy/json_access.h"
#include "policy/review.h"

namespace palisade::policy {
namespace {

using rapidjson::Pointer;
using rapidjson::Value;

// Output stream for Pointer::Stringify.
struct StringStream {
  using Ch = char;
  std::string& out;
  void Put(char c) { out.push_back(c); }
  void Flush() {}
};

// Appends `/token` to a JSON Pointer, escaped as Pointer::Stringify escapes it (`~0`, `~1`).
void AppendPointerToken(std::string& path, std::string_view token) {
  path += '/';
  const auto special = [](char c) { return c == '~' || c == '/'; };
  if (std::none_of(token.begin(), token.end(), special)) {
    path += token;  // field names and indexes: nothing to escape
    return;
  }
  for (const char c : token) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path += c;
    }
  }
}

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
// tokens, escaped as rapidjson::Pointer::Stringify escapes them (`~0`, `~1`).
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
    path_ = base_path_;  // the same buffer each op: allocated once
    for (std::string_view token : tokens) AppendPointerToken(path_, token);
    std::string& out = json_.out();
    if (ops_ > 0) out += ',';
    out += R"({"op":"add","path":)";
    AppendJsonString(out, path_);
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
  std::string path_;
  int ops_ = 0;
};

void WriteCapabilities(JsonText& json, std::span<const std::string_view> caps) {
  json.StartArray();
  for (std::string_view cap : caps) json.String(cap);
  json.EndArray();
}

// One container's defaults as ops: the whole securityContext when it is missing, else one op per
// field (capabilities: the object, a list, or one "-" append per name, whichever is missing).
void EmitContainer(PatchWriter& writer, const Container& container,
                   const ContainerDefaultsPlan& defaults, std::span<const std::string_view> adding,
                   std::span<const std::string_view> dropping) {
  JsonText& json = writer.json();
  char index_text[24];
  const auto index_end =
      std::to_chars(index_text, index_text + sizeof index_text, container.index).ptr;
  const std::string_view index(index_text, static_cast<std::size_t>(index_end - index_text));
  const std::string_view list = container.ListName();
  const ContainerSecurityContext& sc = container.security_context;
  const bool add = !adding.empty();
  const bool drop = !dropping.empty();

  auto capabilities_value = [&] {
    json.StartObject();
    if (add) {
      json.Key("add");
      WriteCapabilities(json, adding);
    }
    if (drop) {
      json.Key("drop");
      WriteCapabilities(json, dropping);
    }
    json.EndObject();
  };

  if (!sc.present) {  // one op creating the whole securityContext
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
    if (add || drop) {
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
  if (add || drop) {
    if (!sc.capabilities_present) {
      writer.StartOp({"spec", list, index, "securityContext", "capabilities"});
      capabilities_value();
      writer.EndOp();
    } else {
      for (const bool is_add : {true, false}) {
        const std::span<const std::string_view> caps = is_add ? adding : dropping;
        if (caps.empty()) continue;
        const std::string_view list_name = is_add ? "add" : "drop";
        const bool list_present =
            is_add ? sc.capabilities_add.has_value() : sc.capabilities_drop.has_value();
        if (!list_present) {
          writer.StartOp({"spec", list, index, "securityContext", "capabilities", list_name});
          WriteCapabilities(json, caps);
          writer.EndOp();
          continue;
        }
        for (std::string_view cap : caps) {
          writer.StartOp({"spec", list, index, "securityContext", "capabilities", list_name, "-"});
          json.String(cap);
          writer.EndOp();
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

void RenderPlan(const Pod& pod, const DefaultsPlan& plan, PatchWriter& writer) {
  JsonText& json = writer.json();
  if (plan.runtime_class_name != nullptr) {
    writer.StartOp({"spec", "runtimeClassName"});
    json.String(*plan.runtime_class_name);
    writer.EndOp();
  }
  if (plan.HasPodSecurityContext()) {
    const bool one_op = !pod.security_context.present;
    auto member = [&](std::string_view name, auto write_value) {
      if (one_op) {
        json.Key(name);
      } else {
        writer.StartOp({"spec", "securityContext", name});
      }
      write_value();
      if (!one_op) writer.EndOp();
    };
    if (one_op) {
      writer.StartOp({"spec", "securityContext"});
      json.StartObject();
    }
    if (plan.pod_app_armor_profile != nullptr) {
      member("appArmorProfile", [&] { WriteProfile(json, *plan.pod_app_armor_profile); });
    }
    if (plan.pod_run_as_non_root) {
      member("runAsNonRoot", [&] { json.Bool(*plan.pod_run_as_non_root); });
    }
    if (plan.pod_seccomp_profile != nullptr) {
      member("seccompProfile", [&] { WriteProfile(json, *plan.pod_seccomp_profile); });
    }
    if (one_op) {
      json.EndObject();
      writer.EndOp();
    }
  }
  for (const ContainerDefaultsPlan& defaults : plan.containers) {
    EmitContainer(writer, pod.containers[defaults.container], defaults,
                  plan.CapabilitiesAdd(defaults), plan.CapabilitiesDrop(defaults));
  }
  if (plan.annotations.empty()) return;
  auto write_annotations = [&] {
    json.StartObject();
    for (const PlannedAnnotation& annotation : plan.annotations) {
      json.Key(annotation.key);
      json.String(annotation.value);
    }
    json.EndObject();
  };
  if (!pod.metadata_present) {
    writer.StartOp({"metadata"});
    json.StartObject();
    json.Key("annotations");
    write_annotations();
    json.EndObject();
    writer.EndOp();
  } else if (!pod.annotations_present) {
    writer.StartOp({"metadata", "annotations"});
    write_annotations();
    writer.EndOp();
  } else {
    for (const PlannedAnnotation& annotation : plan.annotations) {
      writer.StartOp({"metadata", "annotations", annotation.key});
      json.String(annotation.value);
      writer.EndOp();
    }
  }
}

}  // namespace

PatchText RenderDefaultsPatch(const Pod& pod, const DefaultsPlan& plan, const Pointer& base) {
  PatchText result;
  PatchWriter writer(base, result.json);
  RenderPlan(pod, plan, writer);
  writer.Finish();
  result.ops = writer.ops();
  result.fields = plan.fields;
  return result;
}

PatchText ComputeDefaultsText(const Value& pod, const Pointer& base, const EffectivePolicy& policy,
                              const MutationOptions& options) {
  if (!policy.HasDefaults()) return RenderDefaultsPatch(Pod{}, DefaultsPlan{}, base);
  const PodReadResult read = ReadPod(pod);
  if (!read.errors.empty()) return RenderDefaultsPatch(Pod{}, DefaultsPlan{}, base);
  return RenderDefaultsPatch(read.pod, PlanDefaults(read.pod, policy, options), base);
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

using Allocator = rapidjson::Document::AllocatorType;

Value StringValue(std::string_view text, Allocator& allocator) {
  return Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
}

// As an "add" op: replaces an existing member (a null one, say) in place, else appends it.
Value& SetMember(Value& object, std::string_view name, Value value, Allocator& allocator) {
  const auto it = object.FindMember(
      Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  if (it != object.MemberEnd()) {
    it->value = std::move(value);
    return it->value;
  }
  object.AddMember(StringValue(name, allocator), std::move(value), allocator);
  return (object.MemberEnd() - 1)->value;
}

// The member `name` as an object: the existing one, or a new empty one.
Value& ObjectMember(Value& object, std::string_view name, Allocator& allocator) {
  if (Value* existing = const_cast<Value*>(json::Object(object, name))) return *existing;
  return SetMember(object, name, Value(rapidjson::kObjectType), allocator);
}

Value ProfileValue(const Profile& profile, Allocator& allocator) {
  Value out(rapidjson::kObjectType);
  if (profile.type == "Localhost") {
    out.AddMember("localhostProfile", StringValue(profile.localhost_profile, allocator), allocator);
  }
  out.AddMember("type", StringValue(profile.type, allocator), allocator);
  return out;
}

void AppendCapabilities(Value& capabilities, std::string_view name,
                        std::span<const std::string_view> caps, Allocator& allocator) {
  if (caps.empty()) return;
  Value* list = const_cast<Value*>(json::Array(capabilities, name));
  if (list == nullptr)
    list = &SetMember(capabilities, name, Value(rapidjson::kArrayType), allocator);
  for (std::string_view cap : caps) list->PushBack(StringValue(cap, allocator), allocator);
}

}  // namespace

void ApplyDefaultsPlan(const DefaultsPlan& plan, const Pod& pod, Value& object,
                       Allocator& allocator) {
  if (plan.empty() || !object.IsObject()) return;
  Value& spec = ObjectMember(object, "spec", allocator);
  if (plan.runtime_class_name != nullptr) {
    SetMember(spec, "runtimeClassName", StringValue(*plan.runtime_class_name, allocator),
              allocator);
  }
  if (plan.HasPodSecurityContext()) {
    Value& sc = ObjectMember(spec, "securityContext", allocator);
    if (plan.pod_app_armor_profile != nullptr) {
      SetMember(sc, "appArmorProfile", ProfileValue(*plan.pod_app_armor_profile, allocator),
                allocator);
    }
    if (plan.pod_run_as_non_root) {
      SetMember(sc, "runAsNonRoot", Value(*plan.pod_run_as_non_root), allocator);
    }
    if (plan.pod_seccomp_profile != nullptr) {
      SetMember(sc, "seccompProfile", ProfileValue(*plan.pod_seccomp_profile, allocator),
                allocator);
    }
  }
  for (const ContainerDefaultsPlan& d : plan.containers) {
    const Container& container = pod.containers[d.container];
    Value& list = spec[StringValue(container.ListName(), allocator)];
    Value& sc = ObjectMember(list[static_cast<rapidjson::SizeType>(container.index)],
                             "securityContext", allocator);
    if (d.allow_privilege_escalation) {
      SetMember(sc, "allowPrivilegeEscalation", Value(*d.allow_privilege_escalation), allocator);
    }
    if (d.app_armor_profile != nullptr) {
      SetMember(sc, "appArmorProfile", ProfileValue(*d.app_armor_profile, allocator), allocator);
    }
    if (!plan.CapabilitiesAdd(d).empty() || !plan.CapabilitiesDrop(d).empty()) {
      Value& capabilities = ObjectMember(sc, "capabilities", allocator);
      AppendCapabilities(capabilities, "add", plan.CapabilitiesAdd(d), allocator);
      AppendCapabilities(capabilities, "drop", plan.CapabilitiesDrop(d), allocator);
    }
    if (d.run_as_non_root) SetMember(sc, "runAsNonRoot", Value(*d.run_as_non_root), allocator);
    if (d.seccomp_profile != nullptr) {
      SetMember(sc, "seccompProfile", ProfileValue(*d.seccomp_profile, allocator), allocator);
    }
  }
  if (plan.annotations.empty()) return;
  Value& annotations =
      ObjectMember(ObjectMember(object, "metadata", allocator), "annotations", allocator);
  // Which planned keys exist, found in one pass (a scan per key is quadratic with tens of
  // thousands of annotations); then replaced in place, and the rest appended in plan order.
  std::unordered_map<std::string_view, std::size_t> planned;
  planned.reserve(plan.annotations.size());
  for (std::size_t i = 0; i < plan.annotations.size(); ++i) {
    planned.emplace(plan.annotations[i].key, i);
  }
  std::vector<Value*> existing(plan.annotations.size(), nullptr);
  for (auto& member : annotations.GetObject()) {
    const auto it = planned.find(json::View(member.name));
    if (it != planned.end() && existing[it->second] == nullptr)
      existing[it->second] = &member.value;
  }
  for (std::size_t i = 0; i < plan.annotations.size(); ++i) {
    if (existing[i] != nullptr) *existing[i] = StringValue(plan.annotations[i].value, allocator);
  }
  for (std::size_t i = 0; i < plan.annotations.size(); ++i) {
    if (existing[i] != nullptr) continue;
    annotations.AddMember(StringValue(plan.annotations[i].key, allocator),
                          StringValue(plan.annotations[i].value, allocator), allocator);
  }
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
