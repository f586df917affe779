// Bytes -> ParsePolicyText (YAML -> JSON -> NamespacePolicy) -> PolicySet::Build -> ForNamespace.
// Beyond "no crash, no UB": every error names its file and has a reason; a set that builds answers
// every namespace with a policy whose matched names are policies of the set.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "policy/namespace_policy.h"
#include "server/policy_loader.h"

namespace {

using palisade::fuzz::Check;
using palisade::policy::PolicyError;

void CheckErrors(const std::vector<PolicyError>& errors) {
  for (const PolicyError& error : errors) {
    Check(error.file == "fuzz.yaml" && !error.reason.empty(), "error names file and reason",
          error.ToString());
    Check(!error.ToString().empty(), "error prints");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<PolicyError> errors;
  std::vector<palisade::policy::NamespacePolicy> policies =
      palisade::server::ParsePolicyText(text, "fuzz.yaml", &errors);
  CheckErrors(errors);
  if (!errors.empty()) return 0;
  std::vector<std::string> names;
  std::vector<std::string> namespaces = {"payments", "payments-eu", "team-a", "default",
                                         "",         "kube-system"};
  for (const auto& policy : policies) {
    Check(!policy.name.empty() && !policy.revision.empty(), "a valid policy has name and revision",
          policy.name);
    names.push_back(policy.name);
    for (const std::string& pattern : policy.namespaces) namespaces.push_back(pattern);
  }
  const auto set = palisade::policy::PolicySet::Build(std::move(policies), &errors);
  CheckErrors(errors);
  Check((set == nullptr) == !errors.empty(), "Build fails exactly when it reports errors");
  if (set == nullptr) return 0;
  for (const std::string& ns : namespaces) {
    const auto effective = set->ForNamespace(ns);
    Check(effective != nullptr, "ForNamespace never returns null", ns);
    for (const std::string& matched : effective->matched) {
      Check(std::find(names.begin(), names.end(), matched) != names.end(),
            "matched names are policies of the set", matched);
    }
    for (const auto& [field, source] : effective->sources) {
      Check(std::find(names.begin(), names.end(), source->policy) != names.end(),
            "field sources are policies of the set", std::string(field));
    }
  }
  return 0;
}
