#include "kube/backoff.h"

#include <algorithm>
#include <cmath>

namespace palisade::kube {

Backoff::Backoff(BackoffOptions options, std::uint64_t seed) : options_(options), random_(seed) {}

std::chrono::milliseconds Backoff::Next(std::chrono::steady_clock::time_point now) {
  if (last_failure_ && now - *last_failure_ >= options_.reset_after) failures_ = 0;
  last_failure_ = now;
  const double initial = static_cast<double>(options_.initial.count());
  const double cap = static_cast<double>(options_.max.count());
  // Stop growing the exponent once past the cap (no overflow however long the outage).
  const double base = std::min(cap, initial * std::pow(options_.factor, failures_));
  if (base < cap) ++failures_;
  const double cut = options_.jitter * std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(base * (1.0 - cut))));
}

void Backoff::Reset() {
  failures_ = 0;
  last_failure_.reset();
}

}  // namespace palisade::kube
