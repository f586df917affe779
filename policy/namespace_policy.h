#pragma once

// Namespace policies: the model of one NamespacePolicy document, its validation (from a JSON tree;
// server/ turns YAML into JSON first), matching and the field-by-field merge into the effective
// policy for a namespace. Pure: no files.

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/exceptions.h"
#include "policy/label_selector.h"
#include "policy/level_version.h"
#include "policy/namespace_label_table.h"
#include "policy/shared_value.h"

namespace palisade::policy {

struct Profile {
  std::string type;               // RuntimeDefault | Localhost | Unconfined (seccomp only)
  std::string localhost_profile;  // set iff type == Localhost
  bool operator==(const Profile&) const = default;
};

enum class Action : std::uint8_t { kEnforce, kWarn, kAudit };
enum class WorkloadMode : std::uint8_t { kEnforce, kWarn };

std::string_view ActionName(Action action);

// The value of every merged field of a policy. A document holds the values it sets; the effective
// policy of a namespace holds the merged result. Which document field sets which member (and how
// it is read, merged, explained and described in the JSON Schema) is the table in
// policy/policy_fields.cc. A default member initialiser is the built-in value in force when no
// document sets the field (or the most specific one nulls it).
struct PolicyValues {
  std::optional<LevelVersion> enforce, warn, audit;

  Shared<Profile> default_seccomp_profile;
  Shared<Profile> default_app_armor_profile;
  Shared<std::vector<std::string>> default_capabilities_drop;
  Shared<std::vector<std::string>> default_capabilities_add;
  std::optional<bool> default_allow_privilege_escalation;
  std::optional<bool> default_run_as_non_root;
  Shared<std::string> default_runtime_class_name;

  Action rules_action = Action::kEnforce;
  Shared<std::vector<std::string>> allowed_capabilities;
  Shared<std::vector<std::string>> required_drop_capabilities;
  Shared<std::vector<std::string>>
      allowed_seccomp_profiles;  // "RuntimeDefault", "Localhost/<glob>"
  Shared<std::vector<std::string>> allowed_app_armor_profiles;
  Shared<std::vector<std::string>> allowed_runtime_classes;

  WorkloadMode workloads = WorkloadMode::kEnforce;

  std::vector<std::string> exempt_usernames;
  std::vector<std::string> exempt_runtime_classes;
  std::vector<std::string> exempt_images;  // globs

  // Waivers of exact offences (policy/exceptions.h); all from one document (the most specific
  // that sets the field: SourceOf("exceptions")).
  std::vector<PolicyException> exceptions;
};

// Identifies a member of PolicyValues at run time (the field table's rows carry it).
template <auto Member>
struct FieldId {
  static constexpr char tag = 0;
};

// How a document sets one field: absent (inherit), explicit null (remove the inherited value,
// back to the built-in), or a value.
enum class FieldState : std::uint8_t { kAbsent, kNull, kValue };

// One validated NamespacePolicy document.
struct NamespacePolicy {
  std::string name;
  std::vector<std::string> namespaces;  // exact names and globs ("*" is the cluster default)
  // Selects namespaces by label; a policy has namespaces, a selector or both (either applies it).
  std::optional<LabelSelector> namespace_selector;
  std::string revision;            // short hash of the document ("4c1e9a")
  std::string file;                // where it came from, for messages and `policy explain`
  std::string change_reason;       // metadata.annotations["palisade.dev/reason"]
  int document_index = 0;          // 0-based within the file
  PolicyValues values;             // the fields this document sets (see states)
  std::vector<FieldState> states;  // one per row of SpecFields(), in its order

  // The state of the field at `path` ("podSecurity.enforce"); kAbsent for an unknown path.
  FieldState StateOf(std::string_view path) const;

  // Sets a field as a document would, for policies built in code (tests):
  // policy.Set<&PolicyValues::enforce>(level).
  template <auto Member, class V>
  void Set(V&& value) {
    values.*Member = std::forward<V>(value);
    MarkSet(&FieldId<Member>::tag);
  }
  void MarkSet(const void* field_id);
};

// A problem in a policy document: `file` doc `document_index`, at `field` (e.g.
// "spec.podSecurity.enforce"), because `reason`.
// document_index is 0-based like NamespacePolicy's; ToString counts from 1 ("document 1" is the
// first document of the file). A negative index marks a problem with the whole file.
struct PolicyError {
  std::string file;
  int document_index = 0;
  std::string field;
  std::string reason;
  bool warning = false;  // reported by lint, does not make the document invalid
  std::string ToString()
      const;  // "team.yaml: document 2: spec.podSecurity.enforce: unknown level ..."
};

// What can be read of a document even when it is invalid: its name and the namespaces it covers,
// so a bad revision can be told apart from others and its blast radius kept to what it covers.
struct DocumentIdentity {
  std::string name;                                    // "" when metadata.name is unreadable
  std::optional<std::vector<std::string>> namespaces;  // unset when spec.namespaces is unreadable
};

// Validates one document (already a JSON tree). Unknown fields are errors. On success returns the
// policy; otherwise returns nullopt and appends every problem found to *errors (warnings too,
// marked as such, on success or not). *identity, when given, gets what is readable either way.
std::optional<NamespacePolicy> ParseNamespacePolicy(const rapidjson::Value& document,
                                                    std::string_view file, int document_index,
                                                    std::vector<PolicyError>* errors,
                                                    DocumentIdentity* identity = nullptr);

// Which document set an effective field: for messages ("policy \"payments\" rev 4c1e9a") and
// `policy explain`.
struct FieldSource {
  std::string policy;  // document name; "" when a namespace label set the field
  std::string revision;
  std::string label;  // the namespace label(s) that set it: "pod-security.kubernetes.io/enforce"

  // `policy "payments" rev 4c1e9a` or `namespace label pod-security.kubernetes.io/enforce`.
  std::string ToString() const;
  void AppendTo(std::string& out) const;
};

// The source of each field of an effective policy, in path order. Compact at scale (10k
// namespaces, 1k policies): an entry is a path in static storage and a source shared by every
// field one document, or one namespace's labels, set.
class FieldSources {
 public:
  struct Entry {
    std::string_view path;  // "podSecurity.enforce"; static storage (the field table's rows)
    std::shared_ptr<const FieldSource> source;
  };

  // `path` must outlive every effective policy: a row of SpecFields() or a string literal.
  void Set(std::string_view path, std::shared_ptr<const FieldSource> source);
  void Erase(std::string_view path);
  void ShrinkToFit();
  const FieldSource* Find(std::string_view path) const;

  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;  // sorted by path, one per path
};

// The merged policy that applies to one namespace. Every optional is unset when no matching
// document set it (or the most specific one nulled it).
struct EffectivePolicy : PolicyValues {
  std::vector<std::string> matched;  // names of the matching documents, least specific first

  // Not empty when a policy that covers this namespace cannot be served (invalid, with no earlier
  // good revision): every judged request is refused with this message (fail closed).
  std::string refused;

  // PSA labels of this namespace that could not be read, and what they count as (PSA's rule:
  // `pod-security.kubernetes.io/enforce: "strict" (must be one of privileged, baseline,
  // restricted; restricted is used)`).
  std::vector<std::string> label_errors;

  // By the document's field path: "podSecurity.enforce", "defaults.seccompProfile",
  // "defaults.capabilities.drop", "rules.allowedCapabilities", "workloads", "exemptions.images",
  // ...
  FieldSources sources;

  bool HasDefaults() const;
  const FieldSource* SourceOf(std::string_view field) const;

  // The exemptions, matched one way everywhere (exact names; image globs).
  bool ExemptsUsername(std::string_view username) const;
  bool ExemptsRuntimeClass(std::string_view runtime_class) const;
  bool ExemptsImage(std::string_view image) const;
};

// A policy that covers namespaces but cannot be served (invalid with no earlier good revision):
// the namespaces it would cover are refused rather than judged without it.
struct Refusal {
  std::vector<std::string> patterns;  // exact names and globs; empty: every namespace
  std::string message;                // names the broken policy or file
};

// Namespaces' labels in a plain form, as offline commands gather them from their input; a set
// resolves them into the compact NamespaceLabelTable (policy/namespace_label_table.h) it keeps.
// The server builds that table directly from the Namespace watch.
struct NamespaceLabels {
  std::unordered_map<std::string, Labels> by_name;
};
std::shared_ptr<const NamespaceLabelTable> ToTable(const NamespaceLabels& labels);

// An immutable set of policies. Built once per (re)load; requests share it through a shared_ptr.
class PolicySet {
 public:
  // Validates the set as a whole (duplicate names, duplicate patterns). On error returns nullptr
  // and appends to *errors.
  static std::shared_ptr<const PolicySet> Build(std::vector<NamespacePolicy> policies,
                                                std::vector<PolicyError>* errors);
  // As Build, for policies already free of conflicts (AssemblePolicySet resolves them), plus the
  // namespaces to refuse.
  static std::shared_ptr<const PolicySet> BuildServing(std::vector<NamespacePolicy> policies,
                                                       std::vector<Refusal> refusals);

  // The effective policy for `ns`; never null (an empty policy when nothing matches). Cost does not
  // grow with the number of exact-name policies.
  std::shared_ptr<const EffectivePolicy> ForNamespace(std::string_view ns) const;

  const std::vector<NamespacePolicy>& policies() const { return *policies_; }
  const std::vector<Refusal>& refusals() const { return refusals_; }

  // This set as it applies to namespaces with `labels` (namespaceSelector and PSA labels
  // resolved here, once per change of policies or labels, not per request). The result answers
  // ForNamespace for every namespace; a namespace missing from `labels` is judged as unlabelled.
  std::shared_ptr<const PolicySet> WithNamespaceLabels(
      std::shared_ptr<const NamespaceLabelTable> labels) const;
  std::shared_ptr<const PolicySet> WithNamespaceLabels(
      const std::shared_ptr<const NamespaceLabels>& labels) const {
    return WithNamespaceLabels(labels ? ToTable(*labels) : nullptr);
  }
  // The labels this set was resolved with (empty when none).
  const NamespaceLabelTable& namespace_labels() const;
  // The labels of `ns` this set was resolved with; nullopt when unknown (judged as unlabelled).
  std::optional<Labels> LabelsOf(std::string_view ns) const;

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const;
  };
  struct GlobEntry {
    std::string pattern;
    std::size_t policy;  // index into policies_
  };
  using EffectiveMap = std::unordered_map<std::string, std::shared_ptr<const EffectivePolicy>,
                                          NameHash, std::equal_to<>>;

  // The policies that apply to `ns` with `labels`, least specific first, each once (at its most
  // specific layer); *psa_at is where the PSA label layer goes (before that position).
  // `labels` null: an unlabelled namespace (the selectors that match no labels, precomputed).
  std::vector<std::size_t> Matching(std::string_view ns, const Labels* labels,
                                    std::size_t* psa_at) const;
  std::shared_ptr<EffectivePolicy> Resolve(const std::vector<std::size_t>& matched,
                                           std::size_t psa_at, const Labels& labels) const;
  std::string RefusalFor(std::string_view ns) const;

  // Shared with the sets WithNamespaceLabels derives from this one: the policies are kept once,
  // not once more per published label change.
  std::shared_ptr<const std::vector<NamespacePolicy>> policies_ =
      std::make_shared<const std::vector<NamespacePolicy>>();
  std::vector<Refusal> refusals_;
  std::shared_ptr<const NamespaceLabelTable> labels_;
  // Precomputed for every exact name (as unlabelled), so lookups do not grow with the number of
  // policies.
  EffectiveMap exact_;
  std::unordered_map<std::string, std::size_t, NameHash, std::equal_to<>> exact_policy_;
  // Precomputed for every labelled namespace (WithNamespaceLabels): labelled_[i] is the index in
  // labelled_policies_ of what the namespace at index i of labels_ gets; equal results are shared.
  std::vector<std::uint32_t> labelled_;
  std::vector<std::shared_ptr<const EffectivePolicy>> labelled_policies_;
  std::vector<GlobEntry> globs_;        // glob and "*" patterns, least specific first
  std::vector<std::size_t> selectors_;  // policies with a selector: fewer requirements first
  std::vector<std::size_t> unlabelled_selectors_;  // those of selectors_ that match no labels
  // What an unlabelled namespace that no glob or exact name matches gets: "*" and the selectors
  // that match no labels.
  std::vector<std::size_t> default_policies_;
  std::shared_ptr<const EffectivePolicy> default_;
  // The source of the fields each policy sets (same index as policies_), shared by every
  // effective policy it applies to and with the derived sets.
  std::shared_ptr<const std::vector<FieldSource>> policy_sources_;
};

// Two policies with one name, or one namespace pattern in two policies: each later one is reported
// (naming the earlier). False when there is any.
bool ReportConflicts(const std::vector<const NamespacePolicy*>& policies,
                     std::vector<PolicyError>* errors);

// Each of `added`'s clashes with `held` (reported as if it came after all of them), not with the
// others added nor among the held.
void ReportConflictsWith(const std::vector<const NamespacePolicy*>& held,
                         const std::vector<const NamespacePolicy*>& added,
                         std::vector<PolicyError>* errors);

// Whether namespace pattern `a` is less specific than `b`: "*" first, then globs from shorter to
// longer (ties by text), then exact names. Policies apply in this order; the last one wins.
bool LessSpecificPattern(std::string_view a, std::string_view b);

// How `policy` applies to `ns` with `labels`: its exact name or most specific glob ("team-*"), or
// `selector "env=prod"` (the selector of a label-selected policy; `selector {}` when empty); ""
// when it does not apply. The most specific way wins, as in precedence.
std::string MatchedBy(const NamespacePolicy& policy, std::string_view ns, const Labels& labels);

// Applies PSA's namespace labels (pod-security.kubernetes.io/{enforce,warn,audit}[-version]) over
// `effective` as PSA applies them over its defaults: a level label sets the level and keeps the
// inherited version, a version label the version. An invalid enforce level counts as restricted,
// an invalid warn or audit level as privileged, an invalid version as latest; each is recorded in
// effective->label_errors.
void ApplyPsaLabels(const Labels& labels, EffectivePolicy* effective);

// Shell-style glob on names: '*' matches any run of characters, '?' one character.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace palisade::policy
