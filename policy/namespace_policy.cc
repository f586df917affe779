#include "policy/namespace_policy.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <utility>

#include "policy/check.h"
#include "policy/document_reader.h"
#include "policy/policy_fields.h"

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

void NamespacePolicy::MarkSet(const void* field_id) {
  const auto& fields = SpecFields();
  states.resize(fields.size(), FieldState::kAbsent);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].id == field_id) states[i] = FieldState::kValue;
  }
}

FieldState NamespacePolicy::StateOf(std::string_view path) const {
  const std::size_t index = SpecFieldIndex(path);
  return index < states.size() ? states[index] : FieldState::kAbsent;
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

bool EffectivePolicy::ExemptsUsername(std::string_view username) const {
  return !username.empty() && std::find(exempt_usernames.begin(), exempt_usernames.end(),
                                        username) != exempt_usernames.end();
}

bool EffectivePolicy::ExemptsRuntimeClass(std::string_view runtime_class) const {
  return !runtime_class.empty() &&
         std::find(exempt_runtime_classes.begin(), exempt_runtime_classes.end(), runtime_class) !=
             exempt_runtime_classes.end();
}

bool EffectivePolicy::ExemptsImage(std::string_view image) const {
  return std::any_of(exempt_images.begin(), exempt_images.end(),
                     [&](const std::string& glob) { return GlobMatch(glob, image); });
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

using check_text::GoQuote;
using rapidjson::Value;

constexpr std::string_view kApiVersion = "palisade.dev/v1";
constexpr std::string_view kReasonAnnotation = "palisade.dev/reason";
constexpr std::string_view kKind = "NamespacePolicy";

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
                                                    std::vector<PolicyError>* errors,
                                                    DocumentIdentity* identity) {
  DocumentReader reader(file, document_index, errors);
  NamespacePolicy policy;
  policy.file = std::string(file);
  policy.document_index = document_index;

  if (!reader.ExpectMapping(document, "", {"apiVersion", "kind", "metadata", "spec"})) {
    return std::nullopt;
  }
  if (const Value* api_version = reader.Required(document, "", "apiVersion")) {
    if (auto text = reader.String(*api_version, "apiVersion"); text && *text != kApiVersion) {
      reader.Fail("apiVersion", "unsupported apiVersion " + GoQuote(*text) + " (want " +
                                    std::string(kApiVersion) + ")");
    }
  }
  if (const Value* kind = reader.Required(document, "", "kind")) {
    if (auto text = reader.String(*kind, "kind"); text && *text != kKind) {
      reader.Fail("kind",
                  "unsupported kind " + GoQuote(*text) + " (want " + std::string(kKind) + ")");
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
        const std::string field = JoinPath("metadata", map_key);
        if (!map->IsObject()) {
          reader.WrongType(field, "a mapping", *map);
          continue;
        }
        for (const auto& member : map->GetObject()) {
          if (!member.value.IsString()) {
            reader.WrongType(JoinPath(field, StringOf(member.name)), "a string", member.value);
          } else if (map_key == "annotations" && StringOf(member.name) == kReasonAnnotation) {
            policy.change_reason = StringOf(member.value);  // the rationale, for the changelog
          }
        }
      }
    }
  }

  if (identity != nullptr) identity->name = policy.name;
  if (const Value* spec = reader.Required(document, "", "spec")) ReadSpec(reader, *spec, &policy);
  // What a document covers is known even when it fails elsewhere.
  if (identity != nullptr && policy.StateOf("namespaces") == FieldState::kValue) {
    identity->namespaces = policy.namespaces;
  }

  if (reader.failed()) return std::nullopt;
  policy.revision = Revision(document);
  return policy;
}

// ---- PolicySet: matching and merge ----

bool LessSpecificPattern(std::string_view a, std::string_view b) {
  const bool a_glob = a.find_first_of("*?") != std::string_view::npos;
  const bool b_glob = b.find_first_of("*?") != std::string_view::npos;
  if (a_glob != b_glob) return a_glob;  // exact names are the most specific
  const bool a_star = a == "*", b_star = b == "*";
  if (a_star != b_star) return a_star;
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

namespace {

bool IsGlob(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

void Apply(const NamespacePolicy& policy, EffectivePolicy* effective) {
  effective->matched.push_back(policy.name);
  MergeFields(policy, effective);
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

bool ReportConflicts(const std::vector<const NamespacePolicy*>& policies,
                     std::vector<PolicyError>* errors) {
  bool ok = true;
  const auto fail = [&](const NamespacePolicy& policy, std::string field, std::string reason) {
    ok = false;
    if (errors != nullptr) {
      errors->push_back(
          PolicyError{policy.file, policy.document_index, std::move(field), std::move(reason)});
    }
  };
  std::unordered_map<std::string_view, const NamespacePolicy*> by_name;
  std::unordered_map<std::string_view, const NamespacePolicy*> by_pattern;
  for (const NamespacePolicy* policy : policies) {
    if (auto [it, inserted] = by_name.emplace(policy->name, policy); !inserted) {
      fail(*policy, "metadata.name",
           "duplicate name " + check_text::GoQuote(policy->name) + " (also in " +
               Where(*it->second) + ")");
    }
    for (std::size_t j = 0; j < policy->namespaces.size(); ++j) {
      const std::string& pattern = policy->namespaces[j];
      if (auto [it, inserted] = by_pattern.emplace(pattern, policy);
          !inserted && it->second != policy) {
        const NamespacePolicy& other = *it->second;
        fail(*policy, IndexPath("spec.namespaces", j),
             "namespace pattern " + check_text::GoQuote(pattern) + " is also in policy " +
                 check_text::GoQuote(other.name) + " (" + Where(other) + ")");
      }
    }
  }
  return ok;
}

std::shared_ptr<const PolicySet> PolicySet::Build(std::vector<NamespacePolicy> policies,
                                                  std::vector<PolicyError>* errors) {
  std::vector<const NamespacePolicy*> each;
  for (const NamespacePolicy& policy : policies) each.push_back(&policy);
  if (!ReportConflicts(each, errors)) return nullptr;
  return BuildServing(std::move(policies), {});
}

std::shared_ptr<const PolicySet> PolicySet::BuildServing(std::vector<NamespacePolicy> policies,
                                                         std::vector<Refusal> refusals) {
  auto set = std::shared_ptr<PolicySet>(new PolicySet());
  set->policies_ = std::move(policies);
  set->refusals_ = std::move(refusals);
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
  std::sort(set->globs_.begin(), set->globs_.end(), [](const GlobEntry& a, const GlobEntry& b) {
    return LessSpecificPattern(a.pattern, b.pattern);
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

std::string PolicySet::RefusalFor(std::string_view ns) const {
  for (const Refusal& refusal : refusals_) {
    if (refusal.patterns.empty()) return refusal.message;
    for (const std::string& pattern : refusal.patterns) {
      if (GlobMatch(pattern, ns)) return refusal.message;
    }
  }
  return "";
}

std::shared_ptr<const PolicySet> PolicySet::WithNamespaceLabels(
    std::shared_ptr<const NamespaceLabels> labels) const {
  // Labels do not select anything yet: the same lookups, carrying the labels for later layers.
  auto resolved = std::make_shared<PolicySet>(*this);
  resolved->labels_ = std::move(labels);
  return resolved;
}

const NamespaceLabels& PolicySet::namespace_labels() const {
  static const NamespaceLabels kNone;
  return labels_ ? *labels_ : kNone;
}

std::shared_ptr<const EffectivePolicy> PolicySet::ForNamespace(std::string_view ns) const {
  std::shared_ptr<const EffectivePolicy> found;
  if (const auto it = exact_.find(ns); it != exact_.end()) {
    found = it->second;
  } else {
    const std::vector<std::size_t> matched = MatchingGlobs(ns, policies_.size());
    if (matched == star_only_policies_) {
      found = star_only_;
    } else {
      auto effective = std::make_shared<EffectivePolicy>();
      for (const std::size_t index : matched) Apply(policies_[index], effective.get());
      found = std::move(effective);
    }
  }
  if (refusals_.empty()) return found;
  std::string refused = RefusalFor(ns);
  if (refused.empty()) return found;
  auto effective = std::make_shared<EffectivePolicy>(*found);
  effective->refused = std::move(refused);
  return effective;
}

}  // namespace palisade::policy
