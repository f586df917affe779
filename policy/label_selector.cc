#include "policy/label_selector.h"

#include <algorithm>
#include <set>
#include <utility>

#include "policy/check.h"
#include "policy/document_reader.h"

namespace palisade::policy {
namespace {

using check_text::GoQuote;
using rapidjson::Value;

bool IsAlphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool IsQualifiedNamePart(std::string_view text) {
  if (text.empty() || !IsAlphanumeric(text.front()) || !IsAlphanumeric(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return IsAlphanumeric(c) || c == '-' || c == '_' || c == '.'; });
}

// A lowercase RFC 1123 subdomain: labels of [a-z0-9-] starting and ending alphanumeric, joined
// by '.', at most 253 characters.
std::string ValidateDnsSubdomain(std::string_view text) {
  if (text.size() > 253) return "must be no more than 253 characters";
  const auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const bool ok =
        !label.empty() && lower_alnum(label.front()) && lower_alnum(label.back()) &&
        std::all_of(label.begin(), label.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
    if (!ok) {
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
             "'-' or '.', and must start and end with an alphanumeric character";
    }
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

// ExpectMapping, false also when it reported an unknown or repeated field.
bool ExpectExactMapping(DocumentReader& reader, const Value& value, const std::string& field,
                        const std::vector<std::string_view>& known) {
  if (!reader.ExpectMapping(value, field, known)) return false;
  std::set<std::string_view> seen;
  for (const auto& member : value.GetObject()) {
    const std::string_view key = StringOf(member.name);
    if (!seen.insert(key).second) return false;
    if (std::find(known.begin(), known.end(), key) == known.end()) return false;
  }
  return true;
}

// A label value: a string, possibly empty.
std::optional<std::string> LabelText(DocumentReader& reader, const Value& value,
                                     const std::string& field) {
  if (!value.IsString()) {
    reader.WrongType(field, "a string", value);
    return std::nullopt;
  }
  return std::string(StringOf(value));
}

}  // namespace

std::string ValidateLabelKey(std::string_view key) {
  std::string_view name = key;
  std::string problem;
  if (const std::size_t slash = key.find('/'); slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      return "a qualified name must be NAME or PREFIX/NAME with one '/' (e.g. "
             "'example.com/MyName')";
    }
    const std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) return "prefix part must be non-empty";
    if (std::string dns = ValidateDnsSubdomain(prefix); !dns.empty()) {
      return "prefix part " + dns;
    }
  }
  if (name.empty()) return "name part must be non-empty";
  if (name.size() > 63) return "name part must be no more than 63 characters";
  if (!IsQualifiedNamePart(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
           "and end with an alphanumeric character";
  }
  return "";
}

std::string ValidateLabelValue(std::string_view value) {
  if (value.size() > 63) return "must be no more than 63 characters";
  if (!value.empty() && !IsQualifiedNamePart(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', "
           "'_' or '.', and must start and end with an alphanumeric character";
  }
  return "";
}

bool LabelRequirement::Matches(const Labels& labels) const {
  const auto it = labels.find(key);
  const bool present = it != labels.end();
  const auto listed = [&] { return std::binary_search(values.begin(), values.end(), it->second); };
  switch (op) {
    case SelectorOperator::kEquals:
    case SelectorOperator::kIn:
      return present && listed();
    case SelectorOperator::kNotIn:
      return !present || !listed();
    case SelectorOperator::kExists:
      return present;
    case SelectorOperator::kDoesNotExist:
      return !present;
  }
  return false;
}

std::string LabelRequirement::ToString() const {
  std::string joined;
  for (const std::string& value : values) joined += (joined.empty() ? "" : ",") + value;
  switch (op) {
    case SelectorOperator::kEquals:
      return key + "=" + joined;
    case SelectorOperator::kIn:
      return key + " in (" + joined + ")";
    case SelectorOperator::kNotIn:
      return key + " notin (" + joined + ")";
    case SelectorOperator::kExists:
      return key;
    case SelectorOperator::kDoesNotExist:
      return "!" + key;
  }
  return key;
}

LabelSelector::LabelSelector(std::vector<LabelRequirement> requirements)
    : requirements_(std::move(requirements)) {
  for (LabelRequirement& requirement : requirements_) {
    std::sort(requirement.values.begin(), requirement.values.end());
    requirement.values.erase(std::unique(requirement.values.begin(), requirement.values.end()),
                             requirement.values.end());
  }
  std::stable_sort(
      requirements_.begin(), requirements_.end(),
      [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
}

bool LabelSelector::Matches(const Labels& labels) const {
  return std::all_of(
      requirements_.begin(), requirements_.end(),
      [&](const LabelRequirement& requirement) { return requirement.Matches(labels); });
}

std::string LabelSelector::ToString() const {
  std::string out;
  for (const LabelRequirement& requirement : requirements_) {
    if (!out.empty()) out += ',';
    out += requirement.ToString();
  }
  return out;
}

std::optional<LabelSelector> ReadLabelSelector(DocumentReader& reader, const Value& value,
                                               const std::string& field) {
  bool ok = ExpectExactMapping(reader, value, field, {"matchLabels", "matchExpressions"});
  if (!value.IsObject()) return std::nullopt;
  std::vector<LabelRequirement> requirements;
  const auto check = [&](const std::string& at, std::string problem) {
    if (problem.empty()) return true;
    reader.Fail(at, std::move(problem));
    ok = false;
    return false;
  };

  if (const Value* labels = DocumentReader::Find(value, "matchLabels");
      labels != nullptr && !labels->IsNull()) {
    const std::string labels_field = JoinPath(field, "matchLabels");
    if (!labels->IsObject()) {
      reader.WrongType(labels_field, "a mapping", *labels);
      ok = false;
    } else {
      for (const auto& member : labels->GetObject()) {
        const std::string key(StringOf(member.name));
        const std::string at = JoinPath(labels_field, key);
        auto text = LabelText(reader, member.value, at);
        if (!text) {
          ok = false;
          continue;
        }
        // ExpectMapping does not see inside matchLabels: keys may repeat in JSON.
        const bool repeated = std::any_of(requirements.begin(), requirements.end(),
                                          [&](const LabelRequirement& r) { return r.key == key; });
        if (repeated) {
          check(at, "duplicate key");
          continue;
        }
        if (check(at, ValidateLabelKey(key)) && check(at, ValidateLabelValue(*text))) {
          requirements.push_back(LabelRequirement{key, SelectorOperator::kEquals, {*text}});
        }
      }
    }
  }

  if (const Value* expressions = DocumentReader::Find(value, "matchExpressions");
      expressions != nullptr && !expressions->IsNull()) {
    const std::string list_field = JoinPath(field, "matchExpressions");
    if (!expressions->IsArray()) {
      reader.WrongType(list_field, "a list", *expressions);
      ok = false;
    } else {
      static const std::vector<std::string_view> kOperators = {"In", "NotIn", "Exists",
                                                               "DoesNotExist"};
      for (rapidjson::SizeType i = 0; i < expressions->Size(); ++i) {
        const std::string at = IndexPath(list_field, i);
        const Value& expression = (*expressions)[i];
        LabelRequirement requirement;
        bool good = ExpectExactMapping(reader, expression, at, {"key", "operator", "values"});
        if (!expression.IsObject()) {
          ok = false;
          continue;
        }
        if (const Value* key = reader.Required(expression, at, "key")) {
          const std::string key_field = JoinPath(at, "key");
          if (auto text = reader.String(*key, key_field)) {
            requirement.key = *text;
            good = check(key_field, ValidateLabelKey(*text)) && good;
          } else {
            good = false;
          }
        } else {
          good = false;
        }
        if (const Value* op = reader.Required(expression, at, "operator")) {
          if (auto index = reader.OneOf(*op, JoinPath(at, "operator"), kOperators)) {
            requirement.op = static_cast<SelectorOperator>(*index + 1);
          } else {
            good = false;
          }
        } else {
          good = false;
        }
        const Value* values = DocumentReader::Find(expression, "values");
        const std::string values_field = JoinPath(at, "values");
        if (values != nullptr && !values->IsNull()) {
          if (!values->IsArray()) {
            reader.WrongType(values_field, "a list", *values);
            good = false;
          } else {
            for (rapidjson::SizeType j = 0; j < values->Size(); ++j) {
              const std::string item_field = IndexPath(values_field, j);
              auto item = LabelText(reader, (*values)[j], item_field);
              if (item && check(item_field, ValidateLabelValue(*item))) {
                requirement.values.push_back(std::move(*item));
              } else {
                good = false;
              }
            }
          }
        }
        if (good && requirement.key.empty()) good = false;
        if (good) {
          const bool set_op =
              requirement.op == SelectorOperator::kIn || requirement.op == SelectorOperator::kNotIn;
          if (set_op && requirement.values.empty()) {
            good = check(values_field, "must be specified when `operator` is 'In' or 'NotIn'");
          } else if (!set_op && !requirement.values.empty()) {
            good = check(values_field,
                         "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
          }
        }
        if (good) {
          requirements.push_back(std::move(requirement));
        } else {
          ok = false;
        }
      }
    }
  }
  if (!ok) return std::nullopt;
  return LabelSelector(std::move(requirements));
}

std::optional<Labels> ParseLabelList(std::string_view text, std::string* error) {
  Labels labels;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const std::size_t comma = text.find(',', start);
    const std::string_view pair = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      *error = GoQuote(pair) + ": want KEY=VALUE";
      return std::nullopt;
    }
    const std::string key(pair.substr(0, equals));
    const std::string value(pair.substr(equals + 1));
    if (std::string problem = ValidateLabelKey(key); !problem.empty()) {
      *error = "label key " + GoQuote(key) + ": " + problem;
      return std::nullopt;
    }
    if (std::string problem = ValidateLabelValue(value); !problem.empty()) {
      *error = "label " + GoQuote(key) + " value " + GoQuote(value) + ": " + problem;
      return std::nullopt;
    }
    if (!labels.emplace(key, value).second) {
      *error = "label " + GoQuote(key) + " given twice";
      return std::nullopt;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return labels;
}

}  // namespace palisade::policy
