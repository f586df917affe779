#pragma once

// What `serve` reads from the Kubernetes API: policy ConfigMaps of one namespace (labelled
// palisade.dev/policy=true) and the labels of every Namespace (metadata only), each kept by a
// kube::Reflector. ConfigMap changes reach the PolicyWatcher at once (no kubelet re-sync); a bad
// revision that lands anyway is told on the ConfigMap as one Warning Event, whose name is derived
// from the ConfigMap's uid, resourceVersion and errors so that every replica makes the same one
// and all but the first get 409 AlreadyExists.

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/reflector.h"
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
// The labels of every Namespace in a snapshot.
std::shared_ptr<const policy::NamespaceLabels> NamespaceLabelsOf(const kube::Snapshot& snapshot);

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
  void OnNamespaces(const std::shared_ptr<const kube::Snapshot>& snapshot);
  void OnHealth(const std::string& resource, const kube::ReflectorHealth& health);
  void ReportInvalid(const kube::Snapshot& snapshot,
                     const std::vector<policy::PolicyError>& errors);

  ClusterSourceOptions options_;
  PolicyWatcher& watcher_;
  Metrics& metrics_;
  Logger& logger_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<kube::Reflector> configmaps_;
  std::unique_ptr<kube::Reflector> namespaces_;
  std::mutex told_mutex_;
  std::set<std::string> told_;  // Event names created (or found existing) by this process
};

}  // namespace palisade::server
