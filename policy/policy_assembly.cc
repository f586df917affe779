#include "policy/policy_assembly.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "policy/check.h"
#include "policy/document_reader.h"

namespace palisade::policy {
namespace {

using check_text::GoQuote;

std::string Where(std::string_view file, int index) {
  return std::string(file) + ": document " + std::to_string(index + 1);
}

// One document identity and what serves for it.
struct Candidate {
  std::string name;                              // "" for a document whose name is unreadable
  std::vector<const SourceDocument*> documents;  // the documents with this identity
  const NamespacePolicy* serving = nullptr;      // new or last good revision; null when refused
  bool is_new = false;
  std::optional<std::vector<std::string>> covers;  // what a refusal covers; unset: everything
  std::string problem;                             // why it fell back
};

bool Holds(const NamespacePolicy* policy, std::string_view pattern) {
  return policy != nullptr && std::find(policy->namespaces.begin(), policy->namespaces.end(),
                                        pattern) != policy->namespaces.end();
}

}  // namespace

std::string FailingDocument::ToString() const {
  std::string out = name.empty() ? "the policy at " + Where(file, index)
                                 : "policy " + GoQuote(name) + " (" + Where(file, index) + ")";
  out += " is invalid; ";
  out += refused ? "what it covers is refused (no earlier good revision)" : kept + " keeps serving";
  return out;
}

AssembledPolicies AssemblePolicySet(std::vector<SourceDocument> documents,
                                    const PolicySet* previous) {
  AssembledPolicies out;
  // Conflicts are reported as a set of the valid documents alone would have them (first come,
  // first served), so lint names each once; what serves is decided below.
  {
    std::vector<const NamespacePolicy*> valid;
    for (const SourceDocument& document : documents) {
      if (document.policy) valid.push_back(&*document.policy);
    }
    ReportConflicts(valid, &out.errors);
  }
  std::map<std::string, const NamespacePolicy*, std::less<>> previous_by_name;
  if (previous != nullptr) {
    for (const NamespacePolicy& policy : previous->policies())
      previous_by_name[policy.name] = &policy;
  }
  const auto previous_of = [&](std::string_view name) -> const NamespacePolicy* {
    const auto it = previous_by_name.find(name);
    return it == previous_by_name.end() ? nullptr : it->second;
  };

  // Group the readable documents by identity: the name, else file and index.
  std::vector<Candidate> candidates;
  std::map<std::string, std::size_t> by_key;
  std::vector<const SourceDocument*> unreadable;
  for (const SourceDocument& document : documents) {
    if (document.unreadable) {
      unreadable.push_back(&document);
      continue;
    }
    const std::string& name = document.identity.name;
    const std::string key =
        name.empty() ? "@" + document.file + "#" + std::to_string(document.index) : name;
    auto [it, inserted] = by_key.emplace(key, candidates.size());
    if (inserted) candidates.push_back(Candidate{name, {}, nullptr, false, std::nullopt, ""});
    candidates[it->second].documents.push_back(&document);
  }

  std::vector<Refusal> refusals;
  std::vector<FailingDocument> failing;
  // An invalid identity: its last good revision, else a refusal of what it covers.
  const auto fall_back = [&](Candidate& candidate, const std::string& problem) {
    const SourceDocument& document = *candidate.documents.front();
    const NamespacePolicy* kept = nullptr;
    if (!candidate.name.empty()) {
      kept = previous_of(candidate.name);
    } else if (previous != nullptr) {
      for (const NamespacePolicy& policy : previous->policies()) {
        if (policy.file == document.file && policy.document_index == document.index &&
            !by_key.contains(policy.name)) {
          kept = &policy;
        }
      }
    }
    candidate.serving = kept;
    candidate.is_new = false;
    candidate.problem = problem;
    if (kept == nullptr) {
      std::vector<std::string> covers;
      bool everything = false;
      for (const SourceDocument* each : candidate.documents) {
        if (!each->identity.namespaces) everything = true;
        if (each->identity.namespaces) {
          for (const std::string& pattern : *each->identity.namespaces) covers.push_back(pattern);
        }
      }
      if (everything) {
        candidate.covers.reset();
      } else {
        candidate.covers = std::move(covers);
      }
    }
    for (const SourceDocument* each : candidate.documents) {
      failing.push_back(FailingDocument{
          each->file, each->index, each->identity.name,
          kept ? (candidate.name.empty() ? GoQuote(kept->name) + " " : "") + "rev " + kept->revision
               : "",
          kept == nullptr, problem});
    }
  };

  for (Candidate& candidate : candidates) {
    const SourceDocument& document = *candidate.documents.front();
    if (candidate.documents.size() == 1 && document.policy) {
      candidate.serving = &*document.policy;
      candidate.is_new = true;
    } else {
      fall_back(candidate, candidate.documents.size() > 1
                               ? "duplicate name " + GoQuote(candidate.name)
                               : document.problem);
    }
  }

  // Text that cannot be read: the file's previous policies from that document on keep serving,
  // those an earlier unreadable document of the file kept as well (a document past a size limit
  // does not end its text).
  std::set<const NamespacePolicy*> kept_for_unreadable;
  for (const SourceDocument* document : unreadable) {
    std::string kept;
    if (previous != nullptr) {
      for (const NamespacePolicy& policy : previous->policies()) {
        if (policy.file != document->file || policy.document_index < document->index) continue;
        if (!kept_for_unreadable.contains(&policy)) {
          if (by_key.contains(policy.name)) continue;
          by_key.emplace(policy.name, candidates.size());
          candidates.push_back(Candidate{policy.name, {}, &policy, false, std::nullopt, ""});
          kept_for_unreadable.insert(&policy);
        }
        kept += (kept.empty() ? "" : ", ") + GoQuote(policy.name) + " rev " + policy.revision;
      }
    }
    if (kept.empty()) {
      refusals.push_back(Refusal{{},
                                 "policy file " + GoQuote(document->file) +
                                     " cannot be read and nothing from it was served before: "
                                     "every namespace is refused until it is fixed (" +
                                     document->problem + ")"});
    }
    failing.push_back(FailingDocument{document->file, document->index, "", kept, kept.empty(),
                                      document->problem});
  }

  // One namespace pattern, two policies: the one that held it keeps it; newcomers fall back.
  // Patterns are settled in order, the least first; a fall-back changes what the candidate claims,
  // so the patterns it dropped or now claims are looked at again (from the least). Kept
  // incrementally: a file of many policies claiming one pattern is not recounted per fall-back.
  std::map<std::string_view, std::vector<std::size_t>> claimants;  // candidate indexes, ascending
  std::set<std::string_view> unsettled;                            // patterns to look at
  const auto claim = [&](std::size_t i, bool add) {
    if (candidates[i].serving == nullptr) return;
    for (const std::string& pattern : candidates[i].serving->namespaces) {
      std::vector<std::size_t>& claims = claimants[pattern];
      const auto at = std::lower_bound(claims.begin(), claims.end(), i);
      if (add) {
        claims.insert(at, i);
      } else if (at != claims.end() && *at == i) {
        claims.erase(at);
      }
      unsettled.insert(pattern);
    }
  };
  for (std::size_t i = 0; i < candidates.size(); ++i) claim(i, true);
  while (!unsettled.empty()) {
    const std::string_view pattern = *unsettled.begin();
    unsettled.erase(unsettled.begin());
    const std::vector<std::size_t> claims = claimants[pattern];  // a copy: falling back edits it
    if (claims.size() < 2) continue;
    // Who claimed it before anyone falls back (falling back may drop a claim).
    std::vector<const NamespacePolicy*> claimed_by;
    for (const std::size_t i : claims) claimed_by.push_back(candidates[i].serving);
    for (std::size_t k = 0; k < claims.size(); ++k) {
      Candidate& candidate = candidates[claims[k]];
      if (!candidate.is_new || Holds(previous_of(candidate.name), pattern)) continue;
      const NamespacePolicy& other = *claimed_by[k == 0 ? 1 : 0];
      const NamespacePolicy& mine = *claimed_by[k];
      const auto position = std::find(mine.namespaces.begin(), mine.namespaces.end(), pattern);
      claim(claims[k], false);
      fall_back(candidate, Where(mine.file, mine.document_index) + ": " +
                               IndexPath("spec.namespaces", position - mine.namespaces.begin()) +
                               ": namespace pattern " + GoQuote(pattern) + " is also in policy " +
                               GoQuote(other.name) + " (" + other.file + " document " +
                               std::to_string(other.document_index + 1) + ")");
      claim(claims[k], true);
    }
  }

  // Patterns a serving candidate holds in its new revision and held in its last: a refused
  // candidate's refusal leaves them to it.
  std::unordered_set<std::string_view> held;
  for (const Candidate& candidate : candidates) {
    if (candidate.serving == nullptr) continue;
    const NamespacePolicy* before = previous_of(candidate.serving->name);
    if (before == nullptr) continue;
    const std::unordered_set<std::string_view> held_before(before->namespaces.begin(),
                                                           before->namespaces.end());
    for (const std::string& pattern : candidate.serving->namespaces) {
      if (held_before.contains(pattern)) held.insert(pattern);
    }
  }

  std::vector<NamespacePolicy> serving;
  for (Candidate& candidate : candidates) {
    if (candidate.serving != nullptr) continue;
    const SourceDocument& document = *candidate.documents.front();
    const std::string who = candidate.name.empty()
                                ? "the policy at " + Where(document.file, document.index)
                                : "policy " + GoQuote(candidate.name) + " (" +
                                      Where(document.file, document.index) + ")";
    std::string message = who + " is invalid and has no earlier good revision: ";
    message += candidate.covers ? "its namespaces are" : "every namespace is";
    message += " refused until it is fixed (" + candidate.problem + ")";
    // Patterns whose earlier holder still serves stay with it.
    std::vector<std::string> covers;
    if (candidate.covers) {
      for (const std::string& pattern : *candidate.covers) {
        if (!held.contains(pattern)) covers.push_back(pattern);
      }
      if (covers.empty()) continue;
    }
    refusals.push_back(Refusal{std::move(covers), std::move(message)});
  }
  for (Candidate& candidate : candidates) {
    if (candidate.is_new) {
      // A new revision lives in `documents`, which this function owns: move it.
      serving.push_back(std::move(*const_cast<NamespacePolicy*>(candidate.serving)));
    } else if (candidate.serving != nullptr) {
      serving.push_back(*candidate.serving);
    }
  }
  std::sort(serving.begin(), serving.end(), [](const NamespacePolicy& a, const NamespacePolicy& b) {
    return std::tie(a.file, a.document_index) < std::tie(b.file, b.document_index);
  });
  std::stable_sort(failing.begin(), failing.end(),
                   [](const FailingDocument& a, const FailingDocument& b) {
                     return std::tie(a.file, a.index) < std::tie(b.file, b.index);
                   });
  out.failing = std::move(failing);
  out.set = PolicySet::BuildServing(std::move(serving), std::move(refusals));
  return out;
}

}  // namespace palisade::policy
