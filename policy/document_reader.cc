#include "policy/document_reader.h"

#include <algorithm>
#include <set>

#include "policy/json_access.h"

namespace palisade::policy {

using check_text::GoQuote;
using rapidjson::Value;

std::string JoinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string IndexPath(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

// The closest known field, if it is close enough to be a plausible typo.
std::string_view Suggestion(std::string_view key, const std::vector<std::string_view>& known) {
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

// "a, b or c"
std::string Alternatives(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? " or " : ", ";
    out += names[i];
  }
  return out;
}

}  // namespace

void DocumentReader::Fail(std::string field, std::string reason) {
  failed_ = true;
  Report(std::move(field), std::move(reason), false);
}

void DocumentReader::Warn(std::string field, std::string reason) {
  Report(std::move(field), std::move(reason), true);
}

void DocumentReader::Report(std::string field, std::string reason, bool warning) {
  if (errors_ == nullptr || reported_ > kMaxReported) return;
  if (++reported_ > kMaxReported) {
    // A document of a hundred thousand unknown keys would otherwise hold as many errors.
    errors_->push_back(PolicyError{
        std::string(file_), document_index_, "",
        "more than " + std::to_string(kMaxReported) + " problems; the rest are not listed",
        !failed_});
    return;
  }
  errors_->push_back(PolicyError{std::string(file_), document_index_, std::move(field),
                                 std::move(reason), warning});
}

void DocumentReader::WrongType(const std::string& field, std::string_view want, const Value& got) {
  Fail(field, "expected " + std::string(want) + ", got " +
                  std::string(json::TypeName(got, json::Words::kYaml)));
}

bool DocumentReader::ExpectMapping(const Value& value, const std::string& path,
                                   const std::vector<std::string_view>& known) {
  if (!value.IsObject()) {
    WrongType(path, "a mapping", value);
    return false;
  }
  std::set<std::string_view> seen;
  for (const auto& member : value.GetObject()) {
    const std::string_view key = StringOf(member.name);
    const std::string field = JoinPath(path, key);
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

const Value* DocumentReader::Find(const Value& mapping, std::string_view key) {
  for (const auto& member : mapping.GetObject()) {
    if (StringOf(member.name) == key) return &member.value;
  }
  return nullptr;
}

const Value* DocumentReader::Required(const Value& mapping, const std::string& path,
                                      std::string_view key) {
  const Value* value = Find(mapping, key);
  if (value == nullptr || value->IsNull()) {
    Fail(JoinPath(path, key), "required field is missing");
    return nullptr;
  }
  return value;
}

std::optional<std::string> DocumentReader::String(const Value& value, const std::string& field) {
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

std::optional<bool> DocumentReader::Bool(const Value& value, const std::string& field) {
  if (!value.IsBool()) {
    WrongType(field, "a boolean", value);
    return std::nullopt;
  }
  return value.GetBool();
}

std::optional<LevelVersion> DocumentReader::Level(const Value& value, const std::string& field) {
  auto text = String(value, field);
  if (!text) return std::nullopt;
  std::string error;
  auto level = ParseLevelVersion(*text, &error);
  if (!level) {
    Fail(field, error);
  } else if (!level->latest && level->version == Version::Latest() &&
             !text->ends_with(":" + Version::Latest().ToString())) {
    // Clamped: judged by the newest rules this binary has, which may be laxer than intended.
    Warn(field, "version " + text->substr(text->find(':') + 1) +
                    " is newer than this binary knows; judged as " + level->ToString());
  }
  return level;
}

std::optional<std::size_t> DocumentReader::OneOf(const Value& value, const std::string& field,
                                                 const std::vector<std::string_view>& names) {
  auto text = String(value, field);
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == *text) return i;
  }
  Fail(field, "invalid value " + GoQuote(*text) + " (want " + Alternatives(names) + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> DocumentReader::StringList(
    const Value& value, const std::string& field,
    const std::function<std::string(std::string_view)>& valid) {
  if (!value.IsArray()) {
    WrongType(field, "a list", value);
    return std::nullopt;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    const std::string item_field = IndexPath(field, i);
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

std::optional<Profile> DocumentReader::ProfileOf(const Value& value, const std::string& field) {
  if (!ExpectMapping(value, field, {"type", "localhostProfile"})) return std::nullopt;
  Profile profile;
  bool ok = true;
  const std::string type_field = JoinPath(field, "type");
  if (const Value* type = Required(value, field, "type")) {
    if (OneOf(*type, type_field, {"RuntimeDefault", "Localhost", "Unconfined"})) {
      profile.type = StringOf(*type);
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  const std::string localhost_field = JoinPath(field, "localhostProfile");
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

std::string ValidateName(std::string_view name) {
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 253 && alnum(name.front()) && alnum(name.back());
  for (const char c : name) ok = ok && (alnum(c) || c == '-' || c == '.');
  if (ok) return "";
  return "invalid name " + GoQuote(name) +
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
  return "invalid namespace pattern " + GoQuote(pattern) +
         " (want a namespace name of lower-case letters, digits and '-'; '*' and '?' are "
         "wildcards)";
}

std::string ValidateCapability(std::string_view name) {
  bool ok = !name.empty() && name.front() >= 'A' && name.front() <= 'Z';
  for (const char c : name)
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    return "invalid capability " + GoQuote(name) +
           " (want an upper-case name like NET_BIND_SERVICE, or ALL)";
  }
  if (name.substr(0, 4) == "CAP_") {
    return "invalid capability " + GoQuote(name) +
           " (write it without the CAP_ prefix: " + std::string(name.substr(4)) + ")";
  }
  return "";
}

std::string ValidateAllowedProfile(std::string_view entry) {
  if (entry == "RuntimeDefault" || entry == "Unconfined") return "";
  constexpr std::string_view kLocalhost = "Localhost/";
  if (entry.size() > kLocalhost.size() && entry.substr(0, kLocalhost.size()) == kLocalhost) {
    return "";
  }
  return "invalid profile " + GoQuote(entry) +
         " (want RuntimeDefault, Unconfined or Localhost/<profile glob>)";
}

}  // namespace palisade::policy
