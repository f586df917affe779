#!/usr/bin/env bash
# One entry point for people and CI: installs the Debian packages, configures, builds, tests, serves.
#   scripts/dev.sh test [--sanitize]   build everything and run every test (ctest)
#   scripts/dev.sh serve [ARGS...]     build and run `palisade serve --dev` (or the given args)
#   scripts/dev.sh build [--sanitize]  configure and build only
#   scripts/dev.sh deps                install the Debian packages only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-$(nproc)}"

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev libssl-dev rapidjson-dev libyaml-cpp-dev prometheus-cpp-dev libcli11-dev
  libmimalloc-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3 python3-jsonpatch python3-jsonschema python3-yaml openssl curl
  golang-go wrk nginx-light strace libseccomp-dev apparmor
)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

build() {
  local dir="$ROOT/build" extra=()
  if [ "${1:-}" = "--sanitize" ]; then
    dir="$ROOT/build-asan"
    extra=(-DPALISADE_SANITIZE=ON -DPALISADE_BENCH=OFF)
  fi
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" >&2
  cmake --build "$dir" -j "$JOBS" >&2
  BUILD_DIR="$dir"
}

cmd="${1:-test}"
shift || true
case "$cmd" in
  deps) deps ;;
  build) deps; build "$@" ;;
  test)
    deps
    build "$@"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" --timeout 600
    ;;
  serve)
    deps
    build
    if [ $# -eq 0 ]; then set -- serve --dev; fi
    exec "$BUILD_DIR/cli/palisade" "$@"
    ;;
  *) echo "usage: scripts/dev.sh test|serve|build|deps" >&2; exit 2 ;;
esac
