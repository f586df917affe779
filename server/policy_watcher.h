#pragma once

// Keeps the served policy set in step with the policy directory. inotify on the directory (a
// kubelet ConfigMap mount swaps its `..data` symlink atomically, which shows up as IN_MOVED_TO),
// a short debounce so one update is one reload, and a periodic re-scan as a safety net. A bad
// reload logs every error and keeps the last good set.
//
// It is also where the sources meet: policies from ConfigMaps (SetConfigMapSource, fed by the
// Namespace-scoped ConfigMap watch) are assembled with the directory's into one set, and namespace
// labels (SetNamespaceLabels) are applied to whatever set is current before it is served.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "policy/namespace_policy.h"
#include "server/policy_loader.h"

namespace palisade::server {

class Logger;
class Metrics;
class PolicyStore;

struct PolicyWatcherOptions {
  std::chrono::milliseconds debounce{250};
  std::chrono::milliseconds rescan_interval{30'000};
  // Policies also come from ConfigMaps: nothing is served until the first SetConfigMapSource.
  bool configmap_source = false;
};

class PolicyWatcher {
 public:
  PolicyWatcher(std::string directory, PolicyStore& store, Metrics& metrics, Logger& logger,
                PolicyWatcherOptions options = {});
  ~PolicyWatcher();
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // `directory` may be empty when policies come only from ConfigMaps.
  //
  // Loads the directory now (when its content changed since the last load). True when a valid set
  // is being served afterwards.
  bool LoadNow();

  // Replaces the ConfigMap policy files (named `<configmap>/<key>`) and loads at once. Returns the
  // load's problems (empty when nothing changed): what the caller reports on the ConfigMaps.
  std::vector<policy::PolicyError> SetConfigMapSource(PolicySource source);

  // Labels of every namespace, applied to the current set and to every set loaded after.
  void SetNamespaceLabels(std::shared_ptr<const policy::NamespaceLabelTable> labels);

  // Starts / stops the watching thread. Start fails (with *error) when the thread's wake-up
  // descriptor cannot be made: without it Stop() could never end the thread.
  bool Start(std::string* error);
  void Stop();

  // How many loads have been attempted (a load is attempted when the content changed). Tests wait
  // on it instead of sleeping.
  std::uint64_t loads() const;
  // Blocks until loads() > `seen` or the deadline passes; returns loads().
  std::uint64_t WaitForLoad(std::uint64_t seen, std::chrono::steady_clock::time_point deadline);

 private:
  void Run();
  // With load_mutex_ held; the load's result when one was attempted.
  std::optional<PolicyLoadResult> LoadLocked();
  void PublishLocked();

  std::string directory_;
  PolicyStore& store_;
  Metrics& metrics_;
  Logger& logger_;
  PolicyWatcherOptions options_;

  std::mutex load_mutex_;  // serialises loads (the watcher thread and LoadNow); not on requests
  std::string last_fingerprint_;
  bool loaded_once_ = false;
  std::optional<PolicySource> configmaps_;         // set once the first ConfigMap list arrived
  std::shared_ptr<const policy::PolicySet> base_;  // the assembled set, before labels
  std::shared_ptr<const policy::NamespaceLabelTable> labels_;

  mutable std::mutex count_mutex_;
  std::condition_variable count_changed_;
  std::uint64_t loads_ = 0;

  int stop_fd_ = -1;  // eventfd that wakes the thread to stop
  int inotify_fd_ = -1;
  int watch_ = -1;  // owned by the thread once it runs
  std::thread thread_;
};

}  // namespace palisade::server
