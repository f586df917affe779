#include "policy/namespace_policy.h"

#include <algorithm>
#include <array>
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

namespace {

bool PathLess(const FieldSources::Entry& entry, std::string_view path) { return entry.path < path; }

}  // namespace

void FieldSources::Set(std::string_view path, std::shared_ptr<const FieldSource> source) {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), path, PathLess);
  if (it != entries_.end() && it->path == path) {
    it->source = std::move(source);
  } else {
    entries_.insert(it, Entry{path, std::move(source)});
  }
}

void FieldSources::Erase(std::string_view path) {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), path, PathLess);
  if (it != entries_.end() && it->path == path) entries_.erase(it);
}

void FieldSources::ShrinkToFit() { entries_.shrink_to_fit(); }

const FieldSource* FieldSources::Find(std::string_view path) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), path, PathLess);
  return it != entries_.end() && it->path == path ? it->source.get() : nullptr;
}

const FieldSource* EffectivePolicy::SourceOf(std::string_view field) const {
  return sources.Find(field);
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
  bool has_selector = false;
  if (const Value* spec = reader.Required(document, "", "spec")) {
    ReadSpec(reader, *spec, &policy);
    has_selector = spec->IsObject() && DocumentReader::Find(*spec, "namespaceSelector") != nullptr;
  }
  // What a document covers is known even when it fails elsewhere; with a selector it may cover
  // any namespace (left unset: a never-good revision refuses every namespace).
  if (identity != nullptr && policy.StateOf("namespaces") == FieldState::kValue && !has_selector) {
    identity->namespaces = policy.namespaces;
  }

  if (reader.failed()) return std::nullopt;
  policy.revision = Revision(document);
  return policy;
}

// ---- PolicySet: matching and merge ----

std::string FieldSource::ToString() const {
  std::string out;
  AppendTo(out);
  return out;
}

void FieldSource::AppendTo(std::string& out) const {
  if (!label.empty()) {
    out += "namespace label ";
    out += label;
    return;
  }
  out += "policy ";
  check_text::AppendGoQuote(out, policy);
  out += " rev ";
  out += revision;
}

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

void Apply(const NamespacePolicy& policy, const std::shared_ptr<const FieldSource>& source,
           EffectivePolicy* effective) {
  effective->matched.push_back(policy.name);
  MergeFields(policy, source, effective);
}

std::string Where(const NamespacePolicy& policy) {
  return (policy.file.empty() ? std::string() : policy.file + " ") + "document " +
         std::to_string(policy.document_index + 1);
}

constexpr std::string_view kPsaPrefix = "pod-security.kubernetes.io/";

const Labels& NoLabels() {
  static const Labels kNone;
  return kNone;
}

// ^v1\.(0|[1-9][0-9]*)$ as PSA reads a version label; "latest" too.
std::optional<LevelVersion> PsaVersion(std::string_view text, LevelVersion base) {
  if (text == "latest") {
    base.version = Version::Latest();
    base.latest = true;
    return base;
  }
  if (!text.starts_with("v1.") || text.size() == 3) return std::nullopt;
  const std::string_view digits = text.substr(3);
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  int minor = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    minor = std::min(minor * 10 + (c - '0'), 1000000);
  }
  base.version = Version{std::min(minor, Version::kLatestMinor)};
  base.latest = false;
  return base;
}

}  // namespace

void ApplyPsaLabels(const Labels& labels, EffectivePolicy* effective) {
  struct Mode {
    std::string_view name;
    std::string_view field;  // the path its source is recorded at (static: sources keep it)
    std::optional<LevelVersion> PolicyValues::*member;
    Level invalid_level;  // PSA fails closed for enforce, open for warn and audit
  };
  static constexpr Mode kModes[] = {
      {"enforce", "podSecurity.enforce", &PolicyValues::enforce, Level::kRestricted},
      {"warn", "podSecurity.warn", &PolicyValues::warn, Level::kPrivileged},
      {"audit", "podSecurity.audit", &PolicyValues::audit, Level::kPrivileged},
  };
  // What can set a mode: its level label, its version label or both; made once, shared by every
  // namespace.
  enum SetBy : std::uint8_t { kLevel, kVersion, kBoth };
  static const auto kLabelSources = [] {
    std::array<std::array<std::shared_ptr<const FieldSource>, 3>, std::size(kModes)> sources;
    for (std::size_t i = 0; i < std::size(kModes); ++i) {
      const std::string level_key = std::string(kPsaPrefix) + std::string(kModes[i].name);
      const std::string version_key = level_key + "-version";
      for (const auto& [set_by, label] :
           {std::pair{kLevel, level_key}, std::pair{kVersion, version_key},
            std::pair{kBoth, level_key + ", " + version_key}}) {
        sources[i][set_by] = std::make_shared<const FieldSource>(FieldSource{"", "", label});
      }
    }
    return sources;
  }();
  for (std::size_t i = 0; i < std::size(kModes); ++i) {
    const Mode& mode = kModes[i];
    const std::string level_key = std::string(kPsaPrefix) + std::string(mode.name);
    const std::string version_key = level_key + "-version";
    const auto level_label = labels.find(level_key);
    const auto version_label = labels.find(version_key);
    if (level_label == labels.end() && version_label == labels.end()) continue;
    // PSA's defaults are privileged:latest; here the inherited value is the default.
    std::optional<LevelVersion>& value = effective->*mode.member;
    LevelVersion result = value.value_or(LevelVersion{Level::kPrivileged, Version::Latest(), true});
    if (level_label != labels.end()) {
      if (const std::optional<Level> level = ParseLevel(level_label->second)) {
        result.level = *level;
      } else {
        result.level = mode.invalid_level;
        effective->label_errors.push_back(level_key + ": " +
                                          check_text::GoQuote(level_label->second) +
                                          " (must be one of privileged, baseline, restricted; " +
                                          std::string(LevelName(mode.invalid_level)) + " is used)");
      }
    }
    if (version_label != labels.end()) {
      if (std::optional<LevelVersion> versioned = PsaVersion(version_label->second, result)) {
        result = *versioned;
      } else {
        result.version = Version::Latest();
        result.latest = true;
        effective->label_errors.push_back(version_key + ": " +
                                          check_text::GoQuote(version_label->second) +
                                          " (must be \"latest\" or \"v1.x\"; latest is used)");
      }
    }
    value = result;
    const SetBy set_by = level_label == labels.end()     ? kVersion
                         : version_label == labels.end() ? kLevel
                                                         : kBoth;
    effective->sources.Set(mode.field, kLabelSources[i][set_by]);
  }
}

std::string MatchedBy(const NamespacePolicy& policy, std::string_view ns, const Labels& labels) {
  std::string best;
  for (const std::string& pattern : policy.namespaces) {
    if (!GlobMatch(pattern, ns)) continue;
    if (best.empty() || LessSpecificPattern(best, pattern)) best = pattern;
  }
  if (!best.empty() && !IsGlob(best)) return best;  // an exact name is the most specific
  if (policy.namespace_selector && policy.namespace_selector->Matches(labels)) {
    const std::string text = policy.namespace_selector->ToString();
    return text.empty() ? "selector {}" : "selector " + check_text::GoQuote(text);
  }
  return best;
}

std::size_t PolicySet::NameHash::operator()(std::string_view name) const {
  return std::hash<std::string_view>{}(name);
}

// Layers, least specific first: "*", the PSA labels (at *psa_at), globs (shorter first),
// selectors (fewer requirements first, then name), the exact name. A policy that matches in
// several layers applies once, in its most specific one.
std::vector<std::size_t> PolicySet::Matching(std::string_view ns, const Labels* labels,
                                             std::size_t* psa_at) const {
  enum Layer : std::uint8_t { kStar, kGlob, kSelector, kExact };
  std::vector<std::pair<Layer, std::size_t>> entries;
  const auto place = [&](Layer layer, std::size_t policy) {
    std::erase_if(entries, [&](const auto& entry) { return entry.second == policy; });
    entries.emplace_back(layer, policy);
  };
  for (const GlobEntry& glob : globs_) {  // "*" sorts first
    if (glob.pattern == "*") {
      place(kStar, glob.policy);
    } else if (GlobMatch(glob.pattern, ns)) {
      place(kGlob, glob.policy);
    }
  }
  if (labels == nullptr) {
    for (const std::size_t policy : unlabelled_selectors_) place(kSelector, policy);
  } else {
    for (const std::size_t policy : selectors_) {
      if ((*policies_)[policy].namespace_selector->Matches(*labels)) place(kSelector, policy);
    }
  }
  if (const auto it = exact_policy_.find(ns); it != exact_policy_.end()) place(kExact, it->second);
  std::vector<std::size_t> matched;
  matched.reserve(entries.size());
  *psa_at = 0;
  for (const auto& [layer, policy] : entries) {
    if (layer == kStar) ++*psa_at;
    matched.push_back(policy);
  }
  return matched;
}

std::shared_ptr<EffectivePolicy> PolicySet::Resolve(const std::vector<std::size_t>& matched,
                                                    std::size_t psa_at,
                                                    const Labels& labels) const {
  auto effective = std::make_shared<EffectivePolicy>();
  for (std::size_t i = 0; i <= matched.size(); ++i) {
    if (i == psa_at) ApplyPsaLabels(labels, effective.get());
    if (i < matched.size()) {
      // Shares the set's source of the policy (and keeps all of them alive).
      const std::shared_ptr<const FieldSource> source(policy_sources_,
                                                      &(*policy_sources_)[matched[i]]);
      Apply((*policies_)[matched[i]], source, effective.get());
    }
  }
  return effective;
}

namespace {

// An effective policy the set keeps for its life (the default, an exact name's, a labelled
// namespace's: a thousand at scale), without its vectors' growth slack. Not for one resolved per
// request, which would pay for the copies.
std::shared_ptr<EffectivePolicy> Kept(std::shared_ptr<EffectivePolicy> effective) {
  effective->sources.ShrinkToFit();
  effective->matched.shrink_to_fit();
  return effective;
}

}  // namespace

namespace {

// Names and namespace patterns taken, each by the first policy to come with it.
class Holders {
 public:
  explicit Holders(std::vector<PolicyError>* errors) : errors_(errors) {}

  // Reports `policy`'s clashes with the holders; takes what is free when `hold`.
  void Check(const NamespacePolicy& policy, bool hold) {
    const auto name = hold ? by_name_.emplace(policy.name, &policy)
                           : std::pair{by_name_.find(policy.name), false};
    if (!name.second && name.first != by_name_.end()) {
      Fail(policy, "metadata.name",
           "duplicate name " + check_text::GoQuote(policy.name) + " (also in " +
               Where(*name.first->second) + ")");
    }
    for (std::size_t j = 0; j < policy.namespaces.size(); ++j) {
      const std::string& pattern = policy.namespaces[j];
      const auto it =
          hold ? by_pattern_.emplace(pattern, &policy).first : by_pattern_.find(pattern);
      if (it != by_pattern_.end() && it->second != &policy) {
        const NamespacePolicy& other = *it->second;
        Fail(policy, IndexPath("spec.namespaces", j),
             "namespace pattern " + check_text::GoQuote(pattern) + " is also in policy " +
                 check_text::GoQuote(other.name) + " (" + Where(other) + ")");
      }
    }
  }

  bool ok() const { return ok_; }
  void ReportTo(std::vector<PolicyError>* errors) { errors_ = errors; }

 private:
  void Fail(const NamespacePolicy& policy, std::string field, std::string reason) {
    ok_ = false;
    if (errors_ != nullptr) {
      errors_->push_back(
          PolicyError{policy.file, policy.document_index, std::move(field), std::move(reason)});
    }
  }

  std::vector<PolicyError>* errors_;
  bool ok_ = true;
  std::unordered_map<std::string_view, const NamespacePolicy*> by_name_;
  std::unordered_map<std::string_view, const NamespacePolicy*> by_pattern_;
};

}  // namespace

bool ReportConflicts(const std::vector<const NamespacePolicy*>& policies,
                     std::vector<PolicyError>* errors) {
  Holders holders(errors);
  for (const NamespacePolicy* policy : policies) holders.Check(*policy, /*hold=*/true);
  return holders.ok();
}

void ReportConflictsWith(const std::vector<const NamespacePolicy*>& held,
                         const std::vector<const NamespacePolicy*>& added,
                         std::vector<PolicyError>* errors) {
  Holders holders(nullptr);
  for (const NamespacePolicy* policy : held) holders.Check(*policy, /*hold=*/true);
  holders.ReportTo(errors);
  for (const NamespacePolicy* policy : added) holders.Check(*policy, /*hold=*/false);
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
  set->policies_ = std::make_shared<const std::vector<NamespacePolicy>>(std::move(policies));
  set->refusals_ = std::move(refusals);
  std::vector<FieldSource> sources;
  sources.reserve(set->policies_->size());
  for (const NamespacePolicy& policy : *set->policies_) {
    sources.push_back(FieldSource{policy.name, policy.revision, ""});
  }
  set->policy_sources_ = std::make_shared<const std::vector<FieldSource>>(std::move(sources));
  for (std::size_t i = 0; i < set->policies_->size(); ++i) {
    const NamespacePolicy& policy = (*set->policies_)[i];
    for (const std::string& pattern : policy.namespaces) {
      if (IsGlob(pattern)) {
        set->globs_.push_back(GlobEntry{pattern, i});
      } else {
        set->exact_policy_.emplace(pattern, i);  // the first wins (Build reports conflicts)
      }
    }
    if (policy.namespace_selector) set->selectors_.push_back(i);
  }
  std::sort(set->globs_.begin(), set->globs_.end(), [](const GlobEntry& a, const GlobEntry& b) {
    return LessSpecificPattern(a.pattern, b.pattern);
  });
  std::sort(set->selectors_.begin(), set->selectors_.end(), [&](std::size_t a, std::size_t b) {
    const NamespacePolicy& x = (*set->policies_)[a];
    const NamespacePolicy& y = (*set->policies_)[b];
    if (x.namespace_selector->size() != y.namespace_selector->size()) {
      return x.namespace_selector->size() < y.namespace_selector->size();
    }
    return x.name < y.name;
  });

  for (const std::size_t policy : set->selectors_) {
    if ((*set->policies_)[policy].namespace_selector->Matches(NoLabels())) {
      set->unlabelled_selectors_.push_back(policy);
    }
  }
  // An unlabelled namespace no glob or exact name matches ("" matches none of them).
  std::size_t psa_at = 0;
  set->default_policies_ = set->Matching("", nullptr, &psa_at);
  set->default_ = Kept(set->Resolve(set->default_policies_, psa_at, NoLabels()));

  set->exact_.reserve(set->exact_policy_.size());
  for (const auto& [name, index] : set->exact_policy_) {
    set->exact_.emplace(
        name, Kept(set->Resolve(set->Matching(name, nullptr, &psa_at), psa_at, NoLabels())));
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

std::shared_ptr<const NamespaceLabelTable> ToTable(const NamespaceLabels& labels) {
  NamespaceLabelTable::Builder builder;
  for (const auto& [name, each] : labels.by_name) builder.Set(name, each);
  return builder.Build();
}

std::shared_ptr<const PolicySet> PolicySet::WithNamespaceLabels(
    std::shared_ptr<const NamespaceLabelTable> labels) const {
  auto resolved = std::make_shared<PolicySet>(*this);
  resolved->labelled_.clear();
  resolved->labelled_policies_.clear();
  resolved->labels_ = std::move(labels);
  if (!resolved->labels_) return resolved;
  const NamespaceLabelTable& table = *resolved->labels_;
  resolved->labelled_.reserve(table.size());
  // Namespaces with the same matching policies and PSA labels share one effective policy, so the
  // cache costs an index per namespace, not a policy.
  std::unordered_map<std::string, std::uint32_t> distinct;
  std::string key;
  for (std::size_t index = 0; index < table.size(); ++index) {
    const Labels namespace_labels = table.LabelsAt(index);
    std::size_t psa_at = 0;
    const std::vector<std::size_t> matched =
        Matching(table.name(index), &namespace_labels, &psa_at);
    key.clear();
    for (const std::size_t policy : matched) key += std::to_string(policy) + ',';
    key += std::to_string(psa_at) + ';';
    for (auto it = namespace_labels.lower_bound(kPsaPrefix);
         it != namespace_labels.end() && it->first.starts_with(kPsaPrefix); ++it) {
      key += it->first + '=' + it->second + ';';
    }
    const auto [it, inserted] =
        distinct.emplace(key, static_cast<std::uint32_t>(resolved->labelled_policies_.size()));
    if (inserted) {
      resolved->labelled_policies_.push_back(Kept(Resolve(matched, psa_at, namespace_labels)));
    }
    resolved->labelled_.push_back(it->second);
  }
  return resolved;
}

const NamespaceLabelTable& PolicySet::namespace_labels() const {
  static const NamespaceLabelTable kNone;
  return labels_ ? *labels_ : kNone;
}

std::optional<Labels> PolicySet::LabelsOf(std::string_view ns) const {
  if (!labels_) return std::nullopt;
  return labels_->LabelsOf(ns);
}

std::shared_ptr<const EffectivePolicy> PolicySet::ForNamespace(std::string_view ns) const {
  std::shared_ptr<const EffectivePolicy> found;
  if (const std::size_t index = labels_ ? labels_->Find(ns) : NamespaceLabelTable::npos;
      index != NamespaceLabelTable::npos) {
    found = labelled_policies_[labelled_[index]];
  } else if (const auto exact = exact_.find(ns); exact != exact_.end()) {
    found = exact->second;
  } else if (std::none_of(globs_.begin(), globs_.end(), [&](const GlobEntry& glob) {
               return glob.pattern != "*" && GlobMatch(glob.pattern, ns);
             })) {
    found = default_;  // no glob or exact name: "*" and the selectors that match no labels
  } else {
    std::size_t psa_at = 0;
    const std::vector<std::size_t> matched = Matching(ns, nullptr, &psa_at);
    found = matched == default_policies_ ? default_ : Resolve(matched, psa_at, NoLabels());
  }
  if (refusals_.empty()) return found;
  std::string refused = RefusalFor(ns);
  if (refused.empty()) return found;
  auto effective = std::make_shared<EffectivePolicy>(*found);
  effective->refused = std::move(refused);
  return effective;
}

}  // namespace palisade::policy
