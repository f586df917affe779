#pragma once

// Load for the fault tests: a pool of HTTPS clients sending reviews continuously from their own
// threads while a test breaks something, recording every outcome.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/https_client.h"

namespace palisade::faults {

namespace net = test::net;
namespace beast = test::beast;
using test::HttpsClient;
using test::PlainGet;
using test::Reply;
using test::tcp;
using Clock = std::chrono::steady_clock;

// One request's outcome as a load client saw it.
struct Outcome {
  Clock::time_point started;
  Clock::time_point connecting;  // when this request's connection began to connect
  std::string serial;            // the serving certificate's serial on that connection
  bool allowed = false;
  bool keep_alive = false;
};

struct LoadOptions {
  std::uint16_t port = 0;
  std::string ca_pem;
  int connections = 4;
  std::string target = "/validate?timeout=10s";
  // Makes the body for request number `n` with uid `uid`.
  std::function<std::string(const std::string& uid)> review;
  int reconnect_every = 0;    // >0: a fresh connection (and handshake) every N requests
  bool honour_close = false;  // on `Connection: close` stop this connection for good
};

// Connections sending reviews back to back, each on its own thread, until Stop().
class LoadClients {
 public:
  // Validates one answer: "" when it is a 200 AdmissionReview for `uid`, else what is wrong.
  // Sets *allowed.
  using Check = std::function<std::string(const Reply&, const std::string& uid, bool* allowed)>;

  LoadClients(LoadOptions options, Check check)
      : options_(std::move(options)), check_(std::move(check)) {
    outcomes_.resize(static_cast<std::size_t>(options_.connections));
    for (int i = 0; i < options_.connections; ++i) {
      threads_.emplace_back([this, i] { Run(i); });
    }
  }
  ~LoadClients() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  std::uint64_t completed() const { return completed_.load(); }
  std::uint64_t failed() const { return failed_.load(); }
  int finished_connections() const { return finished_.load(); }

  // Waits (bounded) until at least `count` requests have completed; false on timeout.
  bool WaitForCompleted(std::uint64_t count,
                        std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(progress_mutex_);
    return progress_.wait_for(lock, timeout, [&] { return completed_.load() >= count; });
  }
  // Waits (bounded) until every connection has stopped on its own (honour_close).
  bool WaitForAllFinished(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(progress_mutex_);
    return progress_.wait_for(lock, timeout,
                              [&] { return finished_.load() == options_.connections; });
  }

  // After Stop(): every outcome per connection, and the first failures.
  const std::vector<std::vector<Outcome>>& outcomes() const { return outcomes_; }
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> lock(failures_mutex_);
    return failures_;
  }

 private:
  void Fail(std::string what) {
    failed_.fetch_add(1);
    std::lock_guard<std::mutex> lock(failures_mutex_);
    if (failures_.size() < 20) failures_.push_back(std::move(what));
  }

  void Progress() {
    completed_.fetch_add(1);
    std::lock_guard<std::mutex> lock(progress_mutex_);
    progress_.notify_all();
  }

  void Run(int index) {
    std::unique_ptr<HttpsClient> connection;
    Clock::time_point connecting;
    std::string serial;
    int on_connection = 0;
    for (std::uint64_t n = 0; !stop_.load(); ++n) {
      if (connection == nullptr ||
          (options_.reconnect_every > 0 && on_connection >= options_.reconnect_every)) {
        connecting = Clock::now();
        connection = std::make_unique<HttpsClient>(options_.port, options_.ca_pem);
        if (connection->error()) {
          Fail("connection " + std::to_string(index) + ": " + connection->error().message());
          connection.reset();
          continue;
        }
        serial = connection->PeerSerial();
        on_connection = 0;
      }
      const std::string uid = "c" + std::to_string(index) + "-" + std::to_string(n);
      Outcome outcome;
      outcome.started = Clock::now();
      outcome.connecting = connecting;
      outcome.serial = serial;
      const Reply reply = connection->Post(options_.target, options_.review(uid));
      ++on_connection;
      const std::string problem = check_(reply, uid, &outcome.allowed);
      if (!problem.empty()) {
        Fail("connection " + std::to_string(index) + " request " + uid + ": " + problem);
        connection.reset();
        Progress();
        continue;
      }
      outcome.keep_alive = reply.keep_alive;
      outcomes_[static_cast<std::size_t>(index)].push_back(std::move(outcome));
      if (!reply.keep_alive) {
        connection.reset();
        if (options_.honour_close) break;
      }
      Progress();
    }
    finished_.fetch_add(1);
    Progress();
  }

  LoadOptions options_;
  Check check_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<int> finished_{0};
  std::mutex progress_mutex_;
  std::condition_variable progress_;
  mutable std::mutex failures_mutex_;
  std::vector<std::string> failures_;
  std::vector<std::vector<Outcome>> outcomes_;  // one vector per connection, owned by its thread
  std::vector<std::thread> threads_;
};

}  // namespace palisade::faults
