#pragma once

// Exponential back-off with jitter, capped, that starts again from the beginning once things have
// gone well for a while (client-go's reflector: 800 ms doubling to 30 s, reset after 2 minutes).
// Jitter spreads the retries of many replicas after an API server outage.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace palisade::kube {

struct BackoffOptions {
  std::chrono::milliseconds initial{800};
  std::chrono::milliseconds max{30'000};
  double factor = 2.0;
  double jitter = 0.5;  // each delay is shortened by a random fraction in [0, jitter)
  std::chrono::milliseconds reset_after{120'000};  // quiet this long: the next delay is `initial`
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options, std::uint64_t seed = std::random_device{}());

  // The delay before the next try after a failure at `now`: initial * factor^n capped at max,
  // times (1 - jitter * U[0,1)). n counts failures since the last reset.
  std::chrono::milliseconds Next(std::chrono::steady_clock::time_point now);
  void Reset();

 private:
  BackoffOptions options_;
  std::mt19937_64 random_;
  int failures_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_failure_;
};

}  // namespace palisade::kube
