#pragma once

// Reads policy sources into an immutable PolicySet. A source is a list of (file name, text): a
// directory (plain, or a kubelet-mounted ConfigMap) today; a ConfigMap read from the API
// (`<configmap>/<key>` as the file name) plugs into BuildPolicies the same way.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"
#include "policy/policy_assembly.h"

namespace palisade::server {

struct PolicyFile {
  std::string name;  // in messages: "policies/team.yaml", "<configmap>/<key>"
  std::string text;
  std::string error;  // not empty when the file could not be read
};

struct PolicySource {
  std::vector<PolicyFile> files;  // in name order
  std::string error;              // not empty when the source itself could not be read
};

struct PolicyLoadResult {
  // What to serve: null only when the source could not be read at all.
  std::shared_ptr<const policy::PolicySet> set;
  std::vector<policy::PolicyError> errors;  // every problem in every file (and warnings)
  std::vector<policy::FailingDocument> failing;
  std::vector<std::string> files;  // the files read, in order
  std::size_t documents = 0;       // non-empty documents read (valid or not)

  // Everything read and valid: what offline commands (check, explain) require.
  bool ok() const;
  std::size_t error_count() const;  // errors that are not warnings
  // Nothing to serve and nothing failing: every namespace would be privileged with no defaults.
  bool empty_source() const { return set != nullptr && documents == 0 && failing.empty(); }
};

// *.yaml, *.yml and *.json, not hidden (the kubelet's ..data and ..<timestamp> entries start with
// '.').
bool IsPolicyFileName(std::string_view name);

// Every policy file of `directory` in name order, following symlinks; entries that are not
// regular files are skipped. When the directory is a ConfigMap mount whose ..data link is swapped
// while reading, the read is retried so files of two versions are never mixed.
PolicySource ReadPolicyDirectory(const std::string& directory);

// Parses every document of `source` and assembles the set to serve (AssemblePolicySet: a bad
// document keeps its last good revision from `previous`, else what it covers is refused).
PolicyLoadResult BuildPolicies(const PolicySource& source, const policy::PolicySet* previous);

// ReadPolicyDirectory + BuildPolicies. Also the basis of `palisade policy lint`.
PolicyLoadResult LoadPolicyDirectory(const std::string& directory,
                                     const policy::PolicySet* previous = nullptr);

// The policies in one file's text (YAML or JSON, one or more documents); `file` names it in
// errors. Problems are appended to *errors.
std::vector<policy::NamespacePolicy> ParsePolicyText(std::string_view text, std::string_view file,
                                                     std::vector<policy::PolicyError>* errors);

}  // namespace palisade::server
