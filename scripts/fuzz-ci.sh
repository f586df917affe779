#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for FUZZ_SECONDS (default 60)
# from its seed corpus. Prints the executions each reached; exits non-zero if any target crashes,
# leaks, hits UB or breaks an invariant.
#   scripts/fuzz-ci.sh                      every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz-ci.sh review_fuzzer
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-2}

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DPALISADE_FUZZ=ON -DPALISADE_TESTS=OFF \
  -DPALISADE_BENCH=OFF >/dev/null || exit 1
mapfile -t all_targets < <(cd fuzz && ls ./*_fuzzer.cc | sed 's|^\./||; s|\.cc$||')
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
cmake --build "$build" -j"$jobs" --target "${targets[@]}" || exit 1

status=0
for target in "${targets[@]}"; do
  log="$build/$target.log"
  echo "=== $target: ${seconds}s ==="
  if fuzz/run.sh "$target" "$seconds" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "$target: $result, ${executions:-?} executions, ${coverage:-cov: ?}"
  if [[ $result == FAILED ]]; then
    grep -E 'ERROR|INVARIANT|runtime error|SUMMARY|Test unit written' "$log" | head -20
    echo "(full log: $log)"
  fi
done
exit $status
