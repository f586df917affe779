#include "policy/policy_fields.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "policy/document_reader.h"
#include "policy/label_selector.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;
using Allocator = SpecField::Allocator;

Value Text(std::string_view text, Allocator& allocator) {
  return Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
}

// ---- value types: how one kind of value is read, shown and described ----

struct LevelType {
  using T = LevelVersion;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    return reader.Level(value, f);
  }
  // "restricted:latest" keeps what the policy said; the evaluated version is shown beside it.
  static ExplainedValue Explain(const T& level, Allocator& allocator) {
    const std::string text =
        level.latest ? std::string(LevelName(level.level)) + ":latest" : level.ToString();
    return {Text(text, allocator), level.ToString()};
  }
  static std::string Schema() {
    return R"({"type": "string", "pattern": "^(privileged|baseline|restricted)(:(latest|v1\\.(0|[1-9][0-9]*)))?$"})";
  }
};

struct ProfileType {
  using T = Profile;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    return reader.ProfileOf(value, f);
  }
  static ExplainedValue Explain(const T& profile, Allocator& allocator) {
    Value out(rapidjson::kObjectType);
    out.AddMember("type", Text(profile.type, allocator), allocator);
    if (!profile.localhost_profile.empty()) {
      out.AddMember("localhostProfile", Text(profile.localhost_profile, allocator), allocator);
    }
    return {std::move(out), ""};
  }
  static std::string Schema() {
    return R"({"type": "object", "additionalProperties": false, "required": ["type"],
      "properties": {"type": {"enum": ["RuntimeDefault", "Localhost", "Unconfined"]},
                     "localhostProfile": {"type": ["string", "null"], "minLength": 1}},
      "if": {"properties": {"type": {"const": "Localhost"}}},
      "then": {"required": ["localhostProfile"], "properties": {"localhostProfile": {"type": "string"}}},
      "else": {"properties": {"localhostProfile": {"type": "null"}}}})";
  }
};

struct BoolType {
  using T = bool;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    return reader.Bool(value, f);
  }
  static ExplainedValue Explain(bool value, Allocator&) { return {Value(value), ""}; }
  static std::string Schema() { return R"({"type": "boolean"})"; }
};

struct StringType {
  using T = std::string;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    return reader.String(value, f);
  }
  static ExplainedValue Explain(const T& text, Allocator& allocator) {
    return {Text(text, allocator), ""};
  }
  static std::string Schema() { return R"({"type": "string", "minLength": 1})"; }
};

template <class Enum>
struct EnumNames;
template <>
struct EnumNames<Action> {
  static inline const std::vector<std::string_view> kNames = {"enforce", "warn", "audit"};
};
template <>
struct EnumNames<WorkloadMode> {
  static inline const std::vector<std::string_view> kNames = {"enforce", "warn"};
};

template <class Enum>
struct EnumType {
  using T = Enum;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    const auto index = reader.OneOf(value, f, EnumNames<Enum>::kNames);
    if (!index) return std::nullopt;
    return static_cast<Enum>(*index);
  }
  static ExplainedValue Explain(Enum value, Allocator& allocator) {
    return {Text(EnumNames<Enum>::kNames[static_cast<std::size_t>(value)], allocator), ""};
  }
  static std::string Schema() {
    return R"({"enum": [)" + check_text::JoinQuote(EnumNames<Enum>::kNames) + "]}";
  }
};

// List items: a validator (empty for any non-empty string) and its schema.
struct AnyText {
  static constexpr std::string (*kValidate)(std::string_view) = nullptr;
  static constexpr std::string_view kSchema = R"({"type": "string", "minLength": 1})";
};
struct CapabilityText {
  static constexpr std::string (*kValidate)(std::string_view) = &ValidateCapability;
  static constexpr std::string_view kSchema =
      R"({"type": "string", "pattern": "^(?!CAP_)[A-Z][A-Z0-9_]*$"})";
};
struct AllowedProfileText {
  static constexpr std::string (*kValidate)(std::string_view) = &ValidateAllowedProfile;
  static constexpr std::string_view kSchema =
      R"({"type": "string", "pattern": "^(RuntimeDefault|Unconfined|Localhost/.+)$"})";
};

template <class Item>
struct ListType {
  using T = std::vector<std::string>;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    return reader.StringList(value, f, Item::kValidate);
  }
  static ExplainedValue Explain(const T& items, Allocator& allocator) {
    Value out(rapidjson::kArrayType);
    for (const std::string& item : items) out.PushBack(Text(item, allocator), allocator);
    return {std::move(out), ""};
  }
  static std::string Schema() {
    return R"({"type": "array", "items": )" + std::string(Item::kSchema) + "}";
  }
};

// spec.namespaces: at least one pattern, each once.
struct NamespaceListType {
  using T = std::vector<std::string>;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    auto patterns = reader.StringList(value, f, &ValidateNamespacePattern);
    if (!patterns) return std::nullopt;
    bool ok = true;
    if (patterns->empty()) {
      reader.Fail(f, "must list at least one namespace");
      ok = false;
    }
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < patterns->size(); ++i) {
      if (!seen.insert((*patterns)[i]).second) {
        reader.Fail(IndexPath(f, i), "duplicate pattern " + check_text::GoQuote((*patterns)[i]));
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return patterns;
  }
  static std::string Schema() {
    return R"({"type": "array", "minItems": 1, "uniqueItems": true,
      "items": {"type": "string", "pattern": "^[a-z0-9*?-]{1,63}$"}})";
  }
};

// spec.namespaceSelector: a Kubernetes LabelSelector.
struct SelectorType {
  using T = LabelSelector;
  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    return ReadLabelSelector(reader, value, f);
  }
  static std::string Schema() {
    return R"({"type": "object", "additionalProperties": false,
      "properties": {
        "matchLabels": {"type": ["object", "null"], "additionalProperties": {"type": "string",
          "maxLength": 63, "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"}},
        "matchExpressions": {"type": ["array", "null"], "items": {
          "type": "object", "additionalProperties": false, "required": ["key", "operator"],
          "properties": {
            "key": {"type": "string", "minLength": 1},
            "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
            "values": {"type": ["array", "null"], "items": {"type": "string", "maxLength": 63,
              "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"}}},
          "if": {"properties": {"operator": {"enum": ["In", "NotIn"]}}},
          "then": {"required": ["values"], "properties": {"values": {"type": "array", "minItems": 1}}},
          "else": {"properties": {"values": {"type": ["array", "null"], "maxItems": 0}}}}}}})";
  }
};

// spec.exceptions: a list of waivers, each name once (policy/exceptions.h).
struct ExceptionsType {
  using T = std::vector<PolicyException>;
  static constexpr std::string_view kKeys[] = {"name",   "checks", "containers", "images",
                                               "values", "reason", "expires"};

  static std::optional<std::vector<std::string>> List(
      DocumentReader& reader, const Value& item, const std::string& path, std::string_view key,
      const std::function<std::string(std::string_view)>& valid) {
    const Value* value = DocumentReader::Find(item, key);
    if (value == nullptr || value->IsNull()) return std::vector<std::string>{};
    return reader.StringList(*value, JoinPath(path, key), valid);
  }

  static std::optional<T> Read(DocumentReader& reader, const Value& value, const std::string& f) {
    if (!value.IsArray()) {
      reader.WrongType(f, "a list", value);
      return std::nullopt;
    }
    T exceptions;
    bool ok = true;
    std::set<std::string> names;
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      const std::string path = IndexPath(f, i);
      const Value& item = value[i];
      if (!reader.ExpectMapping(item, path, {std::begin(kKeys), std::end(kKeys)})) {
        ok = false;
        continue;
      }
      PolicyException exception;
      auto text = [&](std::string_view key, std::string& out) {
        const Value* field = reader.Required(item, path, key);
        if (field == nullptr) return false;
        auto read = reader.String(*field, JoinPath(path, key));
        if (!read) return false;
        out = std::move(*read);
        return true;
      };
      bool item_ok = text("name", exception.name);
      if (item_ok) {
        if (std::string problem = ValidateName(exception.name); !problem.empty()) {
          reader.Fail(JoinPath(path, "name"), std::move(problem));
          item_ok = false;
        } else if (!names.insert(exception.name).second) {
          reader.Fail(JoinPath(path, "name"),
                      "duplicate exception name " + check_text::GoQuote(exception.name));
          item_ok = false;
        }
      }
      if (const Value* checks = reader.Required(item, path, "checks")) {
        auto read = reader.StringList(*checks, JoinPath(path, "checks"), &ValidateExceptionCheck);
        if (read && read->empty()) reader.Fail(JoinPath(path, "checks"), "must list a check");
        if (read && !read->empty()) {
          exception.checks = std::move(*read);
        } else {
          item_ok = false;
        }
      } else {
        item_ok = false;
      }
      auto containers = List(reader, item, path, "containers", &ValidateExceptionGlob);
      auto images = List(reader, item, path, "images", &ValidateExceptionGlob);
      auto values = List(reader, item, path, "values", nullptr);
      if (containers && images && values) {
        exception.containers = std::move(*containers);
        exception.images = std::move(*images);
        exception.values = std::move(*values);
      } else {
        item_ok = false;
      }
      item_ok &= text("reason", exception.reason);
      if (text("expires", exception.expires)) {
        if (exception.expires != "never") {
          exception.expires_day = ParseDate(exception.expires);
          if (!exception.expires_day) {
            reader.Fail(JoinPath(path, "expires"),
                        "must be a date (YYYY-MM-DD) or \"never\", got " +
                            check_text::GoQuote(exception.expires));
            item_ok = false;
          }
        }
      } else {
        item_ok = false;
      }
      ok &= item_ok;
      if (item_ok) exceptions.push_back(std::move(exception));
    }
    if (!ok) return std::nullopt;
    return exceptions;
  }

  static ExplainedValue Explain(const T& exceptions, Allocator& allocator) {
    Value out(rapidjson::kArrayType);
    auto list = [&](const std::vector<std::string>& items) {
      Value array(rapidjson::kArrayType);
      for (const std::string& item : items) array.PushBack(Text(item, allocator), allocator);
      return array;
    };
    for (const PolicyException& exception : exceptions) {
      Value item(rapidjson::kObjectType);
      item.AddMember("name", Text(exception.name, allocator), allocator);
      item.AddMember("checks", list(exception.checks), allocator);
      if (!exception.containers.empty()) {
        item.AddMember("containers", list(exception.containers), allocator);
      }
      if (!exception.images.empty()) item.AddMember("images", list(exception.images), allocator);
      if (!exception.values.empty()) item.AddMember("values", list(exception.values), allocator);
      item.AddMember("reason", Text(exception.reason, allocator), allocator);
      item.AddMember("expires", Text(exception.expires, allocator), allocator);
      out.PushBack(item, allocator);
    }
    return {std::move(out), ""};
  }

  static std::string Schema() {
    return R"({"type": "array", "items": {"type": "object", "additionalProperties": false,
      "required": ["name", "checks", "reason", "expires"],
      "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"},
        "checks": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "containers": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}},
        "images": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}},
        "values": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}},
        "reason": {"type": "string", "minLength": 1},
        "expires": {"type": "string", "pattern": "^(never|[0-9]{4}-[0-9]{2}-[0-9]{2})$"}}}})";
  }
};

// ---- rows: a value type bound to the member that holds the value ----

template <class M>
struct Unwrapped {
  static const M* Get(const M& member) { return &member; }
};
template <class T>
struct Unwrapped<std::optional<T>> {
  static const T* Get(const std::optional<T>& member) { return member ? &*member : nullptr; }
};
template <class T>
struct Unwrapped<Shared<T>> {
  static const T* Get(const Shared<T>& member) { return member ? &*member : nullptr; }
};

template <auto Member, class Type>
bool ReadSetting(DocumentReader& reader, const Value& value, const std::string& field,
                 NamespacePolicy& policy) {
  auto read = Type::Read(reader, value, field);
  if (!read) return false;
  policy.values.*Member = std::move(*read);
  return true;
}

template <auto Member>
void MergeSetting(const NamespacePolicy& policy, EffectivePolicy& effective) {
  effective.*Member = policy.values.*Member;
}

template <auto Member>
void ResetSetting(EffectivePolicy& effective) {
  effective.*Member = PolicyValues{}.*Member;
}

template <auto Member, class Type>
std::optional<ExplainedValue> ExplainSetting(const EffectivePolicy& effective,
                                             Allocator& allocator) {
  const auto& member = effective.*Member;
  const auto* value = Unwrapped<std::remove_cvref_t<decltype(member)>>::Get(member);
  if (value == nullptr) return std::nullopt;
  return Type::Explain(*value, allocator);
}

// A merged field of the effective policy.
template <auto Member, class Type>
SpecField Setting(std::string_view path, std::string_view description,
                  std::string_view built_in = "") {
  SpecField field;
  field.path = path;
  field.description = description;
  field.built_in = built_in;
  field.id = &FieldId<Member>::tag;
  field.read = &ReadSetting<Member, Type>;
  field.merge = &MergeSetting<Member>;
  field.reset = &ResetSetting<Member>;
  field.explain = &ExplainSetting<Member, Type>;
  field.schema = &Type::Schema;
  return field;
}

template <auto Member, class Type>
bool ReadSelection(DocumentReader& reader, const Value& value, const std::string& field,
                   NamespacePolicy& policy) {
  auto read = Type::Read(reader, value, field);
  if (!read) return false;
  policy.*Member = std::move(*read);
  return true;
}

// A field that says which namespaces the policy applies to (a policy needs one or more of them).
template <auto Member, class Type>
SpecField Selection(std::string_view path, std::string_view description) {
  SpecField field;
  field.path = path;
  field.description = description;
  field.merged = false;
  field.read = &ReadSelection<Member, Type>;
  field.schema = &Type::Schema;
  return field;
}

using Capabilities = ListType<CapabilityText>;
using AllowedProfiles = ListType<AllowedProfileText>;
using Names = ListType<AnyText>;
using V = PolicyValues;

}  // namespace

const std::vector<SpecField>& SpecFields() {
  static const std::vector<SpecField> fields = {
      Selection<&NamespacePolicy::namespaces, NamespaceListType>(
          "namespaces", "Exact names and globs ('*', '?'); \"*\" is the cluster default"),
      Selection<&NamespacePolicy::namespace_selector, SelectorType>(
          "namespaceSelector",
          "A Kubernetes label selector of namespaces (matchLabels, matchExpressions)"),
      Setting<&V::enforce, LevelType>("podSecurity.enforce",
                                      "Denies pods that violate LEVEL[:VERSION]", "privileged"),
      Setting<&V::warn, LevelType>("podSecurity.warn",
                                   "Warns about pods that violate LEVEL[:VERSION]"),
      Setting<&V::audit, LevelType>(
          "podSecurity.audit", "Annotates the audit event of pods that violate LEVEL[:VERSION]"),
      Setting<&V::default_seccomp_profile, ProfileType>("defaults.seccompProfile",
                                                        "Seccomp profile where the pod sets none"),
      Setting<&V::default_app_armor_profile, ProfileType>(
          "defaults.appArmorProfile", "AppArmor profile where a container sets none"),
      Setting<&V::default_capabilities_drop, Capabilities>(
          "defaults.capabilities.drop", "Capabilities dropped where a container drops none"),
      Setting<&V::default_capabilities_add, Capabilities>(
          "defaults.capabilities.add", "Capabilities added where a container adds none"),
      Setting<&V::default_allow_privilege_escalation, BoolType>(
          "defaults.allowPrivilegeEscalation", "Where a container leaves it unset"),
      Setting<&V::default_run_as_non_root, BoolType>("defaults.runAsNonRoot",
                                                     "Where the pod and container leave it unset"),
      Setting<&V::default_runtime_class_name, StringType>("defaults.runtimeClassName",
                                                          "Where the pod leaves it unset"),
      Setting<&V::rules_action, EnumType<Action>>("rules.action", "What a failed rule does",
                                                  "enforce"),
      Setting<&V::allowed_capabilities, Capabilities>("rules.allowedCapabilities",
                                                      "The only capabilities a container may add"),
      Setting<&V::required_drop_capabilities, Capabilities>(
          "rules.requiredDropCapabilities", "Capabilities every container must drop"),
      Setting<&V::allowed_seccomp_profiles, AllowedProfiles>(
          "rules.allowedSeccompProfiles", "RuntimeDefault, Unconfined or Localhost/<glob>"),
      Setting<&V::allowed_app_armor_profiles, AllowedProfiles>(
          "rules.allowedAppArmorProfiles", "RuntimeDefault, Unconfined or Localhost/<glob>"),
      Setting<&V::allowed_runtime_classes, Names>("rules.allowedRuntimeClasses",
                                                  "The only runtime classes a pod may use"),
      Setting<&V::workloads, EnumType<WorkloadMode>>(
          "workloads", "How workloads' pod templates are judged", "enforce"),
      Setting<&V::exempt_usernames, Names>("exemptions.usernames",
                                           "Requests by these users are not judged"),
      Setting<&V::exempt_runtime_classes, Names>("exemptions.runtimeClasses",
                                                 "Pods of these runtime classes are not judged"),
      Setting<&V::exempt_images, Names>(
          "exemptions.images", "Image globs: such containers skip container checks and defaults"),
      // Merge: like every field, the most specific policy that sets `exceptions` states the whole
      // list (it replaces, not extends, the inherited one; null restores none). Waivers stay
      // reviewable in one document per namespace.
      Setting<&V::exceptions, ExceptionsType>(
          "exceptions",
          "Waivers of exact offences: checks, container/image globs, values, reason, expires "
          "(a date or never)"),
  };
  return fields;
}

std::size_t SpecFieldIndex(std::string_view path) {
  const auto& fields = SpecFields();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].path == path) return i;
  }
  return fields.size();
}

namespace {

// The keys directly under `prefix` ("" for spec, "defaults." ...), in table order.
std::vector<std::string_view> KeysUnder(std::string_view prefix) {
  std::vector<std::string_view> keys;
  for (const SpecField& field : SpecFields()) {
    if (!field.path.starts_with(prefix)) continue;
    const std::string_view rest = field.path.substr(prefix.size());
    const std::string_view key = rest.substr(0, rest.find('.'));
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  return keys;
}

std::string DocumentPath(std::string_view prefix) {
  return prefix.empty() ? std::string("spec")
                        : "spec." + std::string(prefix.substr(0, prefix.size() - 1));
}

void ReadMapping(DocumentReader& reader, const Value& mapping, std::string_view prefix,
                 NamespacePolicy* policy) {
  const auto& fields = SpecFields();
  const std::vector<std::string_view> keys = KeysUnder(prefix);
  const std::string path = DocumentPath(prefix);
  if (!reader.ExpectMapping(mapping, path, keys)) return;
  for (const std::string_view key : keys) {
    const std::string child = std::string(prefix) + std::string(key);
    const std::string field_path = JoinPath(path, key);
    const Value* value = DocumentReader::Find(mapping, key);
    const std::size_t index = SpecFieldIndex(child);
    if (index == fields.size()) {  // a section
      if (value == nullptr) continue;
      if (!value->IsNull()) {
        ReadMapping(reader, *value, child + ".", policy);
        continue;
      }
      // A section set to null removes every field it could have set.
      for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].path.starts_with(child + ".")) policy->states[i] = FieldState::kNull;
      }
      continue;
    }
    const SpecField& field = fields[index];
    if (value == nullptr || (value->IsNull() && field.required)) {
      if (field.required) reader.Fail(field_path, "required field is missing");
    } else if (value->IsNull() && !field.merged) {
      reader.Fail(field_path, "must not be null");
    } else if (value->IsNull()) {
      policy->states[index] = FieldState::kNull;
    } else if (field.read(reader, *value, field_path, *policy)) {
      policy->states[index] = FieldState::kValue;
    }
  }
}

// ---- JSON Schema ----

Value ParseFragment(std::string_view text, Allocator& allocator) {
  rapidjson::Document fragment;
  fragment.Parse(text.data(), text.size());
  return Value(fragment, allocator);
}

Value Nullable(Value schema, Allocator& allocator) {
  Value any_of(rapidjson::kArrayType);
  any_of.PushBack(schema, allocator);
  any_of.PushBack(ParseFragment(R"({"type": "null"})", allocator), allocator);
  Value out(rapidjson::kObjectType);
  out.AddMember("anyOf", any_of, allocator);
  return out;
}

Value SchemaUnder(std::string_view prefix, Allocator& allocator) {
  const auto& fields = SpecFields();
  Value properties(rapidjson::kObjectType);
  Value required(rapidjson::kArrayType);
  for (const std::string_view key : KeysUnder(prefix)) {
    const std::string child = std::string(prefix) + std::string(key);
    const std::size_t index = SpecFieldIndex(child);
    Value schema;
    if (index == fields.size()) {  // a section: null removes every field in it
      schema = Nullable(SchemaUnder(child + ".", allocator), allocator);
    } else {
      const SpecField& field = fields[index];
      schema = ParseFragment(field.schema(), allocator);
      if (field.required) {
        required.PushBack(Text(key, allocator), allocator);
      } else if (field.merged) {
        schema = Nullable(std::move(schema), allocator);  // null removes the inherited value
      }
      Value described(rapidjson::kObjectType);
      described.AddMember("description", Text(field.description, allocator), allocator);
      for (auto& member : schema.GetObject()) {
        described.AddMember(member.name, member.value, allocator);
      }
      schema = std::move(described);
    }
    properties.AddMember(Text(key, allocator), schema, allocator);
  }
  Value out(rapidjson::kObjectType);
  out.AddMember("type", "object", allocator);
  out.AddMember("additionalProperties", false, allocator);
  if (!required.Empty()) out.AddMember("required", required, allocator);
  out.AddMember("properties", properties, allocator);
  if (prefix.empty()) {  // a policy needs at least one of the fields that select namespaces
    Value any_of(rapidjson::kArrayType);
    for (const SpecField& field : fields) {
      if (field.merged) continue;
      Value one(rapidjson::kObjectType);
      Value names(rapidjson::kArrayType);
      names.PushBack(Text(field.path, allocator), allocator);
      one.AddMember("required", names, allocator);
      any_of.PushBack(one, allocator);
    }
    out.AddMember("anyOf", any_of, allocator);
  }
  return out;
}

}  // namespace

void ReadSpec(DocumentReader& reader, const Value& spec, NamespacePolicy* policy) {
  policy->states.assign(SpecFields().size(), FieldState::kAbsent);
  ReadMapping(reader, spec, "", policy);
  if (!spec.IsObject()) return;
  const bool selects = std::any_of(SpecFields().begin(), SpecFields().end(), [&](const auto& f) {
    return !f.merged && DocumentReader::Find(spec, f.path) != nullptr;
  });
  if (!selects) {
    reader.Fail("spec.namespaces",
                "required field is missing (a policy needs namespaces, namespaceSelector or both)");
  }
}

void MergeFields(const NamespacePolicy& policy, const std::shared_ptr<const FieldSource>& source,
                 EffectivePolicy* effective) {
  const auto& fields = SpecFields();
  for (std::size_t i = 0; i < fields.size() && i < policy.states.size(); ++i) {
    const SpecField& field = fields[i];
    if (!field.merged || policy.states[i] == FieldState::kAbsent) continue;
    if (policy.states[i] == FieldState::kValue) {
      field.merge(policy, *effective);
      effective->sources.Set(field.path, source);
    } else {
      field.reset(*effective);
      effective->sources.Erase(field.path);
    }
  }
}

rapidjson::Document NamespacePolicySpecSchema() {
  rapidjson::Document schema;
  static_cast<Value&>(schema) = SchemaUnder("", schema.GetAllocator());
  return schema;
}

rapidjson::Document NamespacePolicySchema() {
  rapidjson::Document schema;
  Allocator& allocator = schema.GetAllocator();
  schema.CopyFrom(ParseFragment(R"json({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "NamespacePolicy",
    "description": "Palisade's pod security policy for the namespaces it names (palisade policy schema)",
    "type": "object", "additionalProperties": false,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
      "apiVersion": {"const": "palisade.dev/v1"},
      "kind": {"const": "NamespacePolicy"},
      "metadata": {"type": "object", "additionalProperties": false, "required": ["name"],
        "properties": {
          "name": {"type": "string", "maxLength": 253, "pattern": "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"},
          "labels": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
          "annotations": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}}}}})json",
                                allocator),
                  allocator);
  schema["properties"].AddMember("spec", SchemaUnder("", allocator), allocator);
  return schema;
}

}  // namespace palisade::policy
