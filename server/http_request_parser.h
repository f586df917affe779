#pragma once

// One HTTP/1.1 request from raw bytes, as the HTTPS session reads it: Beast's request parser with
// the server's header and body limits, then the same HttpRequest the routers see. Pure (no
// sockets), so tests and the fuzzer drive the exact parsing the listener does.

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "server/http_message.h"
#include "server/https_server.h"

namespace palisade::server {

struct HttpLimits {
  std::size_t body_limit = 0;    // 413 above
  std::size_t header_limit = 0;  // 431 above: request line, fields and blank line, all reads
};

// The admission listener's limits (ServerOptions is the one place their defaults live).
HttpLimits AdmissionLimits(const ServerOptions& options);

struct ParsedHttpRequest {
  enum class Outcome { kComplete, kIncomplete, kRefused };
  Outcome outcome = Outcome::kIncomplete;

  // kComplete: the request, and how many bytes it took (a pipelined request may follow).
  HttpRequest request;
  std::size_t consumed = 0;
  bool keep_alive = false;

  // kRefused: 413 (body over the limit), 431 (headers over the limit) or 400 (malformed); `reason`
  // is the answer's body, `detail` the parser's own words (for logs).
  int status = 0;
  std::string reason;
  std::string detail;
};

// Parses the first request in `bytes`. kIncomplete when the bytes end before the request does
// (the server would wait for more). `now` anchors the deadline from `?timeout=`.
ParsedHttpRequest ParseHttpRequest(
    std::string_view bytes, const HttpLimits& limits,
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

// The same, with the bytes arriving in pieces (as reads from a socket do). The outcome does not
// depend on where the pieces are cut, with two exceptions from Beast. Once a piece ended inside
// the header, Beast checks the header again only when its blank line arrives: a malformed line is
// kIncomplete in pieces where the whole bytes are already a 400 (or a 431: Beast also answers
// header_limit for a folded field value over 4 KiB). And an oversized header that is also
// malformed is a 400 or a 431 depending on which Beast sees first.
ParsedHttpRequest ParseHttpRequestInPieces(
    std::span<const std::string_view> pieces, const HttpLimits& limits,
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

}  // namespace palisade::server
