#pragma once

// Every field of a NamespacePolicy's spec, declared once: its path, how it is read, merged and
// explained, and its JSON Schema all come from one row of SpecFields(). Adding a field is one row
// (plus the member that holds its value). Pure.

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {

class DocumentReader;

// A field's value as `policy explain` shows it.
struct ExplainedValue {
  rapidjson::Value value;
  std::string evaluated_as;  // how it is judged, when that differs in form ("restricted:v1.37")
};

struct SpecField {
  using Allocator = rapidjson::Document::AllocatorType;

  std::string_view path;         // under spec: "podSecurity.enforce", "defaults.capabilities.drop"
  std::string_view description;  // one line, for the JSON Schema
  bool required = false;         // must be present and not null
  bool merged = true;            // false: selects namespaces (not part of the effective policy)
  std::string_view built_in;     // what `explain` shows when no document sets it ("" for nothing)
  const void* id = nullptr;      // &FieldId<member>::tag for a merged field

  // Reads a present, non-null value into the document; false (with errors reported) when bad.
  bool (*read)(DocumentReader& reader, const rapidjson::Value& value, const std::string& field,
               NamespacePolicy& policy) = nullptr;
  // Merge rule: a more specific document's value replaces the inherited one; null restores the
  // built-in.
  void (*merge)(const NamespacePolicy& policy, EffectivePolicy& effective) = nullptr;
  void (*reset)(EffectivePolicy& effective) = nullptr;
  // The effective value; nullopt when unset.
  std::optional<ExplainedValue> (*explain)(const EffectivePolicy& effective,
                                           Allocator& allocator) = nullptr;
  // The JSON Schema of a value (without the null that removes an inherited field).
  std::string (*schema)() = nullptr;
};

// The rows, in document order (the order of errors and of `explain`).
const std::vector<SpecField>& SpecFields();
// The index of the row at `path`, or SpecFields().size().
std::size_t SpecFieldIndex(std::string_view path);

// Reads `spec` by the table: unknown fields, nulls (a null section nulls every field in it),
// required fields and each value. Sets policy->namespaces, values and states.
void ReadSpec(DocumentReader& reader, const rapidjson::Value& spec, NamespacePolicy* policy);

// Applies one document's fields over `effective` (the merge rule of every row), recording
// `source` (the document's, shared by all its fields) as the source of each field it sets.
void MergeFields(const NamespacePolicy& policy, const std::shared_ptr<const FieldSource>& source,
                 EffectivePolicy* effective);

// JSON Schema (draft-07) of a whole NamespacePolicy document, and of its spec alone (for the
// chart's values schema). Deterministic member order.
rapidjson::Document NamespacePolicySchema();
rapidjson::Document NamespacePolicySpecSchema();

}  // namespace palisade::policy
