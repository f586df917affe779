#pragma once

// Routers: a request in, a response out. The admission router validates the HTTP envelope and
// calls policy::Review; the probe router serves /metrics, /healthz and /readyz.

#include <atomic>
#include <functional>
#include <string>

#include "policy/admission.h"
#include "server/http_message.h"

namespace palisade::server {

class Logger;
class Metrics;
class PolicyStore;
class TlsCredentials;

// Told the size of each admission request's body before it is decoded: the binary tunes its
// allocator by it (cli/allocator.h). Unset in tests and benchmarks.
void SetRequestSizeHook(void (*hook)(std::size_t body_bytes));

class AdmissionRouter {
 public:
  AdmissionRouter(const PolicyStore& policies, policy::AdmissionConfig config, Metrics& metrics,
                  Logger& logger);
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  const PolicyStore& policies_;
  policy::AdmissionConfig config_;
  Metrics& metrics_;
  Logger& logger_;
};

// Ready when TLS material and a valid policy set are loaded and the server is not shutting down.
class Readiness {
 public:
  Readiness(const TlsCredentials& tls, const PolicyStore& policies)
      : tls_(tls), policies_(policies) {}

  // A further condition (the cluster sources' first lists); set before serving starts.
  void SetSourcesCheck(std::function<bool(std::string*)> check) { sources_ = std::move(check); }
  void BeginShutdown() { shutting_down_.store(true); }
  bool shutting_down() const { return shutting_down_.load(); }
  // True when ready; otherwise *reason says what is missing.
  bool Check(std::string* reason) const;

 private:
  const TlsCredentials& tls_;
  const PolicyStore& policies_;
  std::atomic<bool> shutting_down_{false};
  std::function<bool(std::string*)> sources_;
};

class ProbeRouter {
 public:
  ProbeRouter(const Readiness& readiness, const Metrics& metrics)
      : readiness_(readiness), metrics_(metrics) {}
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  const Readiness& readiness_;
  const Metrics& metrics_;
};

}  // namespace palisade::server
