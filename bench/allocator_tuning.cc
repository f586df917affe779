// Linked into the benchmarks that use mimalloc: the allocator tuned as the palisade binary tunes
// it, before the first benchmark runs.

#include "cli/allocator.h"

namespace {

[[maybe_unused]] const bool kTuned = [] {
  palisade::cli::TuneAllocator();
  return true;
}();

}  // namespace
