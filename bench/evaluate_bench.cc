// PSS evaluation of the shared realistic pod at restricted:latest: evaluation alone, and parse
// (RapidJSON + ReadPod) plus evaluation. Targets: <= 2 us and <= 15 us median.

#include <benchmark/benchmark.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "policy/evaluator.h"
#include "policy/pod.h"

namespace {

using palisade::policy::EvaluatePod;
using palisade::policy::Level;
using palisade::policy::LevelVersion;
using palisade::policy::Version;

const std::string& RealisticPodJson() {
  static const std::string text = [] {
    std::ifstream in(std::string(PALISADE_SHARED_DIR) + "/testdata/pod_realistic.json");
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (buffer.str().empty()) {
      std::fprintf(stderr, "cannot read %s/testdata/pod_realistic.json\n", PALISADE_SHARED_DIR);
      std::exit(1);
    }
    return buffer.str();
  }();
  return text;
}

constexpr LevelVersion kRestrictedLatest{Level::kRestricted, Version::Latest(), true};

void BM_EvaluateRestrictedLatest(benchmark::State& state) {
  rapidjson::Document doc;
  doc.Parse(RealisticPodJson().c_str());
  const auto read = palisade::policy::ReadPod(doc);
  for (auto _ : state) {
    auto evaluation = EvaluatePod(read, kRestrictedLatest);
    benchmark::DoNotOptimize(evaluation);
  }
}
BENCHMARK(BM_EvaluateRestrictedLatest);

void BM_ParseReadEvaluateRestrictedLatest(benchmark::State& state) {
  const std::string& text = RealisticPodJson();
  for (auto _ : state) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    const auto read = palisade::policy::ReadPod(doc);
    auto evaluation = EvaluatePod(read, kRestrictedLatest);
    benchmark::DoNotOptimize(evaluation);
  }
}
BENCHMARK(BM_ParseReadEvaluateRestrictedLatest);

// A pod that passes: the pass path builds no text.
void BM_EvaluatePassingPod(benchmark::State& state) {
  rapidjson::Document doc;
  doc.Parse(RealisticPodJson().c_str());
  auto read = palisade::policy::ReadPod(doc);
  read.pod.security_context.run_as_non_root = true;
  read.pod.security_context.seccomp_profile = palisade::policy::ProfileRef{"RuntimeDefault", {}};
  for (auto& c : read.pod.containers) {
    c.security_context.allow_privilege_escalation = false;
    c.security_context.capabilities_present = true;
    c.security_context.capabilities_drop = std::vector<std::string_view>{"ALL"};
  }
  for (auto _ : state) {
    auto evaluation = EvaluatePod(read, kRestrictedLatest);
    if (!evaluation.allowed) state.SkipWithError("the hardened pod should pass");
    benchmark::DoNotOptimize(evaluation);
  }
}
BENCHMARK(BM_EvaluatePassingPod);

}  // namespace

BENCHMARK_MAIN();
