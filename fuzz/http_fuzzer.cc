// Bytes -> the HTTP request path up to the handlers: ParseHttpRequest (Beast's parser with the
// listener's limits) -> AdmissionRouter::Handle and ProbeRouter::Handle, then any pipelined
// request after it, as a keep-alive session would. Input layout: byte 0 picks the limits (bit 0
// clear: the server's defaults; set: small ones so the 413/431 paths are reachable within
// -max_len) and the body budget (bit 1 set: 4 KiB, so the 503 path is reachable too);
// bytes 1 and 2 pick where the rest is cut into three pieces; the rest is what the client sent.
// Invariants beyond "no crash, no UB": the outcome does not depend on where the bytes were cut; a
// refusal is 400, 413 or 431 with a reason; a complete request respects the limits; the routers
// answer only their documented statuses, each for its documented cause, and a 200 from the
// admission router is an AdmissionReview JSON object.

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "server/http_request_parser.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/policy_store.h"
#include "server/routes.h"
#include "server/tls.h"

namespace {

using palisade::fuzz::Check;
using palisade::server::HttpLimits;
using palisade::server::HttpRequest;
using palisade::server::HttpResponse;
using palisade::server::ParsedHttpRequest;
using Outcome = ParsedHttpRequest::Outcome;

// Built once, as AdmissionService wires them: the example policies, no TLS material (so /readyz
// answers 503), logs at error level into a stream that drops them.
struct Handlers {
  std::ostream null_stream{nullptr};
  palisade::server::Logger logger{palisade::server::LogLevel::kError,
                                  palisade::server::LogFormat::kJson, &null_stream};
  palisade::server::Metrics metrics;
  palisade::server::PolicyStore policies;
  palisade::server::TlsCredentials tls{{}, &metrics, &logger};
  palisade::server::Readiness readiness{tls, policies};
  palisade::server::AdmissionRouter admission{policies, {}, metrics, logger};
  palisade::server::ProbeRouter probes{readiness, metrics};

  Handlers() {
    policies.Set(
        std::make_shared<const palisade::policy::PolicySet>(palisade::fuzz::ExamplePolicies()));
  }
};

Handlers& TheHandlers() {
  static Handlers* handlers = new Handlers();  // never destroyed: outlives every run
  return *handlers;
}

std::string Describe(const ParsedHttpRequest& p) {
  std::string out = "outcome=" + std::to_string(static_cast<int>(p.outcome)) +
                    " status=" + std::to_string(p.status) + " reason=" + p.reason +
                    " detail=" + p.detail + " consumed=" + std::to_string(p.consumed) +
                    " keep_alive=" + std::to_string(p.keep_alive);
  if (p.outcome == Outcome::kComplete) {
    out += " method=" + p.request.method + " target=" + p.request.target +
           " content_type=" + p.request.content_type +
           " body_size=" + std::to_string(p.request.body.size()) +
           " deadline=" + std::to_string(p.request.deadline.has_value());
  }
  return out;
}

bool Same(const ParsedHttpRequest& a, const ParsedHttpRequest& b) {
  return a.outcome == b.outcome && a.status == b.status && a.reason == b.reason &&
         a.consumed == b.consumed && a.keep_alive == b.keep_alive &&
         a.request.method == b.request.method && a.request.target == b.request.target &&
         a.request.content_type == b.request.content_type && a.request.body == b.request.body &&
         a.request.deadline == b.request.deadline;
}

bool HasHeader(const HttpResponse& response, std::string_view name, std::string_view value) {
  return std::any_of(response.headers.begin(), response.headers.end(),
                     [&](const auto& h) { return h.first == name && h.second == value; });
}

void CheckAdmission(const HttpRequest& request, const HttpResponse& response) {
  const std::string where = request.method + " " + request.target + " -> " +
                            std::to_string(response.status) + " " + response.body;
  const std::string_view path = request.path();
  Check(!response.body.empty(), "admission answers carry a body", where);
  if (path != "/validate" && path != "/mutate") {
    Check(response.status == 404, "other paths are 404", where);
    return;
  }
  if (request.method != "POST") {
    Check(response.status == 405 && HasHeader(response, "Allow", "POST"),
          "other methods are 405 with Allow: POST", where);
    return;
  }
  if (!palisade::server::IsJsonMediaType(request.content_type)) {
    Check(response.status == 415, "non-JSON content types are 415", where);
    return;
  }
  if (response.status == 504) {
    Check(request.deadline.has_value(), "504 only with a ?timeout= deadline", where);
    return;
  }
  Check(response.status == 200 || response.status == 400, "a JSON POST is 200, 400 or 504", where);
  if (response.status == 400) return;
  rapidjson::Document answer;
  answer.Parse(response.body.data(), response.body.size());
  Check(!answer.HasParseError() && answer.IsObject() && answer.HasMember("response") &&
            answer["response"].IsObject() && answer.HasMember("apiVersion") &&
            answer.HasMember("kind"),
        "200 is an AdmissionReview JSON object", where);
  Check(response.content_type == "application/json", "200 is application/json", where);
}

void CheckProbe(const HttpRequest& request, const HttpResponse& response) {
  const std::string where = request.method + " " + request.target + " -> " +
                            std::to_string(response.status) + " " + response.body;
  const std::string_view path = request.path();
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    Check(response.status == 404, "other probe paths are 404", where);
    return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    Check(response.status == 405 && HasHeader(response, "Allow", "GET, HEAD"),
          "other probe methods are 405 with Allow", where);
    return;
  }
  if (path == "/metrics") {
    Check(response.status == 200 && response.body.find("# TYPE ") != std::string::npos,
          "/metrics is 200 in the text format", where);
  } else if (path == "/healthz") {
    Check(response.status == 200 && response.body == "ok\n", "/healthz is 200 ok", where);
  } else {
    Check(response.status == 503, "/readyz is 503 without TLS material", where);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const HttpLimits limits =
      data[0] % 2 == 0 ? palisade::server::AdmissionLimits(palisade::server::ServerOptions{})
                       : HttpLimits{.body_limit = 2048, .header_limit = 1024};
  const bool budgeted = (data[0] & 2) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  Handlers& handlers = TheHandlers();
  const auto now = std::chrono::steady_clock::now();

  // A keep-alive session answers pipelined requests in turn; a few are enough.
  for (int round = 0; round < 4 && !rest.empty(); ++round) {
    const std::size_t cut1 = rest.size() * data[1] / 255;
    const std::size_t cut2 = cut1 + (rest.size() - cut1) * data[2] / 255;
    const std::string_view pieces[] = {rest.substr(0, cut1), rest.substr(cut1, cut2 - cut1),
                                       rest.substr(cut2)};
    // Each parse has a budget of its own: a request gives its reservation back when parsed.
    palisade::server::RequestByteBudget whole_budget(4096), split_budget(4096);
    const ParsedHttpRequest whole =
        palisade::server::ParseHttpRequest(rest, limits, now, budgeted ? &whole_budget : nullptr);
    const ParsedHttpRequest split = palisade::server::ParseHttpRequestInPieces(
        pieces, limits, now, budgeted ? &split_budget : nullptr);
    Check(whole_budget.used() == 0 && split_budget.used() == 0,
          "a parsed request gives its budget back", Describe(whole));
    // Beast re-checks a header split across reads only once its blank line arrives, and an
    // oversized malformed header is a 400 or a 431 by which Beast notices first (see the header).
    const auto refused = [](const ParsedHttpRequest& p, int status) {
      return p.outcome == Outcome::kRefused && p.status == status;
    };
    const bool malformed_header_pending =
        ((refused(whole, 400) || refused(whole, 431)) && split.outcome == Outcome::kIncomplete) ||
        (refused(whole, 400) && refused(split, 431)) ||
        (refused(whole, 431) && refused(split, 400));
    Check(Same(whole, split) || malformed_header_pending,
          "the outcome does not depend on where the bytes are cut",
          "whole: " + Describe(whole) + "\nsplit at " + std::to_string(cut1) + "," +
              std::to_string(cut2) + ": " + Describe(split));

    if (whole.outcome == Outcome::kIncomplete) return 0;
    if (whole.outcome == Outcome::kRefused) {
      Check(whole.status == 400 || whole.status == 413 || whole.status == 431 ||
                (budgeted && whole.status == 503),
            "a refusal is 400, 413 or 431, or 503 with a budget", Describe(whole));
      Check(!whole.reason.empty() && !whole.detail.empty(), "a refusal has a reason",
            Describe(whole));
      return 0;
    }
    Check(whole.consumed > 0 && whole.consumed <= rest.size(), "a request takes its bytes",
          Describe(whole));
    Check(whole.request.body.size() <= limits.body_limit, "the body is within the limit",
          Describe(whole));
    Check(!whole.request.method.empty() && !whole.request.target.empty(),
          "a request has a method and a target", Describe(whole));

    CheckAdmission(whole.request, handlers.admission.Handle(whole.request));
    CheckProbe(whole.request, handlers.probes.Handle(whole.request));

    if (!whole.keep_alive) return 0;
    rest.remove_prefix(whole.consumed);
  }
  return 0;
}
