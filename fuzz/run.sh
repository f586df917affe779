#!/usr/bin/env bash
# Runs one libFuzzer target for a while from its seed corpus, with ASan+UBSan.
#   fuzz/run.sh TARGET [SECONDS]      e.g. fuzz/run.sh review_fuzzer 60
# The fuzz build (build-fuzz, clang) must exist: scripts/fuzz-ci.sh makes it, or
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPALISADE_FUZZ=ON \
#     -DPALISADE_TESTS=OFF -DPALISADE_BENCH=OFF && cmake --build build-fuzz
# New inputs go to build-fuzz/corpus/TARGET (the seeds in fuzz/corpus/TARGET are only read); a
# crash is written to build-fuzz/artifacts/TARGET/. For a long run on every core:
#   fuzz/run.sh review_fuzzer 3600 -jobs=$(nproc) -workers=$(nproc)
# Extra arguments go to libFuzzer. Reproduce a crash: build-fuzz/fuzz/TARGET <crash-file>.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
build=${FUZZ_BUILD_DIR:-build-fuzz}
binary="$build/fuzz/$target"
[[ -x "$binary" ]] || { echo "no $binary: build the fuzz targets first" >&2; exit 2; }
[[ -d "fuzz/corpus/$target" ]] || { echo "no seed corpus fuzz/corpus/$target" >&2; exit 2; }
mkdir -p "$build/corpus/$target" "$build/artifacts/$target"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:suppressions=$PWD/fuzz/ubsan.supp"
exec "$binary" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$build/artifacts/$target/" \
  "$@" "$build/corpus/$target" "fuzz/corpus/$target"
