#include "cli/object_input.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <unordered_map>
#include <utility>

namespace palisade::cli {
namespace {

using rapidjson::Value;

constexpr std::string_view kStdinName = "<stdin>";

const Value* Metadata(const Value& object) {
  const auto it = object.FindMember("metadata");
  return it != object.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

bool IsList(const Value& object) {
  const std::string_view kind = StringMember(object, "kind");
  if (!kind.ends_with("List")) return false;
  const auto items = object.FindMember("items");
  return items != object.MemberEnd() && items->value.IsArray();
}

bool ReadInput(const std::string& name, std::string* text, std::string* error) {
  if (name == "-") {
    *text = std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
      *error = "cannot read standard input";
      return false;
    }
    return true;
  }
  errno = 0;
  std::ifstream in(name, std::ios::binary);
  if (!in) {
    *error = std::string("cannot open: ") + (errno != 0 ? std::strerror(errno) : "unknown error");
    return false;
  }
  *text = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = "cannot read file";
    return false;
  }
  return true;
}

std::string_view Uid(const Value& object) {
  const Value* metadata = Metadata(object);
  return metadata != nullptr ? StringMember(*metadata, "uid") : std::string_view();
}

// The uid of the controller ownerReference, "" when none.
std::string_view ControllerUid(const Value& object) {
  const Value* metadata = Metadata(object);
  if (metadata == nullptr) return {};
  const auto owners = metadata->FindMember("ownerReferences");
  if (owners == metadata->MemberEnd() || !owners->value.IsArray()) return {};
  for (const Value& owner : owners->value.GetArray()) {
    if (!owner.IsObject()) continue;
    const auto controller = owner.FindMember("controller");
    if (controller != owner.MemberEnd() && controller->value.IsBool() &&
        controller->value.GetBool()) {
      return StringMember(owner, "uid");
    }
  }
  return {};
}

// The names of a pod spec's containers and init containers.
std::set<std::string_view> ContainerNames(const Value* pod) {
  std::set<std::string_view> names;
  if (pod == nullptr || !pod->IsObject()) return names;
  const auto spec = pod->FindMember("spec");
  if (spec == pod->MemberEnd() || !spec->value.IsObject()) return names;
  for (const char* list : {"containers", "initContainers"}) {
    const auto found = spec->value.FindMember(list);
    if (found == spec->value.MemberEnd() || !found->value.IsArray()) continue;
    for (const Value& container : found->value.GetArray()) {
      names.insert(StringMember(container, "name"));
    }
  }
  return names;
}

}  // namespace

std::string_view StringMember(const Value& object, std::string_view key) {
  if (!object.IsObject()) return {};
  const auto it = object.FindMember(rapidjson::StringRef(key.data(), key.size()));
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::string InputObject::Location() const {
  if (file == nullptr) return {};
  std::string out = file->name + ": document " + std::to_string(document + 1);
  if (!item_path.empty()) out += ", " + item_path;
  return out;
}

ObjectInput::ObjectInput(std::string command, std::string namespace_override)
    : command_(std::move(command)), namespace_override_(std::move(namespace_override)) {}

void ObjectInput::Error(std::string message) {
  std::cerr << command_ << ": " << message << "\n";
  errors_.push_back(std::move(message));
}

void ObjectInput::ReadFiles(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto file = std::make_unique<InputFile>();
    file->name = name == "-" ? std::string(kStdinName) : name;
    std::string text, error;
    if (!ReadInput(name, &text, &error)) {
      Error(file->name + ": " + error);
      continue;
    }
    file->documents = server::ParseYamlDocuments(text);
    for (std::size_t i = 0; i < file->documents.size(); ++i) {
      const server::YamlDocument& document = file->documents[i];
      const std::string where = file->name + ": document " + std::to_string(i + 1);
      if (!document.ok()) {
        Error(where + ": " + document.ErrorString());
        continue;
      }
      if (document.empty) continue;
      Collect(*file, i, document.json, "", "", where);
    }
    files_.push_back(std::move(file));
  }
}

// Records `value` (or, for a List, each of its items).
void ObjectInput::Collect(InputFile& file, std::size_t document, const Value& value,
                          const std::string& pointer, const std::string& item_path,
                          const std::string& where) {
  if (!value.IsObject()) {
    Error(where + ": not a Kubernetes object (a mapping with apiVersion and kind)");
    return;
  }
  if (IsList(value)) {
    const Value& items = value["items"];
    for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
      const std::string index = std::to_string(i);
      const std::string path = (item_path.empty() ? "" : item_path + ".") + "items[" + index + "]";
      Collect(file, document, items[i], pointer + "/items/" + index, path,
              file.name + ": document " + std::to_string(document + 1) + ", " + path);
    }
    return;
  }
  const std::string_view kind = StringMember(value, "kind");
  if (kind.empty()) {
    Error(where + ": kind: required: the object must say what it is");
    return;
  }
  if (kind == "Namespace" && StringMember(value, "apiVersion") == "v1") {
    ReadNamespaceLabels(value, where);
  }
  InputObject object;
  object.file = &file;
  object.document = document;
  object.pointer = pointer;
  object.item_path = item_path;
  Record(std::move(object), value, kind);
}

void ObjectInput::AddListed(std::shared_ptr<const Value> object, std::string_view kind) {
  const Value& value = *object;
  listed_.push_back(std::move(object));
  Record(InputObject{}, value, kind);
}

void ObjectInput::AddNamespace(const std::string& name, const policy::Labels& labels) {
  policy::Labels& own = labels_[name];
  own = labels;
  own["kubernetes.io/metadata.name"] = name;  // the API server sets it; a fake may not
}

void ObjectInput::Record(InputObject object, const Value& value, std::string_view kind) {
  object.kind = kind;
  object.type = policy::ObjectTypeFromKind(kind);
  object.value = &value;
  const Value* metadata = Metadata(value);
  std::string_view name = metadata ? StringMember(*metadata, "name") : "";
  if (name.empty() && metadata) name = StringMember(*metadata, "generateName");
  object.name = name;
  const std::string_view own_namespace = metadata ? StringMember(*metadata, "namespace") : "";
  object.namespace_name = !namespace_override_.empty() ? namespace_override_
                          : !own_namespace.empty()     ? std::string(own_namespace)
                                                       : "default";
  objects_.push_back(std::move(object));
}

// A Namespace of the input: its labels select policies (with the label the API server sets on
// every namespace, kubernetes.io/metadata.name).
void ObjectInput::ReadNamespaceLabels(const Value& value, const std::string& where) {
  const Value* metadata = Metadata(value);
  const std::string name(metadata ? StringMember(*metadata, "name") : "");
  if (name.empty()) return;
  policy::Labels& labels = labels_[name];
  labels.clear();
  labels["kubernetes.io/metadata.name"] = name;
  if (metadata == nullptr) return;
  const auto found = metadata->FindMember("labels");
  if (found == metadata->MemberEnd() || !found->value.IsObject()) return;
  for (const auto& member : found->value.GetObject()) {
    const std::string key(member.name.GetString(), member.name.GetStringLength());
    if (!member.value.IsString()) {
      Error(where + ": metadata.labels." + key + ": must be a string");
      continue;
    }
    labels[key] = std::string(member.value.GetString(), member.value.GetStringLength());
  }
}

void ObjectInput::DropControlled() {
  std::unordered_map<std::string_view, const InputObject*> by_uid;
  for (const InputObject& object : objects_) {
    const std::string_view uid = Uid(*object.value);
    if (object.type && !uid.empty()) by_uid.emplace(uid, &object);
  }
  std::vector<bool> drop(objects_.size(), false);
  for (std::size_t i = 0; i < objects_.size(); ++i) {
    const InputObject& object = objects_[i];
    if (!object.type) continue;
    const std::string_view owner_uid = ControllerUid(*object.value);
    const auto owner = owner_uid.empty() ? by_uid.end() : by_uid.find(owner_uid);
    if (owner == by_uid.end()) continue;
    drop[i] = true;
    if (*object.type != policy::ObjectType::kPod) continue;
    const InputObject& controller = *owner->second;
    const std::set<std::string_view> made =
        ContainerNames(policy::FindTemplate(*controller.value, *controller.type));
    for (const std::string_view name : ContainerNames(object.value)) {
      if (!made.contains(name)) drop[i] = false;  // injected: judged as the pod it is
    }
  }
  std::vector<InputObject> kept;
  kept.reserve(objects_.size());
  for (std::size_t i = 0; i < objects_.size(); ++i) {
    if (!drop[i]) kept.push_back(std::move(objects_[i]));
  }
  objects_ = std::move(kept);
}

std::shared_ptr<const policy::NamespaceLabels> ObjectInput::ResolveNamespaceLabels(
    const policy::Labels& fallback) const {
  auto labels = std::make_shared<policy::NamespaceLabels>();
  for (const auto& [name, each] : labels_) labels->by_name[name] = each;
  for (const InputObject& object : objects_) {
    if (labels->by_name.contains(object.namespace_name)) continue;
    policy::Labels each = fallback;
    each["kubernetes.io/metadata.name"] = object.namespace_name;
    labels->by_name[object.namespace_name] = std::move(each);
  }
  return labels;
}

}  // namespace palisade::cli
