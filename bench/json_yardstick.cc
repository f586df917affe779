// A yardstick for the review's decode: the same two reviews as admission_bench (`/0` the shared
// 6.5 KB one, `/1` the 50 KB one) parsed by simdjson's DOM parser, which checks syntax, escapes
// and UTF-8 but not duplicate keys, beside Palisade's judged decode, in one run. Built only where
// Debian's libsimdjson-dev is installed (it is not a dependency of the product).
//   build/bench/json_yardstick --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "bench/bench_files.h"
#include "policy/review.h"

namespace {

const std::string& ReviewOf(const benchmark::State& state) {
  static const std::string realistic = palisade::bench::ReadFileOrExit(
      std::string(PALISADE_SHARED_DIR) + "/testdata/review_realistic.json");
  static const std::string large =
      palisade::bench::ReadFileOrExit(std::string(PALISADE_BENCH_DIR) + "/data/review_large.json");
  return state.range(0) == 0 ? realistic : large;
}

// One parser kept across iterations, as a server would keep one per thread.
void BM_SimdjsonDom(benchmark::State& state) {
  const simdjson::padded_string text(ReviewOf(state));
  simdjson::dom::parser parser;
  for (auto _ : state) {
    auto document = parser.parse(text);
    if (document.error() != simdjson::SUCCESS) {
      state.SkipWithError(simdjson::error_message(document.error()));
      return;
    }
    benchmark::DoNotOptimize(document);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetLabel(simdjson::get_active_implementation()->name());
}
BENCHMARK(BM_SimdjsonDom)->Arg(0)->Arg(1);

// admission_bench's BM_DecodeReview: copy the body, check all of it, build what is judged.
void BM_PalisadeDecode(benchmark::State& state) {
  const std::string& body = ReviewOf(state);
  for (auto _ : state) {
    palisade::policy::AdmissionRequest request;
    std::string error;
    if (!request.Parse(body, &error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    benchmark::DoNotOptimize(request);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_PalisadeDecode)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
