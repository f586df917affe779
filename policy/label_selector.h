#pragma once

// Kubernetes label selectors (metav1.LabelSelector), with the semantics of apimachinery's
// LabelSelectorAsSelector and labels.Selector: matchLabels AND matchExpressions; In, NotIn,
// Exists, DoesNotExist; NotIn and DoesNotExist match when the key is absent; an empty selector
// matches everything. Keys and values are validated as the API server validates them. Pure.

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace palisade::policy {

class DocumentReader;

// A namespace's labels, sorted (deterministic output).
using Labels = std::map<std::string, std::string, std::less<>>;

enum class SelectorOperator : std::uint8_t { kEquals, kIn, kNotIn, kExists, kDoesNotExist };

struct LabelRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kExists;
  std::vector<std::string> values;  // sorted, unique

  bool Matches(const Labels& labels) const;
  // As labels.Requirement.String(): "a=b", "a in (x,y)", "a notin (x)", "a", "!a".
  std::string ToString() const;
  bool operator==(const LabelRequirement&) const = default;
};

class LabelSelector {
 public:
  // Requirements are sorted by key (stable), as labels.Selector.Add sorts them.
  explicit LabelSelector(std::vector<LabelRequirement> requirements = {});

  bool Matches(const Labels& labels) const;
  bool Empty() const { return requirements_.empty(); }
  // How many requirements: matchLabels entries plus matchExpressions (for precedence).
  std::size_t size() const { return requirements_.size(); }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  // "a=b,c in (x,y),!d"; "" for the empty selector (matches everything).
  std::string ToString() const;
  bool operator==(const LabelSelector&) const = default;

 private:
  std::vector<LabelRequirement> requirements_;
};

// Validators: "" when valid, else the reason (apimachinery's messages, shortened).
// A qualified name: [prefix/]name, name <= 63 chars of [A-Za-z0-9_.-] starting and ending
// alphanumeric, prefix a DNS-1123 subdomain (<= 253 chars).
std::string ValidateLabelKey(std::string_view key);
// Empty, or <= 63 chars of [A-Za-z0-9_.-] starting and ending alphanumeric.
std::string ValidateLabelValue(std::string_view value);

// Reads a metav1.LabelSelector ({matchLabels: {...}, matchExpressions: [{key, operator,
// values}]}); every problem is reported with its field path.
std::optional<LabelSelector> ReadLabelSelector(DocumentReader& reader,
                                               const rapidjson::Value& value,
                                               const std::string& field);

// "k=v,k2=v2" (what --namespace-labels takes). Returns nullopt and sets *error when a key or value
// is invalid or a pair has no '='.
std::optional<Labels> ParseLabelList(std::string_view text, std::string* error);

}  // namespace palisade::policy
