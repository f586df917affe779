#pragma once

// Shared by the fuzz targets: the example policies as a PolicySet, and a check that aborts with a
// message (libFuzzer reports the abort with the input that caused it).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "policy/namespace_policy.h"
#include "server/policy_loader.h"

namespace palisade::fuzz {

[[noreturn]] inline void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "INVARIANT BROKEN: %s\n%s\n", what, detail.c_str());
  std::abort();
}

inline void Check(bool condition, const char* what, const std::string& detail = "") {
  if (!condition) Fail(what, detail);
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// deploy/policies/*.yaml plus the load test's namespace policy, built once.
inline const policy::PolicySet& ExamplePolicies() {
  static const std::shared_ptr<const policy::PolicySet> set = [] {
    std::vector<policy::PolicyError> errors;
    std::vector<policy::NamespacePolicy> policies;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(PALISADE_POLICY_DIR)) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      for (auto& p : server::ParsePolicyText(ReadFile(file), file.string(), &errors)) {
        policies.push_back(std::move(p));
      }
    }
    // Exercises every mode and default on a namespace the example policies leave to the glob.
    const char* load_test = R"(apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata: {name: shop}
spec:
  namespaces: ["shop"]
  podSecurity: {enforce: baseline, warn: restricted, audit: restricted:v1.30}
  defaults:
    seccompProfile: {type: RuntimeDefault}
    appArmorProfile: {type: RuntimeDefault}
    capabilities: {drop: [ALL]}
    allowPrivilegeEscalation: false
    runAsNonRoot: true
  workloads: warn
  exemptions: {runtimeClasses: [kata]}
)";
    for (auto& p : server::ParsePolicyText(load_test, "load-test.yaml", &errors)) {
      policies.push_back(std::move(p));
    }
    auto built = policy::PolicySet::Build(std::move(policies), &errors);
    if (!errors.empty() || built == nullptr || built->policies().size() < 4) {
      Fail("example policies do not load", errors.empty() ? "" : errors.front().ToString());
    }
    return built;
  }();
  return *set;
}

}  // namespace palisade::fuzz
