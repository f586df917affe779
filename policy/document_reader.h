#pragma once

// Reads one NamespacePolicy document from its JSON tree, reporting every problem it finds (with
// the field path) rather than stopping at the first. Used by ParseNamespacePolicy and by the
// value types of the field table (policy/policy_fields.cc). Pure.

#include <rapidjson/document.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/check.h"
#include "policy/level_version.h"
#include "policy/namespace_policy.h"

namespace palisade::policy {

inline std::string_view StringOf(const rapidjson::Value& value) {
  return std::string_view(value.GetString(), value.GetStringLength());
}

// "spec" + "podSecurity" -> "spec.podSecurity"; "" + "spec" -> "spec".
std::string JoinPath(std::string_view path, std::string_view key);
// "spec.namespaces" + 2 -> "spec.namespaces[2]".
std::string IndexPath(std::string_view path, std::size_t index);

// Levenshtein distance, ASCII letters compared without case: how close a typo is to a known name.
std::size_t EditDistance(std::string_view a, std::string_view b);

// Validators of single values: "" when valid, else the reason.
std::string ValidateName(std::string_view name);
std::string ValidateNamespacePattern(std::string_view pattern);
std::string ValidateCapability(std::string_view name);
std::string ValidateAllowedProfile(
    std::string_view entry);  // RuntimeDefault | Localhost/<glob> ...

class DocumentReader {
 public:
  using Value = rapidjson::Value;

  DocumentReader(std::string_view file, int document_index, std::vector<PolicyError>* errors)
      : file_(file), document_index_(document_index), errors_(errors) {}

  bool failed() const { return failed_; }

  void Fail(std::string field, std::string reason);
  // A problem that does not make the document invalid (lint shows it).
  void Warn(std::string field, std::string reason);
  void WrongType(const std::string& field, std::string_view want, const Value& got);

  // Checks that `value` is a mapping whose keys are all known and unique.
  bool ExpectMapping(const Value& value, const std::string& path,
                     const std::vector<std::string_view>& known);

  static const Value* Find(const Value& mapping, std::string_view key);

  // A field that must be present and not null.
  const Value* Required(const Value& mapping, const std::string& path, std::string_view key);

  std::optional<std::string> String(const Value& value, const std::string& field);
  std::optional<bool> Bool(const Value& value, const std::string& field);
  std::optional<LevelVersion> Level(const Value& value, const std::string& field);

  // One of `names`; returns its index.
  std::optional<std::size_t> OneOf(const Value& value, const std::string& field,
                                   const std::vector<std::string_view>& names);

  // A list of non-empty strings, each accepted by `valid` (which returns an error or "").
  std::optional<std::vector<std::string>> StringList(
      const Value& value, const std::string& field,
      const std::function<std::string(std::string_view)>& valid);

  std::optional<Profile> ProfileOf(const Value& value, const std::string& field);

 private:
  // The errors and warnings listed per document.
  static constexpr int kMaxReported = 100;

  void Report(std::string field, std::string reason, bool warning);

  std::string_view file_;
  int document_index_;
  std::vector<PolicyError>* errors_;
  bool failed_ = false;
  int reported_ = 0;
};

}  // namespace palisade::policy
