// Policy lookups and reloads. Targets: PolicySet::ForNamespace flat from 1 to 10,000 exact-name
// policies; a reload of 1,000 policy documents (YAML parse + validation + Build) <= 100 ms.
//   build/bench/policy_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policy/namespace_policy.h"
#include "server/policy_loader.h"

namespace {

using palisade::policy::PolicyError;
using palisade::policy::PolicySet;

// Policy `i` covers namespace "team-<i>"; policy 0 is the cluster default ("*").
std::string PolicyDocument(int i) {
  const std::string name = i == 0 ? "cluster-default" : "team-" + std::to_string(i);
  const std::string ns = i == 0 ? "\"*\"" : "\"" + name + "\"";
  return "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: " + name +
         "\nspec:\n  namespaces: [" + ns +
         "]\n  podSecurity:\n    enforce: baseline\n    warn: restricted:v1.30\n"
         "  defaults:\n    seccompProfile: {type: RuntimeDefault}\n"
         "    capabilities: {drop: [ALL]}\n    allowPrivilegeEscalation: false\n"
         "  rules:\n    allowedCapabilities: [NET_BIND_SERVICE]\n"
         "  exemptions:\n    usernames: [\"system:serviceaccount:ci:deployer-" +
         std::to_string(i) + "\"]\n";
}

// `count` documents in one multi-document stream.
std::string PolicyStream(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) {
    if (i > 0) text += "---\n";
    text += PolicyDocument(i);
  }
  return text;
}

std::shared_ptr<const PolicySet> BuildSet(int count) {
  std::vector<PolicyError> errors;
  auto policies = palisade::server::ParsePolicyText(PolicyStream(count), "bench.yaml", &errors);
  auto set = PolicySet::Build(std::move(policies), &errors);
  if (set == nullptr || !errors.empty()) {
    std::fprintf(stderr, "bench policies: %s\n",
                 errors.empty() ? "?" : errors.front().ToString().c_str());
    std::exit(1);
  }
  return set;
}

// Lookup of an exact-name namespace (merged with the cluster default) among N policies.
void BM_ForNamespaceExact(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const auto set = BuildSet(count);
  const std::string ns = "team-" + std::to_string(count / 2 > 0 ? count / 2 : 1);
  for (auto _ : state) {
    auto policy = set->ForNamespace(ns);
    benchmark::DoNotOptimize(policy);
  }
}
BENCHMARK(BM_ForNamespaceExact)->Arg(2)->Arg(10000);

// A namespace no exact policy names: falls through to the cluster default.
void BM_ForNamespaceDefault(benchmark::State& state) {
  const auto set = BuildSet(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto policy = set->ForNamespace("unlisted");
    benchmark::DoNotOptimize(policy);
  }
}
BENCHMARK(BM_ForNamespaceDefault)->Arg(2)->Arg(10000);

// A reload from text: YAML -> JSON -> validated policies -> PolicySet.
void BM_ReloadFromText(benchmark::State& state) {
  const std::string text = PolicyStream(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::vector<PolicyError> errors;
    auto policies = palisade::server::ParsePolicyText(text, "bench.yaml", &errors);
    auto set = PolicySet::Build(std::move(policies), &errors);
    if (set == nullptr) state.SkipWithError("reload failed");
    benchmark::DoNotOptimize(set);
  }
}
BENCHMARK(BM_ReloadFromText)->Arg(1000)->Unit(benchmark::kMillisecond);

// A reload from a directory of 100 files with 10 documents each, as the watcher does it.
void BM_ReloadFromDirectory(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  std::string pattern = (std::filesystem::temp_directory_path() / "palisade-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::filesystem::path directory = pattern;
  constexpr int kPerFile = 10;
  for (int first = 0; first < count; first += kPerFile) {
    char name[32];
    std::snprintf(name, sizeof name, "policies-%04d.yaml", first / kPerFile);
    std::ofstream out(directory / name);
    for (int i = first; i < first + kPerFile && i < count; ++i) {
      if (i > first) out << "---\n";
      out << PolicyDocument(i);
    }
  }
  for (auto _ : state) {
    auto result = palisade::server::LoadPolicyDirectory(directory.string());
    if (!result.ok()) state.SkipWithError("reload failed");
    benchmark::DoNotOptimize(result);
  }
  std::filesystem::remove_all(directory);
}
BENCHMARK(BM_ReloadFromDirectory)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
