// The webhook's hot path: decode + judge + encode through Review(), on the shared realistic
// review (a 6.5 KB pod CREATE in "payments"; `/0`) and on a real-world 50 KB pod with long env
// lists, a third container, kubectl's last-applied annotation and per-field managedFields
// (bench/data/review_large.json, written by bench/data/make_large_review.py; `/1`).
// Targets: Review(kValidate) <= 5 us for the first, <= 20 us for the second.
// The namespace policy is the load test's: enforce baseline, warn restricted, defaults.
//   build/bench/admission_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench_files.h"
#include "policy/admission.h"
#include "policy/review.h"
#include "server/policy_loader.h"

namespace {

using palisade::policy::AdmissionConfig;
using palisade::policy::Endpoint;
using palisade::policy::PolicySet;

const std::string& RealisticReview() {
  static const std::string text = palisade::bench::ReadFileOrExit(
      std::string(PALISADE_SHARED_DIR) + "/testdata/review_realistic.json");
  return text;
}

const std::string& LargeReview() {
  static const std::string text =
      palisade::bench::ReadFileOrExit(std::string(PALISADE_BENCH_DIR) + "/data/review_large.json");
  return text;
}

// The benchmark's argument picks the review: 0 the realistic one, 1 the 50 KB one.
const std::string& ReviewOf(const benchmark::State& state) {
  return state.range(0) == 0 ? RealisticReview() : LargeReview();
}

const PolicySet& LoadTestPolicies() {
  static const auto set = [] {
    std::vector<palisade::policy::PolicyError> errors;
    // The load benchmark's policy (bench/load/payments.yaml).
    const std::string text =
        palisade::bench::ReadFileOrExit(std::string(PALISADE_BENCH_DIR) + "/load/payments.yaml");
    auto policies = palisade::server::ParsePolicyText(text, "payments.yaml", &errors);
    auto built = PolicySet::Build(std::move(policies), &errors);
    if (built == nullptr || !errors.empty()) {
      std::fprintf(stderr, "load-test policy: %s\n",
                   errors.empty() ? "?" : errors.front().ToString().c_str());
      std::exit(1);
    }
    return built;
  }();
  return *set;
}

// Fails the benchmark (rather than timing an error path) unless the review is judged.
bool Judged(benchmark::State& state, Endpoint endpoint) {
  const auto result = Review(endpoint, ReviewOf(state), LoadTestPolicies(), AdmissionConfig{});
  if (result.http_status != 200 || result.policy != "payments") {
    state.SkipWithError(("not judged: " + result.body).c_str());
    return false;
  }
  return true;
}

void BM_ReviewValidate(benchmark::State& state) {
  if (!Judged(state, Endpoint::kValidate)) return;
  const std::string& body = ReviewOf(state);
  const PolicySet& policies = LoadTestPolicies();
  for (auto _ : state) {
    auto result = Review(Endpoint::kValidate, body, policies, AdmissionConfig{});
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ReviewValidate)->Arg(0)->Arg(1);

void BM_ReviewMutate(benchmark::State& state) {
  if (!Judged(state, Endpoint::kMutate)) return;
  const std::string& body = ReviewOf(state);
  const PolicySet& policies = LoadTestPolicies();
  for (auto _ : state) {
    auto result = Review(Endpoint::kMutate, body, policies, AdmissionConfig{});
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ReviewMutate)->Arg(0)->Arg(1);

// The decode step alone, to see what the rest costs.
void BM_DecodeReview(benchmark::State& state) {
  const std::string& body = ReviewOf(state);
  for (auto _ : state) {
    palisade::policy::AdmissionRequest request;
    std::string error;
    const bool ok = request.Parse(body, &error);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DecodeReview)->Arg(0)->Arg(1);

// A hostile body: 100,000 '[' must be turned away quickly (and without deep recursion).
void BM_RejectDeepNesting(benchmark::State& state) {
  const std::string body(100000, '[');
  for (auto _ : state) {
    auto result = Review(Endpoint::kValidate, body, LoadTestPolicies(), AdmissionConfig{});
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_RejectDeepNesting);

}  // namespace

BENCHMARK_MAIN();
