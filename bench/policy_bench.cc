// Policy lookups and reloads. Targets: PolicySet::ForNamespace flat from 1 to 10,000 exact-name
// policies; a reload of 1,000 policy documents (YAML parse + validation + Build) <= 100 ms.
// Namespace labels: lookups flat from 10 to 10,000 labelled namespaces and 1 to 100 selector
// policies; the time WithNamespaceLabels takes to resolve them; the memory `serve` keeps for 10k
// namespaces with 5 labels each: reflector store + labels + resolved cache (target <= 5 MiB,
// BM_NamespaceCacheMemory total_MiB from mallinfo2, rss_MiB from /proc/self/statm); the heap of
// the policy set of bench/load/run.sh --scale, 1k policies over 10k namespaces
// (BM_ScaleWorldMemory).
//   build/bench/policy_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench_files.h"
#include "kube/reflector.h"
#include "policy/namespace_policy.h"
#include "server/cluster_sources.h"
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
using palisade::policy::ToTable;

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
                       ->WithNamespaceLabels(ToTable(*ManyNamespaces(namespaces)));
  const std::string ns = "namespace-" + std::to_string(namespaces / 2 + 1);
  for (auto _ : state) benchmark::DoNotOptimize(set->ForNamespace(ns));
}
BENCHMARK(BM_ForNamespaceLabelled)->Args({10, 1})->Args({10000, 1})->Args({10000, 100});

void BM_WithNamespaceLabels(benchmark::State& state) {
  const auto set = SelectorSet(static_cast<int>(state.range(1)));
  const auto labels = ToTable(*ManyNamespaces(static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(set->WithNamespaceLabels(labels));
}
BENCHMARK(BM_WithNamespaceLabels)->Args({10000, 100})->Unit(benchmark::kMillisecond);

// Heap in use (mallinfo2: what the allocator handed out, so the number is the cache's own). Blocks
// of 128 KiB and more are mapped on their own and counted apart (hblkhd), not in uordblks.
double HeapMiB() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd) / (1024.0 * 1024.0);
}
// Resident set size (/proc/self/statm), for the RSS the target is stated in. Freed memory the
// allocator keeps makes it noisier than HeapMiB.
double RssMiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

// The metadata-only namespace list as the API server sends it, in pages of 500 (the reflector's
// page size): PartialObjectMetadata with the 5 labels of ManyNamespaces, plus what real
// Namespaces carry that Palisade does not read (uid, timestamps, an annotation, managedFields).
std::vector<std::string> NamespacePages(int count) {
  std::vector<std::string> pages;
  for (int first = 0; first < count; first += 500) {
    std::string page = R"({"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1",)"
                       R"("metadata":{"resourceVersion":"99999"},"items":[)";
    for (int i = first; i < std::min(count, first + 500); ++i) {
      const std::string name = "namespace-" + std::to_string(i);
      if (i > first) page += ',';
      page += R"({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{)"
              R"("name":")" +
              name + R"(","uid":"6c1b2f0e-0d7a-4f7e-9a51-)" + std::to_string(100000000000 + i) +
              R"(","resourceVersion":")" + std::to_string(1000 + i) +
              R"(","creationTimestamp":"2024-05-01T10:00:00Z","labels":{)"
              R"("kubernetes.io/metadata.name":")" +
              name + R"(","team":"t)" + std::to_string(i % 100) + R"(","env":")" +
              (i % 3 == 0 ? "dev" : "prod") + R"(","app.kubernetes.io/part-of":"product-)" +
              std::to_string(i % 50) + R"(","pod-security.kubernetes.io/enforce":")" +
              (i % 2 == 0 ? "restricted" : "baseline") + R"("},"annotations":{"owner":"team-)" +
              std::to_string(i % 100) +
              R"(@example.com"},"managedFields":[{"manager":"kubectl","operation":"Update",)"
              R"("apiVersion":"v1","time":"2024-05-01T10:00:00Z","fieldsType":"FieldsV1",)"
              R"("fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:team":{}}}}}]}})";
    }
    pages.push_back(page + "]}");
  }
  return pages;
}

// Feeds the pages to a reflector store as Reflector::List does (one parsed page at a time).
void ListInto(palisade::kube::ReflectorStore& store, const std::vector<std::string>& pages) {
  store.StartList();
  for (const std::string& text : pages) {
    auto document = std::make_shared<rapidjson::Document>();
    document->Parse(text.c_str(), text.size());
    const rapidjson::Value& items = (*document)["items"];
    for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
      std::shared_ptr<const rapidjson::Value> item(document, &items[i]);
      store.Listed(palisade::kube::ReadObjectMeta(*item), item);
    }
  }
  store.EndList();
  store.Publish("99999", 1);
}

// Everything `serve` keeps for 10k namespaces with 5 labels each (target <= 5 MiB): the
// namespace reflector's store (NamespaceLabelStore: a NamespaceLabelTable, shared with the served
// set) and the set's resolved cache, after the list's pages are gone.
void BM_NamespaceCacheMemory(benchmark::State& state) {
  const auto set = SelectorSet(100);
  const std::vector<std::string> pages = NamespacePages(10000);
  for (auto _ : state) {
    const double heap_before = HeapMiB();
    const double rss_before = RssMiB();
    std::shared_ptr<const PolicySet> resolved;
    palisade::server::NamespaceLabelStore store(
        [&](std::shared_ptr<const palisade::policy::NamespaceLabelTable> labels) {
          resolved = set->WithNamespaceLabels(std::move(labels));
        });
    ListInto(store, pages);
    const double heap_after = HeapMiB();
    const double rss_after = RssMiB();
    const double labels_mib = static_cast<double>(store.table()->HeapBytes()) / (1024.0 * 1024.0);
    state.counters["labels_MiB"] = labels_mib;
    state.counters["cache_MiB"] = heap_after - heap_before - labels_mib;
    state.counters["total_MiB"] = heap_after - heap_before;
    state.counters["rss_MiB"] = rss_after - rss_before;
    std::printf(
        "namespace cache, 10k namespaces x 5 labels: %.2f MiB heap (labels %.2f, resolved "
        "%.2f), %.2f MiB RSS\n",
        heap_after - heap_before, labels_mib, heap_after - heap_before - labels_mib,
        rss_after - rss_before);
    benchmark::DoNotOptimize(resolved);
  }
}
BENCHMARK(BM_NamespaceCacheMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

// For comparison: the default reflector store (whole objects, as before NamespaceLabelStore)
// holding the same list, plus the map-of-maps labels the server built from it.
void BM_NamespaceWholeObjectsMemory(benchmark::State& state) {
  const std::vector<std::string> pages = NamespacePages(10000);
  for (auto _ : state) {
    const double heap_before = HeapMiB();
    auto labels = std::make_shared<NamespaceLabels>();
    palisade::kube::ObjectStore store([&](std::shared_ptr<const palisade::kube::Snapshot> s) {
      for (const auto& [key, object] : s->objects) {
        labels->by_name.emplace(
            object.meta.name,
            palisade::policy::Labels(object.meta.labels.begin(), object.meta.labels.end()));
      }
    });
    ListInto(store, pages);
    state.counters["total_MiB"] = HeapMiB() - heap_before;
    benchmark::DoNotOptimize(labels);
  }
}
BENCHMARK(BM_NamespaceWholeObjectsMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- the world of bench/load/run.sh --scale (bench/load/scale_world.py, same shapes) ----

using palisade::policy::EffectivePolicy;
using palisade::policy::Labels;

constexpr int kTeams = 200;
constexpr std::string_view kEnvs[] = {"prod", "staging", "dev"};
constexpr std::string_view kApps[] = {"api",    "web",  "worker",  "db",     "cache",   "batch",
                                      "search", "auth", "billing", "events", "reports", "gateway",
                                      "ingest", "ml",   "notify",  "export", "cron"};
constexpr std::string_view kPsaLevels[] = {"baseline", "restricted", "privileged"};
constexpr int kEnvCount = static_cast<int>(std::size(kEnvs));
constexpr int kAppCount = static_cast<int>(std::size(kApps));

// `value` in decimal, zero-padded to `width` digits.
std::string Padded(int value, std::size_t width) {
  const std::string digits = std::to_string(value);
  return std::string(width - std::min(width, digits.size()), '0') + digits;
}

// scale_world.py's namespace i: its name and 5 labels.
std::pair<std::string, Labels> ScaleNamespace(int i) {
  const std::string team = "t" + Padded(i % kTeams, 3);
  const std::string env(kEnvs[(i / kTeams) % kEnvCount]);
  const std::string app(kApps[(i / (kTeams * kEnvCount)) % kAppCount]);
  const int serial = i / (kTeams * kEnvCount * kAppCount);
  const std::string name =
      team + "-" + app + "-" + env + (serial != 0 ? "-" + std::to_string(serial) : "");
  Labels labels = {{"kubernetes.io/metadata.name", name},
                   {"team", team},
                   {"env", env},
                   {"cost-center", "cc-" + Padded(1000 + (i % kTeams) / 4, 4)}};
  if (i % 4 == 0) {
    labels["pod-security.kubernetes.io/enforce"] = std::string(kPsaLevels[(i / 4) % 3]);
  } else {
    labels["app.kubernetes.io/part-of"] = app;
  }
  return {name, labels};
}

std::vector<std::pair<std::string, Labels>> ScaleNamespaces(int count) {
  std::vector<std::pair<std::string, Labels>> world = {
      {"payments",
       {{"kubernetes.io/metadata.name", "payments"},
        {"team", "payments"},
        {"env", "prod"},
        {"cost-center", "cc-0042"},
        {"pod-security.kubernetes.io/enforce", "baseline"}}}};
  for (int i = 0; static_cast<int>(world.size()) < count; ++i) world.push_back(ScaleNamespace(i));
  return world;
}

std::string ScalePolicy(const std::string& name, const std::string& match, std::string_view enforce,
                        std::string_view warn, bool defaults, std::string_view rules) {
  std::string text =
      "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: " + name +
      "\nspec:\n" + match + "  podSecurity: {enforce: " + std::string(enforce) +
      ", warn: " + std::string(warn) + "}\n";
  if (defaults) {
    text +=
        "  defaults:\n    seccompProfile: {type: RuntimeDefault}\n    capabilities: {drop: "
        "[ALL]}\n    allowPrivilegeEscalation: false\n";
  }
  if (!rules.empty()) {
    text += "  rules:\n    action: " + std::string(rules) +
            "\n    allowedCapabilities: [NET_BIND_SERVICE]\n    requiredDropCapabilities: [ALL]\n"
            "    allowedSeccompProfiles: [\"RuntimeDefault\", \"Localhost/profiles/*\"]\n";
  }
  return text;
}

// scale_world.py's `count` policies over `names` (the namespaces, payments first), as one stream.
std::string ScalePolicies(int count, const std::vector<std::string>& names) {
  std::vector<std::string> docs = {
      ScalePolicy("cluster-default", "  namespaces: [\"*\"]\n", "baseline", "restricted", true, ""),
      palisade::bench::ReadFileOrExit(std::string(PALISADE_BENCH_DIR) + "/load/payments.yaml")};
  std::size_t exact = 1;                // each namespace named by at most one policy
  std::size_t by_label = names.size();  // metadata.name selectors from the other end
  int team = 0, cost = 0;
  for (int i = 0; static_cast<int>(docs.size()) < count; ++i) {
    const int kind = i % 10;
    const bool defaults = i % 3 == 0;
    const std::string_view rules = i % 5 != 1 ? "" : i % 10 == 1 ? "enforce" : "warn";
    if (kind < 5) {
      const std::string& name = names[exact++];
      docs.push_back(ScalePolicy("ns-" + name, "  namespaces: [\"" + name + "\"]\n", "restricted",
                                 "restricted:latest", defaults, rules));
    } else if (kind == 5) {
      const std::string& name = names[--by_label];
      docs.push_back(ScalePolicy(
          "label-" + name,
          "  namespaceSelector:\n    matchLabels: {kubernetes.io/metadata.name: " + name + "}\n",
          "baseline:v1.30", "restricted", defaults, rules));
    } else if (kind < 9) {
      const std::string t = "t" + Padded(team % kTeams, 3);
      std::string match = "  namespaceSelector:\n    matchLabels: {team: " + t +
                          "}\n    matchExpressions:\n    - {key: env, operator: NotIn, values: [" +
                          (team < kTeams ? "dev" : "dev, staging") + "]}\n";
      if (team >= 2 * kTeams) {
        match += "    - {key: pod-security.kubernetes.io/enforce, operator: DoesNotExist}\n";
      }
      docs.push_back(ScalePolicy("team-" + t + "-" + std::to_string(team / kTeams), match,
                                 "baseline", "restricted", defaults, rules));
      ++team;
    } else {
      std::string centers;
      for (int k = 0; k < 3; ++k) {
        centers += (k > 0 ? ", cc-" : "cc-") + Padded(1000 + (cost * 3 + k) % 50, 4);
      }
      const std::string match =
          "  namespaceSelector:\n    matchExpressions:\n"
          "    - {key: cost-center, operator: In, values: [" +
          centers +
          "]}\n    - {key: env, operator: In, values: [prod]}\n"
          "    - {key: app.kubernetes.io/part-of, operator: Exists}\n";
      docs.push_back(ScalePolicy("cost-" + Padded(cost, 3), match, "restricted",
                                 "restricted:latest", defaults, rules));
      ++cost;
    }
  }
  std::string text;
  for (const std::string& doc : docs) text += (text.empty() ? "" : "---\n") + doc;
  return text;
}

// The policy set `serve --scale` keeps: 1,000 policies (with the effective policies of their
// exact names) resolved over 10,000 labelled namespaces. set_MiB: the parsed policies and the
// exact-name cache; resolved_MiB: WithNamespaceLabels' effective policies (the label table
// excluded); effective: the distinct effective policies a namespace can get; sources: the fields
// with a recorded source, over all of them.
void BM_ScaleWorldMemory(benchmark::State& state) {
  const auto world = ScaleNamespaces(10000);
  std::vector<std::string> names;
  auto labels = std::make_shared<NamespaceLabels>();
  for (const auto& [name, each] : world) {
    names.push_back(name);
    labels->by_name.emplace(name, each);
  }
  const auto table = ToTable(*labels);
  labels.reset();
  for (auto _ : state) {
    const double heap_before = HeapMiB();
    std::vector<PolicyError> errors;
    std::shared_ptr<const PolicySet> set;
    {
      const std::string text = ScalePolicies(1000, names);
      set = PolicySet::Build(palisade::server::ParsePolicyText(text, "policies.yaml", &errors),
                             &errors);
    }
    if (set == nullptr || !errors.empty()) {
      std::fprintf(stderr, "scale policies: %s\n",
                   errors.empty() ? "?" : errors.front().ToString().c_str());
      std::exit(1);
    }
    const double heap_set = HeapMiB();
    const auto resolved = set->WithNamespaceLabels(table);
    const double heap_resolved = HeapMiB();
    std::vector<const EffectivePolicy*> distinct;
    std::size_t sources = 0;
    for (const std::string& name : names) distinct.push_back(resolved->ForNamespace(name).get());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (const EffectivePolicy* effective : distinct) sources += effective->sources.size();
    state.counters["set_MiB"] = heap_set - heap_before;
    state.counters["resolved_MiB"] = heap_resolved - heap_set;
    state.counters["total_MiB"] = heap_resolved - heap_before;
    state.counters["effective"] = static_cast<double>(distinct.size());
    state.counters["sources"] = static_cast<double>(sources);
    std::printf(
        "scale world, 1k policies x 10k namespaces: %.2f MiB heap (set %.2f, resolved %.2f); "
        "%zu effective policies, %zu field sources\n",
        heap_resolved - heap_before, heap_set - heap_before, heap_resolved - heap_set,
        distinct.size(), sources);
    benchmark::DoNotOptimize(resolved);
  }
}
BENCHMARK(BM_ScaleWorldMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
