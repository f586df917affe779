#pragma once

// The HTTP request and response as the routers see them: no sockets, no Boost.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace palisade::server {

struct HttpRequest {
  std::string method;  // "POST"
  std::string target;  // "/validate?timeout=10s"
  std::string content_type;
  std::string body;
  // From `?timeout=`: when the API server stops waiting. Unset when absent or malformed.
  std::optional<std::chrono::steady_clock::time_point> deadline;

  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', "" when none

  // Sets the request line's fields and the deadline (now + `?timeout=` when it is a valid Go
  // duration); keeps the strings' capacity. The body is left as it is.
  void SetHead(std::string_view method_text, std::string_view target_text,
               std::string_view content_type_text, std::chrono::steady_clock::time_point now);
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The value of query parameter `name` ("" when present without a value), or nullopt.
std::optional<std::string_view> QueryParameter(std::string_view query, std::string_view name);

// A Go duration as the API server writes `?timeout=`: "10s", "500ms", "1m30s". Units h, m, s, ms,
// us, µs, ns; no sign. nullopt when malformed or longer than a day.
std::optional<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

HttpResponse TextResponse(int status, std::string body);

// True when a Content-Type value names application/json (any case, parameters and blanks
// ignored). ASCII only: a byte above 0x7F is never a letter here.
bool IsJsonMediaType(std::string_view content_type);

}  // namespace palisade::server
