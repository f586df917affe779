#include "server/routes.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

#include "server/logging.h"
#include "server/metrics.h"
#include "server/policy_store.h"
#include "server/tls.h"

namespace palisade::server {
namespace {

std::atomic<void (*)(std::size_t)> request_size_hook{nullptr};

HttpResponse Error(Metrics& metrics, int status, std::string reason) {
  metrics.RecordHttpError(status);
  return TextResponse(status, std::move(reason));
}

}  // namespace

AdmissionRouter::AdmissionRouter(const PolicyStore& policies, policy::AdmissionConfig config,
                                 Metrics& metrics, Logger& logger)
    : policies_(policies), config_(config), metrics_(metrics), logger_(logger) {}

void SetRequestSizeHook(void (*hook)(std::size_t body_bytes)) { request_size_hook.store(hook); }

HttpResponse AdmissionRouter::Handle(const HttpRequest& request) const {
  const auto started = std::chrono::steady_clock::now();
  if (const auto hook = request_size_hook.load(std::memory_order_relaxed))
    hook(request.body.size());
  const std::string_view path = request.path();
  policy::Endpoint endpoint;
  if (path == "/validate") {
    endpoint = policy::Endpoint::kValidate;
  } else if (path == "/mutate") {
    endpoint = policy::Endpoint::kMutate;
  } else {
    return Error(metrics_, 404, "not found: the admission endpoints are /validate and /mutate");
  }
  if (request.method != "POST") {
    HttpResponse response = Error(metrics_, 405, "method not allowed: use POST");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  if (!IsJsonMediaType(request.content_type)) {
    return Error(
        metrics_, 415,
        "unsupported content type \"" + request.content_type + "\": want application/json");
  }
  if (request.deadline && started >= *request.deadline) {
    return Error(metrics_, 504, "the request's timeout passed before it was read");
  }
  const std::shared_ptr<const policy::PolicySet> policies = policies_.Get();
  if (policies == nullptr) {
    return Error(metrics_, 503, "no valid policy set is loaded");
  }
  // Exceptions expire by the calendar: policy/ has no clock, so the date travels with the request.
  policy::AdmissionConfig config = config_;
  config.today = policy::DayOf(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
  // Asked by Review between decoding and judging: work the API server gave up on stops there.
  std::function<bool()> deadline_passed;
  if (request.deadline) {
    deadline_passed = [deadline = *request.deadline] {
      return std::chrono::steady_clock::now() >= deadline;
    };
  }
  policy::AdmissionResult result = policy::Review(endpoint, request.body, *policies, config,
                                                  request.deadline ? &deadline_passed : nullptr);
  const auto finished = std::chrono::steady_clock::now();
  const auto latency = finished - started;
  const std::string_view endpoint_name =
      endpoint == policy::Endpoint::kValidate ? "validate" : "mutate";
  metrics_.RecordAdmission(endpoint_name, result, latency);
  // The API server stopped waiting while this was decoded or judged: no log line, no answer it
  // could use.
  if (result.http_status == 504 || (request.deadline && finished >= *request.deadline)) {
    return Error(metrics_, 504, "the request's timeout passed while it was judged");
  }

  if (result.http_status != 200) {
    metrics_.RecordHttpError(result.http_status);
    logger_.Info(
        result.http_status == 413 ? "admission request too large to judge"
                                  : "malformed admission request",
        {{"endpoint", endpoint_name}, {"status", result.http_status}, {"reason", result.body}});
    return TextResponse(result.http_status, std::move(result.body));
  }
  if (result.worth_logging && logger_.Enabled(LogLevel::kInfo)) {
    // Built in place and moved from `result` (done with it but for the body): an initializer list
    // would copy every string twice.
    std::vector<LogField> fields;
    fields.reserve(15);
    fields.emplace_back("endpoint", endpoint_name);
    fields.emplace_back("decision", std::move(result.decision));
    fields.emplace_back("uid", std::move(result.uid));
    fields.emplace_back("namespace", std::move(result.namespace_name));
    fields.emplace_back("name", std::move(result.name));
    fields.emplace_back("kind", std::move(result.kind));
    fields.emplace_back("operation", std::move(result.operation));
    fields.emplace_back("user", std::move(result.user));
    fields.emplace_back("policy", std::move(result.policy));
    fields.emplace_back("checks", std::move(result.checks));
    // The warnings' texts went to the client; the checks above name them, so only the count here
    // (the texts made a warned pod's line three times as long).
    fields.emplace_back("warnings", static_cast<std::int64_t>(result.warnings.size()));
    fields.emplace_back("defaults", std::move(result.defaults_applied));
    fields.emplace_back("exemptions", std::move(result.exemptions));
    fields.emplace_back("patch_ops", result.patch_ops);
    fields.emplace_back(
        "latency_us", static_cast<std::int64_t>(
                          std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
    logger_.Info("admission", fields);
  }
  HttpResponse response;
  response.body = std::move(result.body);
  return response;
}

bool Readiness::Check(std::string* reason) const {
  if (shutting_down_.load()) {
    *reason = "shutting down";
    return false;
  }
  if (!tls_.loaded()) {
    *reason = "no TLS certificate loaded";
    return false;
  }
  if (sources_ && !sources_(reason)) return false;
  if (policies_.Get() == nullptr) {
    *reason = "no valid policy set loaded";
    return false;
  }
  return true;
}

HttpResponse ProbeRouter::Handle(const HttpRequest& request) const {
  const std::string_view path = request.path();
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    return TextResponse(404, "not found: /metrics, /healthz and /readyz are served here");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = TextResponse(405, "method not allowed: use GET");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  if (path == "/metrics") {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics_.Serialize();
    return response;
  }
  if (path == "/healthz") return TextResponse(200, "ok");  // answered by the event loop itself
  std::string reason;
  if (!readiness_.Check(&reason)) return TextResponse(503, "not ready: " + reason);
  return TextResponse(200, "ok");
}

}  // namespace palisade::server
