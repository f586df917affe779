#include "kube/object.h"

namespace palisade::kube {
namespace {

std::string StringMember(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return "";
  const auto member = object.FindMember(name);
  if (member == object.MemberEnd() || !member->value.IsString()) return "";
  return std::string(member->value.GetString(), member->value.GetStringLength());
}

void ReadStringMap(const rapidjson::Value& meta, const char* name,
                   std::map<std::string, std::string>* out) {
  const auto member = meta.FindMember(name);
  if (member == meta.MemberEnd() || !member->value.IsObject()) return;
  for (const auto& entry : member->value.GetObject()) {
    if (!entry.value.IsString()) continue;
    out->emplace(std::string(entry.name.GetString(), entry.name.GetStringLength()),
                 std::string(entry.value.GetString(), entry.value.GetStringLength()));
  }
}

}  // namespace

std::optional<Status> ReadStatus(const rapidjson::Value& object) {
  if (StringMember(object, "kind") != "Status") return std::nullopt;
  Status status;
  status.status = StringMember(object, "status");
  status.reason = StringMember(object, "reason");
  status.message = StringMember(object, "message");
  const auto code = object.FindMember("code");
  if (code != object.MemberEnd() && code->value.IsInt()) status.code = code->value.GetInt();
  return status;
}

std::optional<Status> ParseStatus(std::string_view json) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError()) return std::nullopt;
  return ReadStatus(document);
}

ObjectMeta ReadObjectMeta(const rapidjson::Value& object) {
  ObjectMeta meta;
  if (!object.IsObject()) return meta;
  const auto metadata = object.FindMember("metadata");
  if (metadata == object.MemberEnd() || !metadata->value.IsObject()) return meta;
  const rapidjson::Value& m = metadata->value;
  meta.name = StringMember(m, "name");
  meta.namespace_ = StringMember(m, "namespace");
  meta.uid = StringMember(m, "uid");
  meta.resource_version = StringMember(m, "resourceVersion");
  meta.creation_timestamp = StringMember(m, "creationTimestamp");
  meta.being_deleted = !StringMember(m, "deletionTimestamp").empty();
  const auto generation = m.FindMember("generation");
  if (generation != m.MemberEnd() && generation->value.IsInt64()) {
    meta.generation = generation->value.GetInt64();
  }
  ReadStringMap(m, "labels", &meta.labels);
  ReadStringMap(m, "annotations", &meta.annotations);
  return meta;
}

std::string ObjectKey(const ObjectMeta& meta) {
  return meta.namespace_.empty() ? meta.name : meta.namespace_ + "/" + meta.name;
}

std::string CollectionPath(std::string_view group_version, std::string_view resource,
                           std::string_view namespace_) {
  std::string path = group_version.find('/') == std::string_view::npos ? "/api/" : "/apis/";
  path += group_version;
  if (!namespace_.empty()) {
    path += "/namespaces/";
    path += namespace_;
  }
  path += '/';
  path += resource;
  return path;
}

std::string ObjectPath(std::string_view group_version, std::string_view resource,
                       std::string_view namespace_, std::string_view name) {
  return CollectionPath(group_version, resource, namespace_) + "/" + std::string(name);
}

std::string EscapeQueryValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace palisade::kube
