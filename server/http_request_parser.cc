#include "server/http_request_parser.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

namespace palisade::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

using Parser = http::request_parser<http::string_body>;

ParsedHttpRequest Refused(const beast::error_code& ec) {
  ParsedHttpRequest result;
  result.outcome = ParsedHttpRequest::Outcome::kRefused;
  result.detail = ec.message();
  if (ec == http::error::body_limit) {
    result.status = 413;
    result.reason = "request body too large";
  } else if (ec == http::error::header_limit) {
    result.status = 431;
    result.reason = "request header fields too large";
  } else {
    result.status = 400;
    result.reason = "malformed HTTP request";
  }
  return result;
}

}  // namespace

HttpLimits AdmissionLimits(const ServerOptions& options) {
  return HttpLimits{options.body_limit, options.header_limit};
}

ParsedHttpRequest ParseHttpRequestInPieces(std::span<const std::string_view> pieces,
                                           const HttpLimits& limits,
                                           std::chrono::steady_clock::time_point now) {
  Parser parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.header_limit, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(limits.body_limit);

  // Beast applies header_limit only to the bytes a put() leaves unconsumed: a header arriving in
  // reads that each end just past a field's line break is never refused. So the header's bytes
  // are counted here, across reads, and the limit holds however the bytes are cut.
  std::size_t header_bytes = 0;
  const auto header_too_large = [] {
    return Refused(http::make_error_code(http::error::header_limit));
  };

  // Unconsumed bytes stay here, like the session's flat_buffer, and are offered again with the
  // next piece: Beast consumes only whole header lines and chunk headers.
  std::string pending;
  std::size_t total = 0;
  for (const std::string_view piece : pieces) {
    pending.append(piece);
    total += piece.size();
    for (;;) {
      const bool header_was_done = parser.is_header_done();
      beast::error_code ec;
      // Not eager until the header is done (as async_read_header), so `used` ends at the header.
      const std::size_t used =
          parser.put(boost::asio::const_buffer(pending.data(), pending.size()), ec);
      pending.erase(0, used);
      if (!header_was_done) header_bytes += used;
      if (ec && ec != http::error::need_more) return Refused(ec);
      if (!parser.is_header_done()) {
        if (header_bytes + pending.size() >= limits.header_limit) return header_too_large();
        break;  // need more
      }
      if (!header_was_done) {
        if (header_bytes > limits.header_limit) return header_too_large();
        parser.eager(true);  // as http::async_read: the body in as few puts as it arrived in
      }
      if (parser.is_done()) {
        ParsedHttpRequest result;
        result.outcome = ParsedHttpRequest::Outcome::kComplete;
        result.keep_alive = parser.keep_alive();
        result.consumed = total - pending.size();
        const auto& message = parser.get();
        result.request.SetHead(message.method_string(), message.target(),
                               message[http::field::content_type], now);
        result.request.body = parser.release().body();
        return result;
      }
      if (ec == http::error::need_more || pending.empty()) break;
      if (used == 0 && header_was_done) break;
    }
  }
  return ParsedHttpRequest{};
}

ParsedHttpRequest ParseHttpRequest(std::string_view bytes, const HttpLimits& limits,
                                   std::chrono::steady_clock::time_point now) {
  const std::string_view pieces[] = {bytes};
  return ParseHttpRequestInPieces(pieces, limits, now);
}

}  // namespace palisade::server
