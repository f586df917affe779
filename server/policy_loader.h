#pragma once

// Reads a policy directory (plain, or a kubelet-mounted ConfigMap) into an immutable PolicySet.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::server {

struct PolicyLoadResult {
  std::shared_ptr<const policy::PolicySet> set;  // null when anything was wrong
  std::vector<policy::PolicyError> errors;       // every problem in every file
  std::vector<std::string> files;                // the files read, in order

  bool ok() const { return set != nullptr; }
};

// Reads every *.yaml, *.yml and *.json entry of `directory` in name order, following symlinks.
// Hidden entries (names starting with '.', such as the kubelet's ..data and ..<timestamp>) and
// entries that are not regular files are skipped. Empty documents are skipped. Any bad document
// fails the whole load, and every error is reported with file, document, field path and reason
// (PolicyError::ToString). When the directory is a ConfigMap mount whose ..data link is swapped
// while reading, the read is retried so files of two versions are never mixed.
// Also the basis of `palisade policy lint`.
PolicyLoadResult LoadPolicyDirectory(const std::string& directory);

// The policies in one file's text (YAML or JSON, one or more documents); `file` names it in
// errors. Problems are appended to *errors.
std::vector<policy::NamespacePolicy> ParsePolicyText(std::string_view text, std::string_view file,
                                                     std::vector<policy::PolicyError>* errors);

}  // namespace palisade::server
