// Policy lookups and reloads. Targets: PolicySet::ForNamespace flat from 1 to 10,000 exact-name
// policies; a reload of 1,000 policy documents (YAML parse + validation + Build) <= 100 ms.
// Namespace labels: lookups flat from 10 to 10,000 labelled namespaces and 1 to 100 selector
// policies; the time WithNamespaceLabels takes to resolve them; the memory of 10k namespaces with
// 5 labels each (target <= 5 MiB, counters labels_MiB + cache_MiB, from mallinfo2).
//   build/bench/policy_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <malloc.h>
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

// ---- namespace labels ----

using palisade::policy::LabelRequirement;
using palisade::policy::LabelSelector;
using palisade::policy::NamespaceLabels;
using palisade::policy::NamespacePolicy;
using palisade::policy::SelectorOperator;

// "*" plus `selectors` policies: policy i selects team=t<i> and env NotIn (dev).
std::shared_ptr<const PolicySet> SelectorSet(int selectors) {
  std::vector<NamespacePolicy> policies;
  NamespacePolicy star;
  star.name = "cluster-default";
  star.namespaces = {"*"};
  star.Set<&palisade::policy::PolicyValues::enforce>(palisade::policy::LevelVersion{
      palisade::policy::Level::kBaseline, palisade::policy::Version::Latest(), true});
  policies.push_back(std::move(star));
  for (int i = 0; i < selectors; ++i) {
    NamespacePolicy policy;
    policy.name = "team-" + std::to_string(i);
    policy.namespace_selector = LabelSelector(
        {LabelRequirement{"team", SelectorOperator::kEquals, {"t" + std::to_string(i)}},
         LabelRequirement{"env", SelectorOperator::kNotIn, {"dev"}}});
    policy.Set<&palisade::policy::PolicyValues::default_run_as_non_root>(true);
    policies.push_back(std::move(policy));
  }
  std::vector<PolicyError> errors;
  return PolicySet::Build(std::move(policies), &errors);
}

// `count` namespaces with 5 labels each, as clusters label them.
std::shared_ptr<const NamespaceLabels> ManyNamespaces(int count) {
  auto labels = std::make_shared<NamespaceLabels>();
  labels->by_name.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const std::string name = "namespace-" + std::to_string(i);
    labels->by_name[name] = {
        {"kubernetes.io/metadata.name", name},
        {"team", "t" + std::to_string(i % 100)},
        {"env", i % 3 == 0 ? "dev" : "prod"},
        {"app.kubernetes.io/part-of", "product-" + std::to_string(i % 50)},
        {"pod-security.kubernetes.io/enforce", i % 2 == 0 ? "restricted" : "baseline"},
    };
  }
  return labels;
}

void BM_ForNamespaceLabelled(benchmark::State& state) {
  const int namespaces = static_cast<int>(state.range(0));
  const auto set = SelectorSet(static_cast<int>(state.range(1)))
                       ->WithNamespaceLabels(ManyNamespaces(namespaces));
  const std::string ns = "namespace-" + std::to_string(namespaces / 2 + 1);
  for (auto _ : state) benchmark::DoNotOptimize(set->ForNamespace(ns));
}
BENCHMARK(BM_ForNamespaceLabelled)->Args({10, 1})->Args({10000, 1})->Args({10000, 100});

void BM_WithNamespaceLabels(benchmark::State& state) {
  const auto set = SelectorSet(static_cast<int>(state.range(1)));
  const auto labels = ManyNamespaces(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(set->WithNamespaceLabels(labels));
}
BENCHMARK(BM_WithNamespaceLabels)->Args({10000, 100})->Unit(benchmark::kMillisecond);

// Heap in use (mallinfo2: what the allocator handed out, so the number is the cache's own).
double HeapMiB() { return static_cast<double>(mallinfo2().uordblks) / (1024.0 * 1024.0); }

void BM_NamespaceCacheMemory(benchmark::State& state) {
  const auto set = SelectorSet(100);
  for (auto _ : state) {
    const double before = HeapMiB();
    auto labels = ManyNamespaces(10000);
    const double with_labels = HeapMiB();
    auto resolved = set->WithNamespaceLabels(labels);
    const double with_cache = HeapMiB();
    state.counters["labels_MiB"] = with_labels - before;
    state.counters["cache_MiB"] = with_cache - with_labels;
    state.counters["total_MiB"] = with_cache - before;
    benchmark::DoNotOptimize(resolved);
  }
}
BENCHMARK(BM_NamespaceCacheMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
