#pragma once

// Namespace policies: the model of one NamespacePolicy document, its validation (from a JSON tree;
// server/ turns YAML into JSON first), matching and the field-by-field merge into the effective
// policy for a namespace. Pure: no files.

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/level_version.h"

namespace palisade::policy {

// A field of a policy document: absent (inherit), explicit null (remove the inherited value), or
// set.
template <class T>
struct Setting {
  enum class State : std::uint8_t { kAbsent, kNull, kValue };
  State state = State::kAbsent;
  T value{};

  bool absent() const { return state == State::kAbsent; }
  bool has_value() const { return state == State::kValue; }
};

struct Profile {
  std::string type;               // RuntimeDefault | Localhost | Unconfined (seccomp only)
  std::string localhost_profile;  // set iff type == Localhost
  bool operator==(const Profile&) const = default;
};

enum class Action : std::uint8_t { kEnforce, kWarn, kAudit };
enum class WorkloadMode : std::uint8_t { kEnforce, kWarn };

std::string_view ActionName(Action action);

struct PodSecuritySettings {
  Setting<LevelVersion> enforce, warn, audit;
};

struct DefaultSettings {
  Setting<Profile> seccomp_profile;
  Setting<Profile> app_armor_profile;
  Setting<std::vector<std::string>> capabilities_drop;  // defaults.capabilities.drop
  Setting<std::vector<std::string>> capabilities_add;   // defaults.capabilities.add
  Setting<bool> allow_privilege_escalation;
  Setting<bool> run_as_non_root;
  Setting<std::string> runtime_class_name;
};

struct RuleSettings {
  Setting<Action> action;  // default enforce
  Setting<std::vector<std::string>> allowed_capabilities;
  Setting<std::vector<std::string>> required_drop_capabilities;
  Setting<std::vector<std::string>>
      allowed_seccomp_profiles;  // "RuntimeDefault", "Localhost/<glob>"
  Setting<std::vector<std::string>> allowed_app_armor_profiles;
  Setting<std::vector<std::string>> allowed_runtime_classes;
};

struct ExemptionSettings {
  Setting<std::vector<std::string>> usernames;
  Setting<std::vector<std::string>> runtime_classes;
  Setting<std::vector<std::string>> images;  // globs
};

// One validated NamespacePolicy document.
struct NamespacePolicy {
  std::string name;
  std::vector<std::string> namespaces;  // exact names and globs ("*" is the cluster default)
  std::string revision;                 // short hash of the document ("4c1e9a")
  std::string file;                     // where it came from, for messages and `policy explain`
  int document_index = 0;               // 0-based within the file
  PodSecuritySettings pod_security;
  DefaultSettings defaults;
  RuleSettings rules;
  Setting<WorkloadMode> workloads;
  ExemptionSettings exemptions;
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
  std::string ToString()
      const;  // "team.yaml: document 2: spec.podSecurity.enforce: unknown level ..."
};

// Validates one document (already a JSON tree). Unknown fields are errors. On success returns the
// policy; otherwise returns nullopt and appends every problem found to *errors.
std::optional<NamespacePolicy> ParseNamespacePolicy(const rapidjson::Value& document,
                                                    std::string_view file, int document_index,
                                                    std::vector<PolicyError>* errors);

// Which document set an effective field: for messages ("policy \"payments\" rev 4c1e9a") and
// `policy explain`.
struct FieldSource {
  std::string policy;  // document name
  std::string revision;
};

// The merged policy that applies to one namespace. Every optional is unset when no matching
// document set it (or the most specific one nulled it).
struct EffectivePolicy {
  std::vector<std::string> matched;  // names of the matching documents, least specific first

  std::optional<LevelVersion> enforce, warn, audit;

  std::optional<Profile> default_seccomp_profile;
  std::optional<Profile> default_app_armor_profile;
  std::optional<std::vector<std::string>> default_capabilities_drop;
  std::optional<std::vector<std::string>> default_capabilities_add;
  std::optional<bool> default_allow_privilege_escalation;
  std::optional<bool> default_run_as_non_root;
  std::optional<std::string> default_runtime_class_name;

  Action rules_action = Action::kEnforce;
  std::optional<std::vector<std::string>> allowed_capabilities;
  std::optional<std::vector<std::string>> required_drop_capabilities;
  std::optional<std::vector<std::string>> allowed_seccomp_profiles;
  std::optional<std::vector<std::string>> allowed_app_armor_profiles;
  std::optional<std::vector<std::string>> allowed_runtime_classes;

  WorkloadMode workloads = WorkloadMode::kEnforce;

  std::vector<std::string> exempt_usernames;
  std::vector<std::string> exempt_runtime_classes;
  std::vector<std::string> exempt_images;

  // Keyed by the document's field path: "podSecurity.enforce", "defaults.seccompProfile",
  // "defaults.capabilities.drop", "rules.allowedCapabilities", "workloads", "exemptions.images",
  // ...
  std::map<std::string, FieldSource> sources;

  bool HasDefaults() const;
  const FieldSource* SourceOf(std::string_view field) const;
};

// An immutable set of policies. Built once per (re)load; requests share it through a shared_ptr.
class PolicySet {
 public:
  // Validates the set as a whole (duplicate names, duplicate patterns). On error returns nullptr
  // and appends to *errors.
  static std::shared_ptr<const PolicySet> Build(std::vector<NamespacePolicy> policies,
                                                std::vector<PolicyError>* errors);

  // The effective policy for `ns`; never null (an empty policy when nothing matches). Cost does not
  // grow with the number of exact-name policies.
  std::shared_ptr<const EffectivePolicy> ForNamespace(std::string_view ns) const;

  const std::vector<NamespacePolicy>& policies() const { return policies_; }

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const;
  };
  struct GlobEntry {
    std::string pattern;
    std::size_t policy;  // index into policies_
  };

  std::vector<std::size_t> MatchingGlobs(std::string_view ns, std::size_t exact_policy) const;

  std::vector<NamespacePolicy> policies_;
  // Precomputed for every exact name, so lookups do not grow with the number of policies.
  std::unordered_map<std::string, std::shared_ptr<const EffectivePolicy>, NameHash, std::equal_to<>>
      exact_;
  std::vector<GlobEntry> globs_;                      // glob and "*" patterns, least specific first
  std::vector<std::size_t> star_only_policies_;       // the policies with "*"
  std::shared_ptr<const EffectivePolicy> star_only_;  // effective policy from "*" alone
};

// Shell-style glob on names: '*' matches any run of characters, '?' one character.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace palisade::policy
