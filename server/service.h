#pragma once

// `palisade serve` as an object: TLS material, the policy watcher, metrics, both listeners, and
// the graceful shutdown sequence. The CLI and the server tests run the same thing.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "policy/admission.h"
#include "server/cluster_sources.h"
#include "server/https_server.h"
#include "server/metrics.h"
#include "server/policy_store.h"
#include "server/policy_watcher.h"
#include "server/routes.h"
#include "server/tls.h"

namespace palisade::server {

class Logger;

struct ServeOptions {
  std::string policy_dir;
  TlsFiles tls;
  ServerOptions server;
  policy::AdmissionConfig admission;
  PolicyWatcherOptions watcher;
  // Set when connected to the Kubernetes API (policy ConfigMaps, namespace labels).
  std::optional<ClusterSourceOptions> cluster;
  // On SIGTERM readiness fails first; the listener keeps accepting this long so endpoints can
  // drop the pod before connections are refused.
  std::chrono::milliseconds shutdown_delay{2'000};
  std::chrono::milliseconds shutdown_grace{25'000};  // in-flight requests get this long in all
};

class AdmissionService {
 public:
  AdmissionService(ServeOptions options, Logger& logger);
  ~AdmissionService();

  // Loads TLS material and policies (missing ones leave the server unready, not stopped), binds
  // and starts serving. False with *error when it cannot listen or the TLS settings are refused.
  bool Start(std::string* error);

  // Readiness fails, then accepting stops, in-flight requests finish and connections close, within
  // the grace period. Blocks until done. True when every connection closed in time.
  bool Shutdown();

  std::uint16_t port() const { return server_.port(); }
  std::uint16_t metrics_port() const { return server_.metrics_port(); }
  bool Ready(std::string* reason) const { return readiness_.Check(reason); }
  Metrics& metrics() { return metrics_; }
  PolicyWatcher& watcher() { return watcher_; }
  TlsCredentials& tls() { return tls_; }
  const PolicyStore& policies() const { return policies_; }
  ClusterSources* cluster() { return cluster_.get(); }

 private:
  ServeOptions Prepare(ServeOptions options);
  // /validate's judgement of one labelled ConfigMap's policy files: lint's errors, and the names
  // and namespace patterns that clash with policies loaded from elsewhere (another ConfigMap, the
  // policy directory), which would keep the ConfigMap from landing.
  std::vector<policy::PolicyError> LintConfigMap(
      const std::vector<policy::PolicyFileText>& files) const;

  ServeOptions options_;
  Logger& logger_;
  Metrics metrics_;
  PolicyStore policies_;
  TlsCredentials tls_;
  PolicyWatcher watcher_;
  std::unique_ptr<ClusterSources> cluster_;
  Readiness readiness_;
  AdmissionRouter admission_router_;
  ProbeRouter probe_router_;
  HttpsServer server_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace palisade::server
