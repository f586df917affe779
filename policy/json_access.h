#pragma once

// Small read helpers over RapidJSON values shared by the admission code: a member that is missing
// and a member that is JSON null are both "unset".

#include <rapidjson/document.h>

#include <string_view>

namespace palisade::policy::json {

inline const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(rapidjson::Value(
      rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

inline const rapidjson::Value* Object(const rapidjson::Value& object, std::string_view name) {
  const rapidjson::Value* value = Member(object, name);
  return value != nullptr && value->IsObject() ? value : nullptr;
}

inline const rapidjson::Value* Array(const rapidjson::Value& object, std::string_view name) {
  const rapidjson::Value* value = Member(object, name);
  return value != nullptr && value->IsArray() ? value : nullptr;
}

inline std::string_view String(const rapidjson::Value& object, std::string_view name) {
  const rapidjson::Value* value = Member(object, name);
  if (value == nullptr || !value->IsString()) return {};
  return {value->GetString(), value->GetStringLength()};
}

inline std::string_view View(const rapidjson::Value& value) {
  return value.IsString() ? std::string_view(value.GetString(), value.GetStringLength())
                          : std::string_view();
}

// The words error messages use for a value's type. Pods arrive as JSON ("object", "array");
// policies are written in YAML ("mapping", "list").
enum class Words { kJson, kYaml };

inline std::string_view TypeName(const rapidjson::Value& value, Words words) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return words == Words::kJson ? "object" : "mapping";
    case rapidjson::kArrayType:
      return words == Words::kJson ? "array" : "list";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "value";
}

}  // namespace palisade::policy::json
