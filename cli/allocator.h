#pragma once

// How the palisade binary tunes mimalloc, shared with the benchmarks that link it, so that they
// time the allocator as it ships.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#ifdef PALISADE_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace palisade::cli {

// mimalloc keeps the pages of freed memory committed for 25 ms by default, and decommits them only
// when the thread that freed them allocates or frees again: what a policy load or a namespace list
// freed on a thread that then waits stays resident. Decommitting at once measured 4.5 MiB less RSS
// under load with 10k namespaces and 1k policies (bench/load/run.sh --scale), at no visible CPU
// cost per request of the usual size. MIMALLOC_DECOMMIT_DELAY in the environment still decides.
inline std::atomic<bool> allocator_tuned{false};  // TuneAllocator ran (and was not overridden)

inline void TuneAllocator() {
#ifdef PALISADE_WITH_MIMALLOC
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") != nullptr) return;
  mi_option_set(mi_option_decommit_delay, 0);
  allocator_tuned.store(true);
#endif
}

// A review of a megabyte or more (tens of thousands of containers) touches tens of megabytes of
// blocks; decommitted at once, each one is faulted in afresh (six times the CPU of the review in a
// virtual machine where faults are dear: README, worst cases). So for ten seconds after such a
// request, freed pages stay committed for a second: a burst of large reviews reuses them, and the
// delay is back at zero with the first request after.
constexpr std::size_t kLargeRequestBytes = std::size_t{1} << 20;
constexpr std::int64_t kLargeBurstMs = 10'000;
constexpr long kLargeBurstDecommitDelayMs = 1'000;

inline void NoteRequestSize(std::size_t body_bytes) {
#ifdef PALISADE_WITH_MIMALLOC
  if (!allocator_tuned.load(std::memory_order_relaxed)) return;
  static std::atomic<std::int64_t> widened_until{0};  // steady clock ms; 0: not widened
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  if (body_bytes >= kLargeRequestBytes) {
    widened_until.store(now_ms() + kLargeBurstMs, std::memory_order_relaxed);
    if (mi_option_get(mi_option_decommit_delay) != kLargeBurstDecommitDelayMs) {
      mi_option_set(mi_option_decommit_delay, kLargeBurstDecommitDelayMs);
    }
    return;
  }
  // The usual request: one load, no clock.
  std::int64_t until = widened_until.load(std::memory_order_relaxed);
  if (until != 0 && now_ms() >= until && widened_until.compare_exchange_strong(until, 0)) {
    mi_option_set(mi_option_decommit_delay, 0);
  }
#else
  (void)body_bytes;
#endif
}

}  // namespace palisade::cli
