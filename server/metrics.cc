#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "policy/admission.h"
#include "policy/namespace_policy.h"

namespace palisade::server {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 1};
  return buckets;
}

std::string_view OrUnknown(const std::string& value) {
  return value.empty() ? std::string_view("unknown") : std::string_view(value);
}

// Label values come from the request; anything outside the known set is "other", so a client
// cannot mint new series.
std::string_view BoundedOperation(const std::string& operation) {
  static constexpr std::string_view kKnown[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
  if (operation.empty()) return "unknown";
  for (std::string_view known : kKnown) {
    if (operation == known) return known;
  }
  return "other";
}

std::string_view BoundedResource(const std::string& resource) {
  static constexpr std::string_view kKnown[] = {"pods",
                                                "pods/ephemeralcontainers",
                                                "deployments",
                                                "replicasets",
                                                "statefulsets",
                                                "daemonsets",
                                                "jobs",
                                                "cronjobs",
                                                "replicationcontrollers",
                                                "podtemplates",
                                                "configmaps"};
  if (resource.empty()) return "unknown";
  for (std::string_view known : kKnown) {
    if (resource == known) return known;
  }
  return "other";
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("palisade_requests_total")
                   .Help("Admission requests by endpoint, operation, resource and decision.")
                   .Register(*registry_);
  request_duration_ = &prometheus::BuildHistogram()
                           .Name("palisade_request_duration_seconds")
                           .Help("Time to decide an admission request, from body read to answer.")
                           .Register(*registry_);
  pss_violations_ = &prometheus::BuildCounter()
                         .Name("palisade_pss_violations_total")
                         .Help(
                             "Failed Pod Security Standards checks and rules by level, check "
                             "and mode.")
                         .Register(*registry_);
  defaults_applied_ = &prometheus::BuildCounter()
                           .Name("palisade_defaults_applied_total")
                           .Help("Defaults filled in by /mutate, by field.")
                           .Register(*registry_);
  policy_reloads_ =
      &prometheus::BuildCounter()
           .Name("palisade_policy_reloads_total")
           .Help(
               "Policy loads by result (success, or error when any document or the source failed).")
           .Register(*registry_);
  exception_expiry_ =
      &prometheus::BuildGauge()
           .Name("palisade_exception_expiry_timestamp_seconds")
           .Help("When each policy exception stops applying (Unix time; +Inf for never).")
           .Register(*registry_);
  policy_documents_invalid_ =
      &prometheus::BuildGauge()
           .Name("palisade_policy_documents_invalid")
           .Help(
               "Policy documents currently failing (a last good revision serves, or what they "
               "cover is refused).")
           .Register(*registry_)
           .Add({});
  policy_source_empty_ = &prometheus::BuildGauge()
                              .Name("palisade_policy_source_empty")
                              .Help(
                                  "1 when the policy source holds no documents (every namespace "
                                  "privileged, no defaults).")
                              .Register(*registry_)
                              .Add({});
  tls_reloads_ = &prometheus::BuildCounter()
                      .Name("palisade_tls_reloads_total")
                      .Help("Certificate and key loads by result (success|error).")
                      .Register(*registry_);
  certificate_expiry_ = &prometheus::BuildGauge()
                             .Name("palisade_tls_certificate_expiry_timestamp_seconds")
                             .Help("notAfter of the serving certificate, as a Unix time.")
                             .Register(*registry_);
  http_errors_ = &prometheus::BuildCounter()
                      .Name("palisade_http_errors_total")
                      .Help("HTTP error responses on the admission port, by status code.")
                      .Register(*registry_);
  kube_watch_healthy_ =
      &prometheus::BuildGauge()
           .Name("palisade_kube_watch_healthy")
           .Help("1 while the list/watch of a Kubernetes resource is answered, 0 while it fails.")
           .Register(*registry_);
  kube_last_sync_ = &prometheus::BuildGauge()
                         .Name("palisade_kube_last_sync_timestamp_seconds")
                         .Help(
                             "When a Kubernetes resource's list or watch last brought news (a "
                             "list, an event or a bookmark), as a Unix time.")
                         .Register(*registry_);
  policy_events_ = &prometheus::BuildCounter()
                        .Name("palisade_policy_events_total")
                        .Help(
                            "Warning Events about invalid policy ConfigMaps by result (created, "
                            "exists: another replica told, retried: a transient failure to be "
                            "tried again, error: given up).")
                        .Register(*registry_);
  // Present from the start so alerts on rate() see zeroes rather than absent series.
  policy_reloads_->Add({{"result", "success"}});
  policy_reloads_->Add({{"result", "error"}});
  tls_reloads_->Add({{"result", "success"}});
  tls_reloads_->Add({{"result", "error"}});
}

Metrics::~Metrics() = default;

void Metrics::SetKubeWatchHealthy(const std::string& resource, bool healthy) {
  kube_watch_healthy_->Add({{"resource", resource}}).Set(healthy ? 1 : 0);
}

void Metrics::SetKubeLastSync(const std::string& resource, double unix_seconds) {
  kube_last_sync_->Add({{"resource", resource}}).Set(unix_seconds);
}

void Metrics::RecordPolicyEvent(std::string_view result) {
  policy_events_->Add({{"result", std::string(result)}}).Increment();
}

prometheus::Counter& Metrics::CachedCounter(prometheus::Family<prometheus::Counter>* family,
                                            std::initializer_list<std::string_view> values,
                                            std::initializer_list<std::string_view> names) {
  // The family's address and the label values, NUL-separated, name one series. Built in a buffer
  // on the stack when it fits (label values are short and bounded), on the heap otherwise.
  std::size_t size = sizeof family;
  for (std::string_view value : values) size += value.size() + 1;
  char stack_key[256];
  std::string heap_key;
  char* key = stack_key;
  if (size > sizeof stack_key) {
    heap_key.resize(size);
    key = heap_key.data();
  }
  std::memcpy(key, &family, sizeof family);
  char* end = key + sizeof family;
  for (std::string_view value : values) {
    std::memcpy(end, value.data(), value.size());
    end += value.size();
    *end++ = '\0';
  }
  const std::string_view lookup(key, size);
  std::lock_guard<std::mutex> lock(series_mutex_);
  auto found = counter_series_.find(lookup);
  if (found != counter_series_.end()) return *found->second;
  prometheus::Labels labels;
  auto name = names.begin();
  for (std::string_view value : values) labels.emplace(std::string(*name++), std::string(value));
  prometheus::Counter* counter = &family->Add(labels);
  counter_series_.emplace(std::string(lookup), counter);
  return *counter;
}

prometheus::Histogram& Metrics::Duration(std::string_view endpoint) {
  std::lock_guard<std::mutex> lock(series_mutex_);
  auto found = duration_series_.find(endpoint);
  if (found != duration_series_.end()) return *found->second;
  prometheus::Histogram* histogram =
      &request_duration_->Add({{"endpoint", std::string(endpoint)}}, LatencyBuckets());
  duration_series_.emplace(std::string(endpoint), histogram);
  return *histogram;
}

void Metrics::RecordAdmission(std::string_view endpoint, const policy::AdmissionResult& result,
                              std::chrono::nanoseconds latency) {
  CachedCounter(requests_,
                {endpoint, BoundedOperation(result.operation), BoundedResource(result.resource),
                 OrUnknown(result.decision)},
                {"endpoint", "operation", "resource", "decision"})
      .Increment();
  Duration(endpoint).Observe(std::chrono::duration<double>(latency).count());
  for (const policy::ViolationRecord& violation : result.violations) {
    CachedCounter(pss_violations_, {violation.level, violation.check, violation.mode},
                  {"level", "check", "mode"})
        .Increment();
  }
  for (const std::string& field : result.defaults_applied) {
    CachedCounter(defaults_applied_, {field}, {"field"}).Increment();
  }
}

void Metrics::RecordHttpError(int status_code) {
  http_errors_->Add({{"code", std::to_string(status_code)}}).Increment();
}

void Metrics::RecordPolicyReload(bool success) {
  policy_reloads_->Add({{"result", success ? "success" : "error"}}).Increment();
}

void Metrics::SetPolicyInfo(const std::map<std::string, std::string>& revisions) {
  auto info = std::make_shared<std::vector<std::pair<std::string, std::string>>>(revisions.begin(),
                                                                                 revisions.end());
  std::lock_guard<std::mutex> lock(policy_info_mutex_);
  policy_info_ = std::move(info);
}

std::map<std::pair<std::string, std::string>, double> ExceptionExpiry(
    const policy::PolicySet& policies) {
  std::map<std::pair<std::string, std::string>, double> expiry;
  for (const policy::NamespacePolicy& p : policies.policies()) {
    for (const policy::PolicyException& exception : p.values.exceptions) {
      expiry[{p.name, exception.name}] =
          exception.expires_day ? static_cast<double>((*exception.expires_day + 1) * 86400)
                                : std::numeric_limits<double>::infinity();
    }
  }
  return expiry;
}

void Metrics::SetExceptionExpiry(
    const std::map<std::pair<std::string, std::string>, double>& expiry) {
  for (const auto& [key, seconds] : exception_expiry_series_) {
    if (expiry.contains(key)) continue;
    exception_expiry_->Remove(
        &exception_expiry_->Add({{"policy", key.first}, {"exception", key.second}}));
  }
  for (const auto& [key, seconds] : expiry) {
    exception_expiry_->Add({{"policy", key.first}, {"exception", key.second}}).Set(seconds);
  }
  exception_expiry_series_ = expiry;
}

void Metrics::SetPolicyDocumentsInvalid(std::size_t count) {
  policy_documents_invalid_->Set(static_cast<double>(count));
}

void Metrics::SetPolicySourceEmpty(bool empty) { policy_source_empty_->Set(empty ? 1 : 0); }

void Metrics::RecordTlsReload(bool success) {
  tls_reloads_->Add({{"result", success ? "success" : "error"}}).Increment();
}

void Metrics::SetCertificateExpiry(double unix_seconds) {
  certificate_expiry_->Add({}).Set(unix_seconds);
}

std::string Metrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> info;
  {
    std::lock_guard<std::mutex> lock(policy_info_mutex_);
    info = policy_info_;
  }
  prometheus::MetricFamily family{"palisade_policy_info",
                                  "The loaded namespace policies and their revisions (always 1).",
                                  prometheus::MetricType::Gauge,
                                  {}};
  if (info != nullptr) {
    family.metric.resize(info->size());
    for (std::size_t i = 0; i < info->size(); ++i) {
      family.metric[i].label = {{"policy", (*info)[i].first}, {"revision", (*info)[i].second}};
      family.metric[i].gauge.value = 1;
    }
  }
  // In the place it had as a registered family: after the policy reloads.
  auto at = std::find_if(families.begin(), families.end(),
                         [](const auto& f) { return f.name == "palisade_policy_reloads_total"; });
  families.insert(at == families.end() ? at : at + 1, std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace palisade::server
