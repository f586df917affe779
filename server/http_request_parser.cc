#include "server/http_request_parser.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <memory>

namespace palisade::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;

// The 431 reason where the reader, not Beast, finds the head over its limit.
constexpr char kHeadOverLimit[] = "header fields over the limit";

bool RequestByteBudget::TryReserve(std::size_t bytes) {
  std::size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > capacity_ - std::min(used, capacity_)) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

// Beast's parser with the request kept in the reader: the method, target and Content-Type as
// strings (no field map per request) and the body in the reader's buffer, reserved against the
// budget before it grows.
class HttpRequestReader::Parser final : public http::basic_parser<true> {
 public:
  explicit Parser(HttpRequestReader& reader) : reader_(reader) {}

 private:
  void on_request_impl(http::verb, std::string_view method, std::string_view target, int,
                       beast::error_code&) override {
    reader_.method_.assign(method);
    reader_.target_.assign(target);
  }

  void on_response_impl(int, std::string_view, int, beast::error_code&) override {}

  void on_field_impl(http::field name, std::string_view, std::string_view value,
                     beast::error_code&) override {
    // The first Content-Type of the head; trailers cannot change it.
    if (name == http::field::content_type && !reader_.have_content_type_ && !is_header_done()) {
      reader_.content_type_.assign(value);
      reader_.have_content_type_ = true;
    }
  }

  void on_header_impl(beast::error_code&) override {}

  // Content-Length is reserved as soon as the head is done (Parse), before any body byte.
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}

  std::size_t on_body_impl(std::string_view data, beast::error_code&) override {
    reader_.body_.append(data);
    return data.size();
  }

  void on_chunk_header_impl(std::uint64_t, std::string_view, beast::error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, std::string_view data,
                                 beast::error_code& ec) override {
    std::string& body = reader_.body_;
    const std::size_t need = body.size() + data.size();
    if (need > reader_.reserved_) {
      // Powers of two from 4 KiB: few reservations, and a step that depends only on the size, so
      // the outcome does not depend on how the bytes arrived.
      const std::size_t step =
          std::max<std::size_t>(need, std::min(std::bit_ceil(std::max<std::size_t>(need, 4096)),
                                               std::max(reader_.limits_.body_limit, need)));
      if (!reader_.ReserveBody(step - reader_.reserved_)) {
        ec = boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
        return 0;
      }
      body.reserve(step);
    }
    body.append(data);
    return data.size();
  }

  void on_finish_impl(beast::error_code&) override {}

  HttpRequestReader& reader_;
};

HttpLimits AdmissionLimits(const ServerOptions& options) {
  return HttpLimits{options.body_limit, options.header_limit};
}

HttpRequestReader::HttpRequestReader(HttpLimits limits, RequestByteBudget* budget)
    : limits_(limits), budget_(budget), parser_(std::make_unique<Parser>(*this)) {
  Begin();
}

HttpRequestReader::~HttpRequestReader() { ReleaseBudget(); }

void HttpRequestReader::Begin() {
  ReleaseBudget();
  // A parser cannot be reset: a new one in the same storage (no allocation per request).
  std::destroy_at(parser_.get());
  std::construct_at(parser_.get(), *this);
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits_.header_limit, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(limits_.body_limit);
  // Not eager until the head is done, so what a put consumes ends at the head.
  parser_->eager(false);
  std::string().swap(body_);
  method_.clear();
  target_.clear();
  content_type_.clear();
  have_content_type_ = false;
  head_bytes_ = 0;
  rest_bytes_ = 0;
  budget_spent_ = false;
  status_ = 0;
  reason_.clear();
  detail_.clear();
}

bool HttpRequestReader::got_some() const { return parser_->got_some(); }
bool HttpRequestReader::header_done() const { return parser_->is_header_done(); }
bool HttpRequestReader::keep_alive() const { return parser_->keep_alive(); }

void HttpRequestReader::ReleaseBudget() {
  if (budget_ != nullptr && reserved_ > 0) budget_->Release(reserved_);
  reserved_ = 0;
}

bool HttpRequestReader::ReserveBody(std::size_t bytes) {
  if (budget_ != nullptr && !budget_->TryReserve(bytes)) {
    budget_spent_ = true;
    return false;
  }
  reserved_ += bytes;
  return true;
}

HttpRequestReader::Status HttpRequestReader::Refuse(int status, std::string detail) {
  status_ = status;
  detail_ = std::move(detail);
  switch (status) {
    case 413:
      reason_ = "request body too large";
      break;
    case 431:
      reason_ = "request header fields too large";
      break;
    case 503:
      reason_ = "server busy: too many request bytes buffered; retry";
      break;
    default:
      reason_ = "malformed HTTP request";
  }
  return Status::kRefused;
}

HttpRequestReader::Status HttpRequestReader::Parse(std::string_view bytes, std::size_t* used) {
  *used = 0;
  for (;;) {
    const bool header_was_done = parser_->is_header_done();
    std::string_view offer = bytes.substr(*used);
    // Beast buffers a chunk-size line, or the last chunk with its trailers, until it is whole: it
    // sees at most a header limit of them at a time, so neither can grow without bound (and the
    // outcome is the same however the bytes were cut).
    const bool windowed =
        header_was_done && parser_->chunked() && offer.size() >= limits_.header_limit;
    if (windowed) offer = offer.substr(0, limits_.header_limit);
    beast::error_code ec;
    const std::size_t n = parser_->put(boost::asio::const_buffer(offer.data(), offer.size()), ec);
    *used += n;
    (header_was_done ? rest_bytes_ : head_bytes_) += n;
    if (ec && ec != http::error::need_more) {
      if (budget_spent_) return Refuse(503, "request byte budget spent");
      if (ec == http::error::body_limit) {
        // Beast holds Content-Length to the body limit in the put that completes the head, and
        // may do so before it notices the head is over its own limit (it depends on the cut).
        // The head comes first: over its limit, it is 431 however the bytes arrived.
        if (!header_was_done) {
          const std::size_t end = offer.find("\r\n\r\n");
          // The head: what came before this put (head_bytes_ has counted this put's n already)
          // and the offer up to its blank line.
          if (end != std::string_view::npos && head_bytes_ - n + end + 4 > limits_.header_limit) {
            return Refuse(431, kHeadOverLimit);
          }
        }
        return Refuse(413, ec.message());
      }
      if (ec == http::error::header_limit) return Refuse(431, ec.message());
      return Refuse(400, ec.message());
    }
    const std::size_t pending = bytes.size() - *used;
    if (!parser_->is_header_done()) {
      // Beast applies its header limit only to what one put leaves unconsumed: a head arriving in
      // reads that each end just past a line break would never be refused. Counted here instead.
      if (head_bytes_ + pending >= limits_.header_limit) {
        return Refuse(431, kHeadOverLimit);
      }
      return Status::kNeedMore;
    }
    if (!header_was_done) {
      if (head_bytes_ > limits_.header_limit) return Refuse(431, kHeadOverLimit);
      if (const auto length = parser_->content_length()) {
        // Beast has held it to the body limit already.
        if (!ReserveBody(static_cast<std::size_t>(*length))) {
          return Refuse(503, "request byte budget spent");
        }
        body_.reserve(static_cast<std::size_t>(*length));
      }
      parser_->eager(true);  // the body in as few puts as it arrived in
    }
    if (rest_bytes_ > limits_.body_limit) return Refuse(413, "body and its framing over the limit");
    if (parser_->is_done()) return Status::kComplete;
    if (n == 0) {
      if (windowed) return Refuse(431, "chunk line or trailer section over the header limit");
      return Status::kNeedMore;
    }
    if (pending == 0) return Status::kNeedMore;
  }
}

namespace {

ParsedHttpRequest ToParsed(HttpRequestReader& reader, HttpRequestReader::Status status,
                           std::size_t consumed, std::chrono::steady_clock::time_point now) {
  ParsedHttpRequest result;
  if (status == HttpRequestReader::Status::kRefused) {
    result.outcome = ParsedHttpRequest::Outcome::kRefused;
    result.status = reader.status();
    result.reason = reader.reason();
    result.detail = reader.detail();
  } else if (status == HttpRequestReader::Status::kComplete) {
    result.outcome = ParsedHttpRequest::Outcome::kComplete;
    result.keep_alive = reader.keep_alive();
    result.consumed = consumed;
    result.request.SetHead(reader.method(), reader.target(), reader.content_type(), now);
    result.request.body = reader.TakeBody();
  }
  return result;
}

}  // namespace

ParsedHttpRequest ParseHttpRequestInPieces(std::span<const std::string_view> pieces,
                                           const HttpLimits& limits,
                                           std::chrono::steady_clock::time_point now,
                                           RequestByteBudget* budget) {
  HttpRequestReader reader(limits, budget);
  // Unconsumed bytes stay here, like the session's buffer, and are offered again with the next
  // piece.
  std::string pending;
  std::size_t consumed = 0;
  for (const std::string_view piece : pieces) {
    pending.append(piece);
    std::size_t used = 0;
    const HttpRequestReader::Status status = reader.Parse(pending, &used);
    consumed += used;
    pending.erase(0, used);
    if (status != HttpRequestReader::Status::kNeedMore) {
      return ToParsed(reader, status, consumed, now);
    }
  }
  return ParsedHttpRequest{};
}

ParsedHttpRequest ParseHttpRequest(std::string_view bytes, const HttpLimits& limits,
                                   std::chrono::steady_clock::time_point now,
                                   RequestByteBudget* budget) {
  const std::string_view pieces[] = {bytes};
  return ParseHttpRequestInPieces(pieces, limits, now, budget);
}

}  // namespace palisade::server
