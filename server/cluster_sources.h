#pragma once

// What `serve` reads from the Kubernetes API: policy ConfigMaps of one namespace (labelled
// palisade.dev/policy=true) and the labels of every Namespace (metadata only), each kept by a
// kube::Reflector. ConfigMap changes reach the PolicyWatcher at once (no kubelet re-sync); a bad
// revision that lands anyway is told on the ConfigMap as one Warning Event, whose name is derived
// from the ConfigMap's uid, resourceVersion and errors so that every replica makes the same one
// and all but the first get 409 AlreadyExists.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/reflector.h"
#include "policy/namespace_label_table.h"
#include "policy/namespace_policy.h"
#include "server/policy_loader.h"

namespace palisade::server {

class Logger;
class Metrics;
class PolicyWatcher;

struct ClusterSourceOptions {
  kube::ClusterConfig cluster;
  std::string policy_namespace;  // "" : no ConfigMap source
  bool watch_namespaces = false;
  kube::BackoffOptions backoff;  // of both reflectors
  int watch_timeout_seconds = 300;
  std::string instance;  // the Event's reportingInstance (the pod name)
  // A failed Event POST (no answer, 5xx, 429 after the client's own Retry-After waits) is tried
  // again with this back-off, at most `event_attempts` times in all.
  kube::BackoffOptions event_backoff{std::chrono::milliseconds(500), std::chrono::seconds(8)};
  int event_attempts = 6;
};

// The Event telling that a ConfigMap's policies are invalid (pure, for tests).
struct PolicyEventInput {
  std::string configmap, namespace_, uid, resource_version;
  std::vector<policy::PolicyError> errors;  // of this ConfigMap's files, not warnings
  std::string reason_annotation;            // the ConfigMap's palisade.dev/reason, if any
};
// Deterministic: the same ConfigMap revision and errors give the same name on every replica.
std::string PolicyEventName(const PolicyEventInput& input);
std::string PolicyEventJson(const PolicyEventInput& input, const std::string& instance,
                            std::chrono::system_clock::time_point now);

// The ConfigMaps of a snapshot as a policy source: `<configmap>/<key>` for every data key ending in
// .yaml, .yml or .json, in name order.
PolicySource ConfigMapPolicySource(const kube::Snapshot& snapshot);
// What the server keeps of the Namespace watch: names and labels, in a compact table published on
// each change that touches labels (a Namespace's other metadata, its uid or annotations, and the
// objects themselves are not kept: 10k namespaces cost well under a MiB).
class NamespaceLabelStore : public kube::ReflectorStore {
 public:
  using OnChange = std::function<void(std::shared_ptr<const policy::NamespaceLabelTable>)>;
  explicit NamespaceLabelStore(OnChange on_change = nullptr);
  // The last published table; never null.
  std::shared_ptr<const policy::NamespaceLabelTable> table() const { return table_.load(); }

  void StartList() override;
  void Listed(kube::ObjectMeta meta, std::shared_ptr<const rapidjson::Value> object) override;
  void EndList() override;
  bool Apply(kube::WatchEvent::Type type, kube::ObjectMeta meta,
             std::shared_ptr<const rapidjson::Value> object) override;
  void Publish(const std::string& resource_version, std::uint64_t generation) override;

 private:
  const OnChange on_change_;
  std::atomic<std::shared_ptr<const policy::NamespaceLabelTable>> table_;
  std::unique_ptr<policy::NamespaceLabelTable::Builder> listing_;  // a list in progress
  std::unique_ptr<policy::NamespaceLabelTable::Builder> listed_;   // a list to publish
  // Events since the last Publish: a namespace's new labels, or nullopt when it is gone.
  std::map<std::string, std::optional<std::map<std::string, std::string>>> changes_;
};

class ClusterSources {
 public:
  ClusterSources(ClusterSourceOptions options, PolicyWatcher& watcher, Metrics& metrics,
                 Logger& logger);
  ~ClusterSources();  // Stop()
  ClusterSources(const ClusterSources&) = delete;
  ClusterSources& operator=(const ClusterSources&) = delete;

  // Makes the client (false with *error when its TLS material is refused) and starts the watches.
  bool Start(std::string* error);
  void Stop();

  // True once every configured source has been listed (stays true through outages: the last
  // known state keeps serving); otherwise *reason names what is missing.
  bool Ready(std::string* reason) const;

 private:
  void OnConfigMaps(const std::shared_ptr<const kube::Snapshot>& snapshot);
  void OnNamespaces(std::shared_ptr<const policy::NamespaceLabelTable> labels);
  void OnHealth(const std::string& resource, const kube::ReflectorHealth& health);
  void ReportInvalid(const kube::Snapshot& snapshot,
                     const std::vector<policy::PolicyError>& errors);
  // The Event sender's thread: posts queued Events, retrying what may succeed later, so a
  // transient API error neither loses the one Event of a bad revision nor holds up the watch.
  void SendEvents();
  void SendEvent(const std::string& configmap, const std::string& name, const std::string& json);

  ClusterSourceOptions options_;
  PolicyWatcher& watcher_;
  Metrics& metrics_;
  Logger& logger_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<kube::Reflector> configmaps_;
  std::unique_ptr<kube::Reflector> namespaces_;
  // Set once Start has made the reflectors: the probe listener opens before them, and until then
  // Ready must say no (and must not read the pointers Start is writing).
  std::atomic<bool> started_{false};
  std::shared_ptr<NamespaceLabelStore> namespace_labels_;
  struct PendingEvent {
    std::string configmap, name, json;
  };
  std::mutex told_mutex_;  // guards told_ and pending_
  std::condition_variable event_queued_;
  std::set<std::string> told_;  // Event names queued, created or found existing by this process
  std::deque<PendingEvent> pending_;
  kube::Cancellation events_cancel_;
  std::thread event_sender_;
};

}  // namespace palisade::server
