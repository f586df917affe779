#pragma once

// Builds the served policy set from every document of a policy source, keeping a bad document's
// blast radius to what it covers. Pure: the documents come from any source (a directory, a
// ConfigMap) as (file, index) pairs, already parsed.
//
// The rule:
// - A document is "the same document" across revisions by its metadata.name when that can be
//   read, else by file and index.
// - A valid document serves its new revision.
// - An invalid one keeps its last good revision (from `previous`) serving. Without one, the
//   namespaces it names are refused with a message naming it; when not even those can be read,
//   every namespace is.
// - Text that cannot be read as documents (YAML that does not parse, a file that cannot be read)
//   keeps the previous policies of that file from that document on; without any, every namespace
//   is refused, naming the file.
// - Two documents with one name are both invalid (neither is "the" document). Two policies with
//   one namespace pattern: the one that already held it keeps it, the newcomer is invalid; when
//   neither held it, both are.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {

struct SourceDocument {
  std::string file;
  int index = 0;                          // 0-based within the file
  std::optional<NamespacePolicy> policy;  // set when valid
  DocumentIdentity identity;              // what could be read either way
  std::string problem;                    // the first error when invalid ("file: document N: ...")
  // The text from this document on could not be read as documents (YAML error, unreadable file).
  bool unreadable = false;
};

// A document that does not serve its current text.
struct FailingDocument {
  std::string file;
  int index = 0;
  std::string name;      // "" when unreadable
  std::string kept;      // what still serves in its place: `rev 4c1e9a`, `"a" rev 4c1e9a, ...`
  bool refused = false;  // what it covers is refused (no good revision to fall back on)
  std::string problem;

  // `policy "payments" (p.yaml: document 1) is invalid; rev 4c1e9a keeps serving`
  std::string ToString() const;
};

struct AssembledPolicies {
  std::shared_ptr<const PolicySet> set;  // never null
  std::vector<PolicyError> errors;       // conflicts between valid documents (names, patterns)
  std::vector<FailingDocument> failing;  // in source order
};

AssembledPolicies AssemblePolicySet(std::vector<SourceDocument> documents,
                                    const PolicySet* previous);

}  // namespace palisade::policy
