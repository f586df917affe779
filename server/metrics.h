#pragma once

// Palisade's Prometheus metrics (prometheus-cpp core registry, text exposition served by our own
// listener). Labels are low-cardinality: no namespace or pod names.

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace palisade::policy {
struct AdmissionResult;
class PolicySet;
}  // namespace palisade::policy

namespace palisade::server {

// (policy, exception) -> when it stops applying, for Metrics::SetExceptionExpiry.
std::map<std::pair<std::string, std::string>, double> ExceptionExpiry(
    const policy::PolicySet& policies);

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One admission request: requests_total, the latency histogram, violations and defaults.
  void RecordAdmission(std::string_view endpoint, const policy::AdmissionResult& result,
                       std::chrono::nanoseconds latency);
  void RecordHttpError(int status_code);
  void RecordPolicyReload(bool success);
  // Replaces every palisade_policy_info series with the given name -> revision pairs.
  void SetPolicyInfo(const std::map<std::string, std::string>& revisions);
  void SetPolicyDocumentsInvalid(std::size_t count);
  void SetPolicySourceEmpty(bool empty);
  // Replaces every palisade_exception_expiry_timestamp_seconds series: (policy, exception) -> the
  // Unix time it stops applying (the end of its expires day, UTC; +Inf for "never").
  void SetExceptionExpiry(const std::map<std::pair<std::string, std::string>, double>& expiry);
  void RecordTlsReload(bool success);
  void SetCertificateExpiry(double unix_seconds);
  // A watched resource ("configmaps", "namespaces"): palisade_kube_watch_healthy and
  // palisade_kube_last_sync_timestamp_seconds.
  void SetKubeWatchHealthy(const std::string& resource, bool healthy);
  void SetKubeLastSync(const std::string& resource, double unix_seconds);
  // An Event about an invalid policy ConfigMap: "created", "exists" or "error".
  void RecordPolicyEvent(std::string_view result);

  // The text exposition format (what GET /metrics returns).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* request_duration_;
  prometheus::Family<prometheus::Counter>* pss_violations_;
  prometheus::Family<prometheus::Counter>* defaults_applied_;
  prometheus::Family<prometheus::Counter>* policy_reloads_;
  prometheus::Gauge* policy_documents_invalid_;
  prometheus::Gauge* policy_source_empty_;
  prometheus::Family<prometheus::Counter>* tls_reloads_;
  prometheus::Family<prometheus::Gauge>* certificate_expiry_;
  prometheus::Family<prometheus::Counter>* http_errors_;
  prometheus::Family<prometheus::Gauge>* kube_watch_healthy_;
  prometheus::Family<prometheus::Gauge>* kube_last_sync_;
  prometheus::Family<prometheus::Counter>* policy_events_;
  // palisade_policy_info, (policy, revision) sorted, rendered at scrape time: one series per
  // policy, and a registered family's series cost about 400 bytes each (1k policies: 0.4 MiB).
  mutable std::mutex policy_info_mutex_;
  std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> policy_info_;
  prometheus::Family<prometheus::Gauge>* exception_expiry_;
  // Guarded by the caller (one watcher).
  std::map<std::pair<std::string, std::string>, double> exception_expiry_series_;

  // Family::Add builds a metric object and a label map on every call, even for a series that
  // exists (about 6 us per request); the request path looks its series up here instead.
  prometheus::Counter& CachedCounter(prometheus::Family<prometheus::Counter>* family,
                                     std::initializer_list<std::string_view> values,
                                     std::initializer_list<std::string_view> names);
  prometheus::Histogram& Duration(std::string_view endpoint);
  // Looked up by string_view: a request builds its keys on the stack, not on the heap.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  template <typename T>
  using SeriesMap = std::unordered_map<std::string, T*, KeyHash, std::equal_to<>>;
  std::mutex series_mutex_;
  SeriesMap<prometheus::Counter> counter_series_;
  SeriesMap<prometheus::Histogram> duration_series_;
};

}  // namespace palisade::server
