#pragma once

// A stop signal that blocking calls of the client and the reflector's waits listen to: Cancel()
// wakes a back-off wait at once and aborts a request or watch stream in flight.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace palisade::kube {

class Cancellation {
 public:
  void Cancel() {
    std::map<std::uint64_t, std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cancelled_) return;
      cancelled_ = true;
      callbacks = callbacks_;
    }
    changed_.notify_all();
    std::lock_guard<std::mutex> running(callback_mutex_);
    for (auto& [id, callback] : callbacks) callback();
  }

  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cancelled_;
  }

  // Waits `duration` or until cancelled; true when cancelled.
  bool WaitFor(std::chrono::nanoseconds duration) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, duration, [this] { return cancelled_; });
  }

  // Runs `callback` on Cancel() (at once when already cancelled). After Remove(id) returns, the
  // callback is not running and will not run.
  std::uint64_t OnCancel(std::function<void()> callback) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t id = ++next_id_;
    if (cancelled_) {
      lock.unlock();
      callback();
      return id;
    }
    callbacks_.emplace(id, std::move(callback));
    return id;
  }
  void Remove(std::uint64_t id) {
    std::lock_guard<std::mutex> running(callback_mutex_);
    std::lock_guard<std::mutex> lock(mutex_);
    callbacks_.erase(id);
  }

 private:
  mutable std::mutex mutex_;
  std::mutex callback_mutex_;  // held while callbacks run, so Remove waits for them
  std::condition_variable changed_;
  bool cancelled_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::function<void()>> callbacks_;
};

}  // namespace palisade::kube
