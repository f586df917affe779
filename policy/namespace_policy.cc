#include "policy/namespace_policy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <set>
#include <utility>

#include "policy/json_access.h"

namespace palisade::policy {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kEnforce:
      return "enforce";
    case Action::kWarn:
      return "warn";
    case Action::kAudit:
      return "audit";
  }
  return "enforce";
}

// Documents are counted from 1 in messages ("document 1" is the first in the file), while
// document_index is 0-based. A negative index means the problem concerns the whole file.
std::string PolicyError::ToString() const {
  std::string out;
  if (!file.empty()) out += file + ": ";
  if (document_index >= 0) out += "document " + std::to_string(document_index + 1) + ": ";
  if (!field.empty()) out += field + ": ";
  out += reason;
  return out;
}

bool EffectivePolicy::HasDefaults() const {
  return default_seccomp_profile || default_app_armor_profile || default_capabilities_drop ||
         default_capabilities_add || default_allow_privilege_escalation ||
         default_run_as_non_root || default_runtime_class_name;
}

const FieldSource* EffectivePolicy::SourceOf(std::string_view field) const {
  const auto it = sources.find(std::string(field));
  return it == sources.end() ? nullptr : &it->second;
}

// Iterative matcher with single-star backtracking: O(pattern * text) worst case, no recursion.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

using rapidjson::Value;

constexpr std::string_view kApiVersion = "palisade.dev/v1";
constexpr std::string_view kKind = "NamespacePolicy";

std::string_view StringOf(const Value& value) {
  return std::string_view(value.GetString(), value.GetStringLength());
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string Index(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const char x = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
      const char y = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (x == y ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest known field, if it is close enough to be a plausible typo.
std::string_view Suggestion(std::string_view key, std::initializer_list<std::string_view> known) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (const std::string_view candidate : known) {
    const std::size_t distance = EditDistance(key, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

template <class T>
void SetNull(Setting<T>* setting) {
  setting->state = Setting<T>::State::kNull;
  setting->value = T{};
}

// Reads one document, reporting every problem it finds rather than stopping at the first.
class DocumentReader {
 public:
  DocumentReader(std::string_view file, int document_index, std::vector<PolicyError>* errors)
      : file_(file), document_index_(document_index), errors_(errors) {}

  bool failed() const { return failed_; }

  void Fail(std::string field, std::string reason) {
    failed_ = true;
    if (errors_ != nullptr) {
      errors_->push_back(
          PolicyError{std::string(file_), document_index_, std::move(field), std::move(reason)});
    }
  }

  void WrongType(const std::string& field, std::string_view want, const Value& got) {
    Fail(field, "expected " + std::string(want) + ", got " +
                    std::string(json::TypeName(got, json::Words::kYaml)));
  }

  // Checks that `value` is a mapping whose keys are all known and unique.
  bool ExpectMapping(const Value& value, const std::string& path,
                     std::initializer_list<std::string_view> known) {
    if (!value.IsObject()) {
      WrongType(path, "a mapping", value);
      return false;
    }
    std::set<std::string_view> seen;
    for (const auto& member : value.GetObject()) {
      const std::string_view key = StringOf(member.name);
      const std::string field = Join(path, key);
      if (!seen.insert(key).second) {
        Fail(field, "duplicate field");
        continue;
      }
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      const std::string_view suggestion = Suggestion(key, known);
      Fail(field, suggestion.empty()
                      ? std::string("unknown field")
                      : "unknown field (did you mean " + std::string(suggestion) + "?)");
    }
    return true;
  }

  static const Value* Find(const Value& mapping, std::string_view key) {
    for (const auto& member : mapping.GetObject()) {
      if (StringOf(member.name) == key) return &member.value;
    }
    return nullptr;
  }

  // A field that must be present and not null.
  const Value* Required(const Value& mapping, const std::string& path, std::string_view key) {
    const Value* value = Find(mapping, key);
    if (value == nullptr || value->IsNull()) {
      Fail(Join(path, key), "required field is missing");
      return nullptr;
    }
    return value;
  }

  // An optional field: absent, null (removes the inherited value) or converted by `read`.
  template <class T, class Read>
  void Optional(const Value& mapping, const std::string& path, std::string_view key,
                Setting<T>* out, Read read) {
    const Value* value = Find(mapping, key);
    if (value == nullptr) return;
    if (value->IsNull()) {
      SetNull(out);
      return;
    }
    std::optional<T> converted = read(*value, Join(path, key));
    if (converted) {
      out->state = Setting<T>::State::kValue;
      out->value = std::move(*converted);
    }
  }

  std::optional<std::string> String(const Value& value, const std::string& field) {
    if (!value.IsString()) {
      WrongType(field, "a string", value);
      return std::nullopt;
    }
    if (value.GetStringLength() == 0) {
      Fail(field, "must not be empty");
      return std::nullopt;
    }
    return std::string(StringOf(value));
  }

  std::optional<bool> Bool(const Value& value, const std::string& field) {
    if (!value.IsBool()) {
      WrongType(field, "a boolean", value);
      return std::nullopt;
    }
    return value.GetBool();
  }

  std::optional<LevelVersion> Level(const Value& value, const std::string& field) {
    auto text = String(value, field);
    if (!text) return std::nullopt;
    std::string error;
    auto level = ParseLevelVersion(*text, &error);
    if (!level) Fail(field, error);
    return level;
  }

  // One of `names` (in order of the enum values).
  template <class Enum>
  std::optional<Enum> OneOf(const Value& value, const std::string& field,
                            std::initializer_list<std::pair<std::string_view, Enum>> names) {
    auto text = String(value, field);
    if (!text) return std::nullopt;
    for (const auto& [name, result] : names) {
      if (name == *text) return result;
    }
    Fail(field, "invalid value " + Quote(*text) + " (want " + Alternatives(names) + ")");
    return std::nullopt;
  }

  template <class Pairs>
  static std::string Alternatives(const Pairs& names) {
    std::string out;
    std::size_t i = 0;
    for (const auto& pair : names) {
      if (i > 0) out += (i + 1 == names.size()) ? " or " : ", ";
      out += pair.first;
      ++i;
    }
    return out;
  }

  // A list of non-empty strings, each accepted by `valid` (which returns an error or "").
  std::optional<std::vector<std::string>> StringList(
      const Value& value, const std::string& field,
      const std::function<std::string(std::string_view)>& valid) {
    if (!value.IsArray()) {
      WrongType(field, "a list", value);
      return std::nullopt;
    }
    std::vector<std::string> items;
    bool ok = true;
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      const std::string item_field = Index(field, i);
      auto item = String(value[i], item_field);
      if (!item) {
        ok = false;
        continue;
      }
      if (valid) {
        if (std::string problem = valid(*item); !problem.empty()) {
          Fail(item_field, std::move(problem));
          ok = false;
          continue;
        }
      }
      items.push_back(std::move(*item));
    }
    if (!ok) return std::nullopt;
    return items;
  }

  std::optional<Profile> ProfileOf(const Value& value, const std::string& field) {
    if (!ExpectMapping(value, field, {"type", "localhostProfile"})) return std::nullopt;
    Profile profile;
    bool ok = true;
    const std::string type_field = Join(field, "type");
    const Value* type = Required(value, field, "type");
    if (type != nullptr) {
      auto name = OneOf<int>(*type, type_field,
                             {{"RuntimeDefault", 0}, {"Localhost", 1}, {"Unconfined", 2}});
      if (name) {
        profile.type = StringOf(*type);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    const std::string localhost_field = Join(field, "localhostProfile");
    const Value* localhost = Find(value, "localhostProfile");
    if (localhost != nullptr && !localhost->IsNull()) {
      auto path = String(*localhost, localhost_field);
      if (!path) {
        ok = false;
      } else if (!profile.type.empty() && profile.type != "Localhost") {
        Fail(localhost_field, "only allowed when type is Localhost");
        ok = false;
      } else {
        profile.localhost_profile = std::move(*path);
      }
    } else if (profile.type == "Localhost") {
      Fail(localhost_field, "required when type is Localhost");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return profile;
  }

 private:
  std::string_view file_;
  int document_index_;
  std::vector<PolicyError>* errors_;
  bool failed_ = false;
};

std::string ValidateName(std::string_view name) {
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 253 && alnum(name.front()) && alnum(name.back());
  for (const char c : name) ok = ok && (alnum(c) || c == '-' || c == '.');
  if (ok) return "";
  return "invalid name " + Quote(name) +
         " (want lower-case letters, digits, '-' and '.', starting and ending with a letter or "
         "digit, at most 253 characters)";
}

std::string ValidateNamespacePattern(std::string_view pattern) {
  bool ok = !pattern.empty() && pattern.size() <= 63;
  for (const char c : pattern) {
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '*' || c == '?');
  }
  if (ok) return "";
  return "invalid namespace pattern " + Quote(pattern) +
         " (want a namespace name of lower-case letters, digits and '-'; '*' and '?' are "
         "wildcards)";
}

std::string ValidateCapability(std::string_view name) {
  bool ok = !name.empty() && name.front() >= 'A' && name.front() <= 'Z';
  for (const char c : name)
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    return "invalid capability " + Quote(name) +
           " (want an upper-case name like NET_BIND_SERVICE, or ALL)";
  }
  if (name.substr(0, 4) == "CAP_") {
    return "invalid capability " + Quote(name) +
           " (write it without the CAP_ prefix: " + std::string(name.substr(4)) + ")";
  }
  return "";
}

// "RuntimeDefault", "Unconfined" or "Localhost/<glob>".
std::string ValidateAllowedProfile(std::string_view entry) {
  if (entry == "RuntimeDefault" || entry == "Unconfined") return "";
  constexpr std::string_view kLocalhost = "Localhost/";
  if (entry.size() > kLocalhost.size() && entry.substr(0, kLocalhost.size()) == kLocalhost) {
    return "";
  }
  return "invalid profile " + Quote(entry) +
         " (want RuntimeDefault, Unconfined or Localhost/<profile glob>)";
}

// The canonical form hashed into the revision: sorted keys, length-prefixed strings.
void Canonicalize(const Value& value, std::string* out) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      *out += 'n';
      return;
    case rapidjson::kFalseType:
      *out += 'f';
      return;
    case rapidjson::kTrueType:
      *out += 't';
      return;
    case rapidjson::kNumberType: {
      char buffer[64];
      std::to_chars_result result;
      if (value.IsInt64()) {
        result = std::to_chars(buffer, buffer + sizeof buffer, value.GetInt64());
      } else if (value.IsUint64()) {
        result = std::to_chars(buffer, buffer + sizeof buffer, value.GetUint64());
      } else {
        result = std::to_chars(buffer, buffer + sizeof buffer, value.GetDouble());
      }
      *out += '#';
      out->append(buffer, result.ptr);
      *out += ';';
      return;
    }
    case rapidjson::kStringType:
      *out += 's' + std::to_string(value.GetStringLength()) + ':';
      out->append(value.GetString(), value.GetStringLength());
      return;
    case rapidjson::kArrayType:
      *out += '[' + std::to_string(value.Size()) + ':';
      for (const auto& item : value.GetArray()) Canonicalize(item, out);
      *out += ']';
      return;
    case rapidjson::kObjectType: {
      std::vector<const Value::Member*> members;
      for (const auto& member : value.GetObject()) members.push_back(&member);
      std::stable_sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
        return StringOf(a->name) < StringOf(b->name);
      });
      *out += '{' + std::to_string(members.size()) + ':';
      for (const auto* member : members) {
        Canonicalize(member->name, out);
        Canonicalize(member->value, out);
      }
      *out += '}';
      return;
    }
  }
}

std::string Revision(const Value& document) {
  std::string canonical;
  Canonicalize(document, &canonical);
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (const char c : canonical) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(buffer, 6);
}

}  // namespace

std::optional<NamespacePolicy> ParseNamespacePolicy(const rapidjson::Value& document,
                                                    std::string_view file, int document_index,
                                                    std::vector<PolicyError>* errors) {
  DocumentReader reader(file, document_index, errors);
  NamespacePolicy policy;
  policy.file = std::string(file);
  policy.document_index = document_index;

  if (!reader.ExpectMapping(document, "", {"apiVersion", "kind", "metadata", "spec"})) {
    return std::nullopt;
  }
  if (const Value* api_version = reader.Required(document, "", "apiVersion")) {
    if (auto text = reader.String(*api_version, "apiVersion"); text && *text != kApiVersion) {
      reader.Fail("apiVersion", "unsupported apiVersion " + Quote(*text) + " (want " +
                                    std::string(kApiVersion) + ")");
    }
  }
  if (const Value* kind = reader.Required(document, "", "kind")) {
    if (auto text = reader.String(*kind, "kind"); text && *text != kKind) {
      reader.Fail("kind",
                  "unsupported kind " + Quote(*text) + " (want " + std::string(kKind) + ")");
    }
  }

  if (const Value* metadata = reader.Required(document, "", "metadata")) {
    if (reader.ExpectMapping(*metadata, "metadata", {"name", "labels", "annotations"})) {
      if (const Value* name = reader.Required(*metadata, "metadata", "name")) {
        if (auto text = reader.String(*name, "metadata.name")) {
          if (std::string problem = ValidateName(*text); !problem.empty()) {
            reader.Fail("metadata.name", std::move(problem));
          } else {
            policy.name = std::move(*text);
          }
        }
      }
      for (const std::string_view map_key : {"labels", "annotations"}) {
        const Value* map = DocumentReader::Find(*metadata, map_key);
        if (map == nullptr || map->IsNull()) continue;
        const std::string field = Join("metadata", map_key);
        if (!map->IsObject()) {
          reader.WrongType(field, "a mapping", *map);
          continue;
        }
        for (const auto& member : map->GetObject()) {
          if (!member.value.IsString()) {
            reader.WrongType(Join(field, StringOf(member.name)), "a string", member.value);
          }
        }
      }
    }
  }

  const Value* spec = reader.Required(document, "", "spec");
  if (spec != nullptr && reader.ExpectMapping(*spec, "spec",
                                              {"namespaces", "podSecurity", "defaults", "rules",
                                               "workloads", "exemptions"})) {
    if (const Value* namespaces = reader.Required(*spec, "spec", "namespaces")) {
      if (auto patterns =
              reader.StringList(*namespaces, "spec.namespaces", ValidateNamespacePattern)) {
        if (patterns->empty()) reader.Fail("spec.namespaces", "must list at least one namespace");
        std::set<std::string> seen;
        for (std::size_t i = 0; i < patterns->size(); ++i) {
          if (!seen.insert((*patterns)[i]).second) {
            reader.Fail(Index("spec.namespaces", i), "duplicate pattern " + Quote((*patterns)[i]));
          }
        }
        policy.namespaces = std::move(*patterns);
      }
    }

    // A section set to null removes every field it could have set.
    const auto section = [&](std::string_view key, std::initializer_list<std::string_view> known,
                             const std::function<void()>& null_all) -> const Value* {
      const Value* value = DocumentReader::Find(*spec, key);
      if (value == nullptr) return nullptr;
      if (value->IsNull()) {
        null_all();
        return nullptr;
      }
      return reader.ExpectMapping(*value, Join("spec", key), known) ? value : nullptr;
    };
    const auto level = [&](const Value& v, const std::string& f) { return reader.Level(v, f); };
    const auto string = [&](const Value& v, const std::string& f) { return reader.String(v, f); };
    const auto boolean = [&](const Value& v, const std::string& f) { return reader.Bool(v, f); };
    const auto profile = [&](const Value& v, const std::string& f) {
      return reader.ProfileOf(v, f);
    };
    const auto list_of = [&](std::string (*valid)(std::string_view)) {
      return [&reader, valid](const Value& v, const std::string& f) {
        return reader.StringList(v, f,
                                 valid ? std::function<std::string(std::string_view)>(valid)
                                       : std::function<std::string(std::string_view)>());
      };
    };

    auto& ps = policy.pod_security;
    if (const Value* pod_security = section("podSecurity", {"enforce", "warn", "audit"}, [&] {
          SetNull(&ps.enforce);
          SetNull(&ps.warn);
          SetNull(&ps.audit);
        })) {
      reader.Optional(*pod_security, "spec.podSecurity", "enforce", &ps.enforce, level);
      reader.Optional(*pod_security, "spec.podSecurity", "warn", &ps.warn, level);
      reader.Optional(*pod_security, "spec.podSecurity", "audit", &ps.audit, level);
    }

    auto& d = policy.defaults;
    if (const Value* defaults =
            section("defaults",
                    {"seccompProfile", "appArmorProfile", "capabilities",
                     "allowPrivilegeEscalation", "runAsNonRoot", "runtimeClassName"},
                    [&] {
                      SetNull(&d.seccomp_profile);
                      SetNull(&d.app_armor_profile);
                      SetNull(&d.capabilities_drop);
                      SetNull(&d.capabilities_add);
                      SetNull(&d.allow_privilege_escalation);
                      SetNull(&d.run_as_non_root);
                      SetNull(&d.runtime_class_name);
                    })) {
      const std::string path = "spec.defaults";
      reader.Optional(*defaults, path, "seccompProfile", &d.seccomp_profile, profile);
      reader.Optional(*defaults, path, "appArmorProfile", &d.app_armor_profile, profile);
      if (const Value* capabilities = DocumentReader::Find(*defaults, "capabilities")) {
        const std::string caps_path = Join(path, "capabilities");
        if (capabilities->IsNull()) {
          SetNull(&d.capabilities_drop);
          SetNull(&d.capabilities_add);
        } else if (reader.ExpectMapping(*capabilities, caps_path, {"drop", "add"})) {
          reader.Optional(*capabilities, caps_path, "drop", &d.capabilities_drop,
                          list_of(ValidateCapability));
          reader.Optional(*capabilities, caps_path, "add", &d.capabilities_add,
                          list_of(ValidateCapability));
        }
      }
      reader.Optional(*defaults, path, "allowPrivilegeEscalation", &d.allow_privilege_escalation,
                      boolean);
      reader.Optional(*defaults, path, "runAsNonRoot", &d.run_as_non_root, boolean);
      reader.Optional(*defaults, path, "runtimeClassName", &d.runtime_class_name, string);
    }

    auto& r = policy.rules;
    if (const Value* rules =
            section("rules",
                    {"action", "allowedCapabilities", "requiredDropCapabilities",
                     "allowedSeccompProfiles", "allowedAppArmorProfiles", "allowedRuntimeClasses"},
                    [&] {
                      SetNull(&r.action);
                      SetNull(&r.allowed_capabilities);
                      SetNull(&r.required_drop_capabilities);
                      SetNull(&r.allowed_seccomp_profiles);
                      SetNull(&r.allowed_app_armor_profiles);
                      SetNull(&r.allowed_runtime_classes);
                    })) {
      const std::string path = "spec.rules";
      reader.Optional(*rules, path, "action", &r.action, [&](const Value& v, const std::string& f) {
        return reader.OneOf<Action>(
            v, f,
            {{"enforce", Action::kEnforce}, {"warn", Action::kWarn}, {"audit", Action::kAudit}});
      });
      reader.Optional(*rules, path, "allowedCapabilities", &r.allowed_capabilities,
                      list_of(ValidateCapability));
      reader.Optional(*rules, path, "requiredDropCapabilities", &r.required_drop_capabilities,
                      list_of(ValidateCapability));
      reader.Optional(*rules, path, "allowedSeccompProfiles", &r.allowed_seccomp_profiles,
                      list_of(ValidateAllowedProfile));
      reader.Optional(*rules, path, "allowedAppArmorProfiles", &r.allowed_app_armor_profiles,
                      list_of(ValidateAllowedProfile));
      reader.Optional(*rules, path, "allowedRuntimeClasses", &r.allowed_runtime_classes,
                      list_of(nullptr));
    }

    reader.Optional(
        *spec, "spec", "workloads", &policy.workloads, [&](const Value& v, const std::string& f) {
          return reader.OneOf<WorkloadMode>(
              v, f, {{"enforce", WorkloadMode::kEnforce}, {"warn", WorkloadMode::kWarn}});
        });

    auto& e = policy.exemptions;
    if (const Value* exemptions =
            section("exemptions", {"usernames", "runtimeClasses", "images"}, [&] {
              SetNull(&e.usernames);
              SetNull(&e.runtime_classes);
              SetNull(&e.images);
            })) {
      const std::string path = "spec.exemptions";
      reader.Optional(*exemptions, path, "usernames", &e.usernames, list_of(nullptr));
      reader.Optional(*exemptions, path, "runtimeClasses", &e.runtime_classes, list_of(nullptr));
      reader.Optional(*exemptions, path, "images", &e.images, list_of(nullptr));
    }
  }

  if (reader.failed()) return std::nullopt;
  policy.revision = Revision(document);
  return policy;
}

// ---- PolicySet: matching and merge ----

namespace {

bool IsGlob(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

template <class T, class U>
void Merge(const Setting<T>& setting, std::optional<U>* target, const char* field,
           const NamespacePolicy& policy, EffectivePolicy* effective) {
  if (setting.absent()) return;
  if (setting.has_value()) {
    *target = setting.value;
    effective->sources[field] = FieldSource{policy.name, policy.revision};
  } else {
    target->reset();
    effective->sources.erase(field);
  }
}

// Fields that always have a value: null restores the built-in default.
template <class T>
void MergePlain(const Setting<T>& setting, T* target, const T& fallback, const char* field,
                const NamespacePolicy& policy, EffectivePolicy* effective) {
  if (setting.absent()) return;
  if (setting.has_value()) {
    *target = setting.value;
    effective->sources[field] = FieldSource{policy.name, policy.revision};
  } else {
    *target = fallback;
    effective->sources.erase(field);
  }
}

void Apply(const NamespacePolicy& p, EffectivePolicy* e) {
  e->matched.push_back(p.name);
  Merge(p.pod_security.enforce, &e->enforce, "podSecurity.enforce", p, e);
  Merge(p.pod_security.warn, &e->warn, "podSecurity.warn", p, e);
  Merge(p.pod_security.audit, &e->audit, "podSecurity.audit", p, e);

  const auto& d = p.defaults;
  Merge(d.seccomp_profile, &e->default_seccomp_profile, "defaults.seccompProfile", p, e);
  Merge(d.app_armor_profile, &e->default_app_armor_profile, "defaults.appArmorProfile", p, e);
  Merge(d.capabilities_drop, &e->default_capabilities_drop, "defaults.capabilities.drop", p, e);
  Merge(d.capabilities_add, &e->default_capabilities_add, "defaults.capabilities.add", p, e);
  Merge(d.allow_privilege_escalation, &e->default_allow_privilege_escalation,
        "defaults.allowPrivilegeEscalation", p, e);
  Merge(d.run_as_non_root, &e->default_run_as_non_root, "defaults.runAsNonRoot", p, e);
  Merge(d.runtime_class_name, &e->default_runtime_class_name, "defaults.runtimeClassName", p, e);

  const auto& r = p.rules;
  MergePlain(r.action, &e->rules_action, Action::kEnforce, "rules.action", p, e);
  Merge(r.allowed_capabilities, &e->allowed_capabilities, "rules.allowedCapabilities", p, e);
  Merge(r.required_drop_capabilities, &e->required_drop_capabilities,
        "rules.requiredDropCapabilities", p, e);
  Merge(r.allowed_seccomp_profiles, &e->allowed_seccomp_profiles, "rules.allowedSeccompProfiles", p,
        e);
  Merge(r.allowed_app_armor_profiles, &e->allowed_app_armor_profiles,
        "rules.allowedAppArmorProfiles", p, e);
  Merge(r.allowed_runtime_classes, &e->allowed_runtime_classes, "rules.allowedRuntimeClasses", p,
        e);

  MergePlain(p.workloads, &e->workloads, WorkloadMode::kEnforce, "workloads", p, e);

  const std::vector<std::string> none;
  const auto& x = p.exemptions;
  MergePlain(x.usernames, &e->exempt_usernames, none, "exemptions.usernames", p, e);
  MergePlain(x.runtime_classes, &e->exempt_runtime_classes, none, "exemptions.runtimeClasses", p,
             e);
  MergePlain(x.images, &e->exempt_images, none, "exemptions.images", p, e);
}

std::string Where(const NamespacePolicy& policy) {
  return (policy.file.empty() ? std::string() : policy.file + " ") + "document " +
         std::to_string(policy.document_index + 1);
}

}  // namespace

std::size_t PolicySet::NameHash::operator()(std::string_view name) const {
  return std::hash<std::string_view>{}(name);
}

// Glob policies that match `ns`, least specific first, each once (at its most specific glob),
// skipping `exact_policy` which applies last.
std::vector<std::size_t> PolicySet::MatchingGlobs(std::string_view ns,
                                                  std::size_t exact_policy) const {
  std::vector<std::size_t> matched;
  // globs_ is least specific first, so a policy's last matching glob is its most specific.
  for (const GlobEntry& glob : globs_) {
    if (glob.policy == exact_policy || !GlobMatch(glob.pattern, ns)) continue;
    matched.erase(std::remove(matched.begin(), matched.end(), glob.policy), matched.end());
    matched.push_back(glob.policy);
  }
  return matched;
}

std::shared_ptr<const PolicySet> PolicySet::Build(std::vector<NamespacePolicy> policies,
                                                  std::vector<PolicyError>* errors) {
  auto set = std::shared_ptr<PolicySet>(new PolicySet());
  bool ok = true;
  const auto fail = [&](const NamespacePolicy& policy, std::string field, std::string reason) {
    ok = false;
    if (errors != nullptr) {
      errors->push_back(
          PolicyError{policy.file, policy.document_index, std::move(field), std::move(reason)});
    }
  };

  std::unordered_map<std::string, std::size_t> by_name;
  std::unordered_map<std::string, std::size_t> by_pattern;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const NamespacePolicy& policy = policies[i];
    if (auto [it, inserted] = by_name.emplace(policy.name, i); !inserted) {
      fail(policy, "metadata.name",
           "duplicate name \"" + policy.name + "\" (also in " + Where(policies[it->second]) + ")");
    }
    for (std::size_t j = 0; j < policy.namespaces.size(); ++j) {
      const std::string& pattern = policy.namespaces[j];
      if (auto [it, inserted] = by_pattern.emplace(pattern, i); !inserted && it->second != i) {
        const NamespacePolicy& other = policies[it->second];
        fail(policy, "spec.namespaces[" + std::to_string(j) + "]",
             "namespace pattern \"" + pattern + "\" is also in policy \"" + other.name + "\" (" +
                 Where(other) + ")");
      }
    }
  }
  if (!ok) return nullptr;

  set->policies_ = std::move(policies);
  std::vector<std::pair<std::string, std::size_t>> exact;
  for (std::size_t i = 0; i < set->policies_.size(); ++i) {
    for (const std::string& pattern : set->policies_[i].namespaces) {
      if (IsGlob(pattern)) {
        set->globs_.push_back(GlobEntry{pattern, i});
      } else {
        exact.emplace_back(pattern, i);
      }
    }
  }
  // "*" first, then globs from shorter to longer, ties by pattern text.
  std::sort(set->globs_.begin(), set->globs_.end(), [](const GlobEntry& a, const GlobEntry& b) {
    const bool a_star = a.pattern == "*", b_star = b.pattern == "*";
    if (a_star != b_star) return a_star;
    if (a.pattern.size() != b.pattern.size()) return a.pattern.size() < b.pattern.size();
    return a.pattern < b.pattern;
  });

  auto star_only = std::make_shared<EffectivePolicy>();
  for (const GlobEntry& glob : set->globs_) {
    if (glob.pattern == "*") {
      Apply(set->policies_[glob.policy], star_only.get());
      set->star_only_policies_.push_back(glob.policy);
    }
  }
  set->star_only_ = std::move(star_only);

  set->exact_.reserve(exact.size());
  for (const auto& [name, index] : exact) {
    auto effective = std::make_shared<EffectivePolicy>();
    for (const std::size_t glob_policy : set->MatchingGlobs(name, index)) {
      Apply(set->policies_[glob_policy], effective.get());
    }
    Apply(set->policies_[index], effective.get());
    set->exact_.emplace(name, std::move(effective));
  }
  return set;
}

std::shared_ptr<const EffectivePolicy> PolicySet::ForNamespace(std::string_view ns) const {
  if (const auto it = exact_.find(ns); it != exact_.end()) return it->second;
  const std::vector<std::size_t> matched = MatchingGlobs(ns, policies_.size());
  if (matched == star_only_policies_) return star_only_;
  auto effective = std::make_shared<EffectivePolicy>();
  for (const std::size_t index : matched) Apply(policies_[index], effective.get());
  return effective;
}

}  // namespace palisade::policy
