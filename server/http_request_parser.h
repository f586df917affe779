#pragma once

// HTTP/1.1 requests from raw bytes, exactly as both listeners read them: HttpRequestReader is the
// one parser the sessions run (Beast's basic_parser underneath), and ParseHttpRequest drives the
// same reader for the tests and the fuzzer. Pure (no sockets, no clocks of its own).
//
// Every byte of a request counts against a limit, whatever the framing: the head (request line,
// fields, blank line) against the header limit (431); everything after it (the body as sent,
// with chunk-size lines, chunk extensions and trailers) against the body limit (413); and a
// single chunk-size line or the last chunk with its trailer section, which must be buffered
// whole, against the header limit (431). Body bytes are reserved against a process-wide
// RequestByteBudget (503 when it is spent).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
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

// Request body bytes held in memory across all connections. A request reserves its
// Content-Length when its head is read, or its chunked body as it grows, and gives it back when
// it has been answered.
class RequestByteBudget {
 public:
  explicit RequestByteBudget(std::size_t capacity) : capacity_(capacity) {}
  bool TryReserve(std::size_t bytes);
  void Release(std::size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  std::atomic<std::size_t> used_{0};
};

// One request at a time from the bytes of one connection.
class HttpRequestReader {
 public:
  enum class Status { kNeedMore, kComplete, kRefused };

  // `budget` may be null (no process-wide bound).
  HttpRequestReader(HttpLimits limits, RequestByteBudget* budget);
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Starts the next request; gives back what the last one held.
  void Begin();

  // Parses from `bytes`, what has arrived and is not consumed yet. *used is how much of it was
  // consumed (drop it from the front; the rest is offered again with what arrives next).
  // kComplete leaves any pipelined request unconsumed.
  Status Parse(std::string_view bytes, std::size_t* used);

  bool got_some() const;     // a byte of this request was parsed
  bool header_done() const;  // method(), target() and content_type() are set
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }
  const std::string& content_type() const { return content_type_; }
  bool keep_alive() const;  // after kComplete

  // After kComplete: the body (the reader keeps its reservation until Begin or ReleaseBudget).
  std::string TakeBody() { return std::move(body_); }
  // Gives back the body bytes reserved for this request.
  void ReleaseBudget();

  // After kRefused: 400, 413, 431 or 503; `reason` is the answer's body, `detail` the parser's
  // own words (for logs).
  int status() const { return status_; }
  const std::string& reason() const { return reason_; }
  const std::string& detail() const { return detail_; }

 private:
  class Parser;
  friend class Parser;
  Status Refuse(int status, std::string detail);
  bool ReserveBody(std::size_t bytes);  // false when the budget is spent

  HttpLimits limits_;
  RequestByteBudget* budget_;
  std::unique_ptr<Parser> parser_;
  std::string method_, target_, content_type_, body_;
  bool have_content_type_ = false;
  std::size_t head_bytes_ = 0;  // consumed while reading the head
  std::size_t rest_bytes_ = 0;  // consumed after it: body, chunk framing, trailers
  std::size_t reserved_ = 0;    // of the budget, for this request
  bool budget_spent_ = false;
  int status_ = 0;
  std::string reason_, detail_;
};

struct ParsedHttpRequest {
  enum class Outcome { kComplete, kIncomplete, kRefused };
  Outcome outcome = Outcome::kIncomplete;

  // kComplete: the request, and how many bytes it took (a pipelined request may follow).
  HttpRequest request;
  std::size_t consumed = 0;
  bool keep_alive = false;

  // kRefused: HttpRequestReader's status, reason and detail.
  int status = 0;
  std::string reason;
  std::string detail;
};

// Parses the first request in `bytes`. kIncomplete when the bytes end before the request does
// (the server would wait for more). `now` anchors the deadline from `?timeout=`.
ParsedHttpRequest ParseHttpRequest(
    std::string_view bytes, const HttpLimits& limits,
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now(),
    RequestByteBudget* budget = nullptr);

// The same, with the bytes arriving in pieces (as reads from a socket do). The outcome does not
// depend on where the pieces are cut, with two exceptions from Beast. Once a piece ended inside
// the header, Beast checks the header again only when its blank line arrives: a malformed line is
// kIncomplete in pieces where the whole bytes are already a 400 (or a 431: Beast also answers
// header_limit for a folded field value over 4 KiB). And an oversized header that is also
// malformed is a 400 or a 431 depending on which Beast sees first.
ParsedHttpRequest ParseHttpRequestInPieces(
    std::span<const std::string_view> pieces, const HttpLimits& limits,
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now(),
    RequestByteBudget* budget = nullptr);

}  // namespace palisade::server
