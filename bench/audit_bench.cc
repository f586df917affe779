// `palisade audit`'s judging, in process: 50,000 realistic pods (the shared pod_realistic.json,
// one in ten made privileged) in 100 namespaces, arriving as 100 list pages of 500 like the API's
// answers, each page parsed, every pod judged by policy::AuditObject (JudgeObject, as /validate)
// with deploy/policies, added to its namespace's NamespaceReport, and every Report built and
// serialised. Target: <= 10 s of CPU for the 50k pods (the reported CPU time is one run).

#include <benchmark/benchmark.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_files.h"
#include "policy/audit_report.h"
#include "server/policy_loader.h"

namespace {

using namespace palisade;

constexpr int kPods = 50'000;
constexpr int kPageSize = 500;
constexpr int kNamespaces = 100;

// The list pages as the API server sends them (JSON text): pods spread over the namespaces.
std::vector<std::string> Pages() {
  rapidjson::Document pod;
  pod.Parse(bench::ReadFileOrExit(std::string(PALISADE_SHARED_DIR) + "/testdata/pod_realistic.json")
                .c_str());
  if (pod.HasParseError() || !pod.IsObject()) std::exit(1);
  std::vector<std::string> pages;
  for (int first = 0; first < kPods; first += kPageSize) {
    rapidjson::Document page(rapidjson::kObjectType);
    auto& allocator = page.GetAllocator();
    page.AddMember("kind", "PodList", allocator);
    page.AddMember("apiVersion", "v1", allocator);
    rapidjson::Value items(rapidjson::kArrayType);
    for (int i = first; i < first + kPageSize; ++i) {
      rapidjson::Value item(pod, allocator);
      auto& metadata = item["metadata"];
      const std::string ns = "team-" + std::to_string(i % kNamespaces);
      const std::string name = "pod-" + std::to_string(i);
      metadata.RemoveMember("namespace");
      metadata.RemoveMember("name");
      metadata.AddMember("namespace", rapidjson::Value(ns.c_str(), allocator), allocator);
      metadata.AddMember("name", rapidjson::Value(name.c_str(), allocator), allocator);
      if (i % 10 == 0) {
        rapidjson::Value context(rapidjson::kObjectType);
        context.AddMember("privileged", true, allocator);
        auto& container = item["spec"]["containers"][0];
        container.RemoveMember("securityContext");
        container.AddMember("securityContext", context, allocator);
      }
      items.PushBack(item, allocator);
    }
    page.AddMember("items", items, allocator);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    page.Accept(writer);
    pages.emplace_back(buffer.GetString(), buffer.GetSize());
  }
  return pages;
}

void BM_Audit50kPods(benchmark::State& state) {
  const std::vector<std::string> pages = Pages();
  server::PolicyLoadResult loaded =
      server::LoadPolicyDirectory(std::string(PALISADE_BENCH_DIR) + "/../deploy/policies");
  if (!loaded.ok()) std::exit(1);
  std::int64_t failed = 0;
  for (auto _ : state) {
    std::map<std::string, policy::NamespaceReport> reports;
    std::map<std::string, std::shared_ptr<const policy::EffectivePolicy>> effective;
    for (const std::string& text : pages) {
      rapidjson::Document page;
      page.Parse(text.c_str(), text.size());
      for (const rapidjson::Value& item : page["items"].GetArray()) {
        const std::string ns = item["metadata"]["namespace"].GetString();
        auto& policy = effective[ns];
        if (!policy) policy = loaded.set->ForNamespace(ns);
        const policy::AuditedObject audited =
            policy::AuditObject(item, policy::ObjectType::kPod, *policy, {});
        auto report = reports.try_emplace(ns, ns).first;
        report->second.Add(audited);
      }
    }
    std::size_t bytes = 0;
    failed = 0;
    for (const auto& [ns, report] : reports) {
      failed += report.resources()[policy::AuditOutcome::kFail];
      const rapidjson::Document object = report.ToReport({});
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      object.Accept(writer);
      bytes += buffer.GetSize();
    }
    benchmark::DoNotOptimize(bytes);
  }
  if (failed != kPods / 10) {
    std::fprintf(stderr, "expected %d failing pods, got %lld\n", kPods / 10,
                 static_cast<long long>(failed));
    std::exit(1);
  }
  state.counters["pods"] = kPods;
  state.counters["pods_per_cpu_second"] =
      benchmark::Counter(static_cast<double>(kPods) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Audit50kPods)->Unit(benchmark::kSecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
