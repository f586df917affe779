// ParseHttpRequest: the listener's request parsing without a socket.

#include "server/http_request_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace palisade::server {
namespace {

using Outcome = ParsedHttpRequest::Outcome;
using namespace std::chrono_literals;

const HttpLimits kServerLimits = AdmissionLimits(ServerOptions{});
const auto kNow = std::chrono::steady_clock::time_point(1000h);

std::string ReviewRealistic() {
  std::ifstream in(std::string(PALISADE_SHARED_DIR) + "/testdata/review_realistic.json",
                   std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view content_type = "application/json") {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: palisade.palisade.svc:443\r\nContent-Type: " +
         std::string(content_type) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

std::string Chunked(std::string_view body, std::size_t chunk) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); i += chunk) {
    const std::string_view piece = body.substr(i, chunk);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    out += size;
    out += piece;
    out += "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(ParseHttpRequest, LimitsAreTheServersDefaults) {
  const ServerOptions options;
  EXPECT_EQ(kServerLimits.body_limit, options.body_limit);
  EXPECT_EQ(kServerLimits.header_limit, options.header_limit);
}

TEST(ParseHttpRequest, CompleteRequest) {
  const std::string review = ReviewRealistic();
  ASSERT_GT(review.size(), 1000u);
  const std::string bytes = Post("/validate?timeout=10s", review);
  const ParsedHttpRequest parsed = ParseHttpRequest(bytes, kServerLimits, kNow);
  ASSERT_EQ(parsed.outcome, Outcome::kComplete) << parsed.detail;
  EXPECT_EQ(parsed.request.method, "POST");
  EXPECT_EQ(parsed.request.target, "/validate?timeout=10s");
  EXPECT_EQ(parsed.request.path(), "/validate");
  EXPECT_EQ(parsed.request.content_type, "application/json");
  EXPECT_EQ(parsed.request.body, review);
  EXPECT_EQ(parsed.consumed, bytes.size());
  EXPECT_TRUE(parsed.keep_alive);
  EXPECT_EQ(parsed.status, 0);
}

TEST(ParseHttpRequest, TimeoutQuerySetsTheDeadline) {
  const auto parse = [](std::string_view target) {
    return ParseHttpRequest(Post(target, "{}"), kServerLimits, kNow);
  };
  EXPECT_EQ(parse("/mutate?timeout=10s").request.deadline, kNow + 10s);
  EXPECT_EQ(parse("/mutate?dryRun=1&timeout=1m30s").request.deadline, kNow + 90s);
  EXPECT_EQ(parse("/mutate?timeout=500ms").request.deadline, kNow + 500ms);
  EXPECT_FALSE(parse("/mutate").request.deadline.has_value());
  EXPECT_FALSE(parse("/mutate?timeout=").request.deadline.has_value());
  EXPECT_FALSE(parse("/mutate?timeout=10").request.deadline.has_value());
  EXPECT_FALSE(parse("/mutate?timeout=-1s").request.deadline.has_value());
  EXPECT_FALSE(parse("/mutate?timeout=25h").request.deadline.has_value());
}

TEST(ParseHttpRequest, ChunkedBody) {
  const std::string review = ReviewRealistic();
  const std::string bytes =
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=utf-8\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
      Chunked(review, 700);
  const ParsedHttpRequest parsed = ParseHttpRequest(bytes, kServerLimits, kNow);
  ASSERT_EQ(parsed.outcome, Outcome::kComplete) << parsed.detail;
  EXPECT_EQ(parsed.request.body, review);
  EXPECT_EQ(parsed.request.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(parsed.consumed, bytes.size());
}

TEST(ParseHttpRequest, SameOutcomeWhereverTheBytesAreCut) {
  const std::string review = ReviewRealistic();
  const std::string bytes =
      "POST /validate?timeout=5s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
      Chunked(review, 333);
  const ParsedHttpRequest whole = ParseHttpRequest(bytes, kServerLimits, kNow);
  ASSERT_EQ(whole.outcome, Outcome::kComplete);
  for (std::size_t cut = 0; cut <= bytes.size(); cut += 37) {
    const std::string_view view(bytes);
    const std::string_view pieces[] = {view.substr(0, cut), view.substr(cut)};
    const ParsedHttpRequest split = ParseHttpRequestInPieces(pieces, kServerLimits, kNow);
    ASSERT_EQ(split.outcome, Outcome::kComplete) << "cut at " << cut;
    EXPECT_EQ(split.request.body, review) << "cut at " << cut;
    EXPECT_EQ(split.request.target, whole.request.target);
    EXPECT_EQ(split.request.deadline, kNow + 5s);
    EXPECT_EQ(split.consumed, bytes.size());
  }
  // One byte at a time, as the slowest client sends.
  std::vector<std::string_view> bytewise;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytewise.push_back(std::string_view(bytes).substr(i, 1));
  const ParsedHttpRequest slow = ParseHttpRequestInPieces(bytewise, kServerLimits, kNow);
  ASSERT_EQ(slow.outcome, Outcome::kComplete);
  EXPECT_EQ(slow.request.body, review);
}

TEST(ParseHttpRequest, PipelinedRequestIsLeftForTheNextRead) {
  const std::string first = Post("/validate", "{\"a\":1}");
  const std::string second = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string bytes = first + second;
  const ParsedHttpRequest one = ParseHttpRequest(bytes, kServerLimits, kNow);
  ASSERT_EQ(one.outcome, Outcome::kComplete);
  EXPECT_EQ(one.request.body, "{\"a\":1}");
  EXPECT_EQ(one.consumed, first.size());
  EXPECT_TRUE(one.keep_alive);
  const ParsedHttpRequest two =
      ParseHttpRequest(std::string_view(bytes).substr(one.consumed), kServerLimits, kNow);
  ASSERT_EQ(two.outcome, Outcome::kComplete);
  EXPECT_EQ(two.request.method, "GET");
  EXPECT_EQ(two.request.target, "/metrics");
  EXPECT_EQ(two.request.body, "");
  EXPECT_EQ(two.request.content_type, "");
  EXPECT_FALSE(two.keep_alive);
  EXPECT_EQ(two.consumed, second.size());
}

TEST(ParseHttpRequest, BodyOverTheLimitIs413) {
  const HttpLimits small{.body_limit = 100, .header_limit = 1024};
  const ParsedHttpRequest declared =
      ParseHttpRequest(Post("/validate", std::string(101, ' ')), small);
  EXPECT_EQ(declared.outcome, Outcome::kRefused);
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(declared.reason, "request body too large");
  EXPECT_FALSE(declared.detail.empty());
  // Exactly at the limit is fine.
  EXPECT_EQ(ParseHttpRequest(Post("/validate", std::string(100, ' ')), small).outcome,
            Outcome::kComplete);
  // Chunked: the sum of the chunks counts, not any one chunk.
  const std::string chunked =
      "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      Chunked(std::string(150, 'x'), 60);
  const ParsedHttpRequest streamed = ParseHttpRequest(chunked, small);
  EXPECT_EQ(streamed.outcome, Outcome::kRefused);
  EXPECT_EQ(streamed.status, 413);
  // The server's own limit: refused on the header alone, before any body arrives.
  const ParsedHttpRequest huge =
      ParseHttpRequest("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                           std::to_string(kServerLimits.body_limit + 1) + "\r\n\r\n",
                       kServerLimits);
  EXPECT_EQ(huge.outcome, Outcome::kRefused);
  EXPECT_EQ(huge.status, 413);
}

TEST(ParseHttpRequest, HeadersOverTheLimitAre431) {
  const std::string padding(kServerLimits.header_limit, 'a');
  const std::string bytes =
      "POST /validate HTTP/1.1\r\nHost: x\r\nX-Padding: " + padding + "\r\n\r\n{}";
  const ParsedHttpRequest parsed = ParseHttpRequest(bytes, kServerLimits);
  EXPECT_EQ(parsed.outcome, Outcome::kRefused);
  EXPECT_EQ(parsed.status, 431);
  EXPECT_EQ(parsed.reason, "request header fields too large");
  // Still 431 when the headers never end: the limit, not the missing blank line, decides.
  const ParsedHttpRequest endless =
      ParseHttpRequest("GET /metrics HTTP/1.1\r\nX-Padding: " + padding, kServerLimits);
  EXPECT_EQ(endless.outcome, Outcome::kRefused);
  EXPECT_EQ(endless.status, 431);
  // Just under the limit is fine.
  const std::string fits =
      "POST /validate HTTP/1.1\r\nX: " + std::string(kServerLimits.header_limit - 40, 'a') +
      "\r\n\r\n";
  EXPECT_EQ(ParseHttpRequest(fits, kServerLimits).outcome, Outcome::kComplete);
}

// Beast alone limits only the bytes one read leaves unparsed: reads that each end one byte past a
// field's line break would let a header of any size through. The limit counts across reads.
TEST(ParseHttpRequest, HeaderLimitHoldsAcrossReads) {
  std::string bytes = "POST /validate HTTP/1.1\r\nHost: x\r\n";
  while (bytes.size() < 4 * kServerLimits.header_limit) {
    bytes += "X-Padding: " + std::string(1000, 'a') + "\r\n";
  }
  bytes += "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  std::vector<std::string_view> reads;
  std::size_t start = 0;
  for (std::size_t eol = bytes.find("\r\n"); eol != std::string::npos && eol + 3 < bytes.size();
       eol = bytes.find("\r\n", eol + 2)) {
    reads.push_back(std::string_view(bytes).substr(start, eol + 3 - start));
    start = eol + 3;
  }
  reads.push_back(std::string_view(bytes).substr(start));
  ASSERT_GT(reads.size(), 60u);
  const ParsedHttpRequest parsed = ParseHttpRequestInPieces(reads, kServerLimits);
  EXPECT_EQ(parsed.outcome, Outcome::kRefused);
  EXPECT_EQ(parsed.status, 431);
  EXPECT_EQ(ParseHttpRequest(bytes, kServerLimits).status, 431);
  // A header of exactly the limit passes, one byte more does not, however it is cut.
  const std::string head = "POST /validate HTTP/1.1\r\nX: ";
  const std::string tail = "\r\n\r\n";
  const std::string exact =
      head + std::string(kServerLimits.header_limit - head.size() - tail.size(), 'a') + tail;
  ASSERT_EQ(exact.size(), kServerLimits.header_limit);
  const std::string over = head + "a" + exact.substr(head.size());
  for (std::size_t cut = 0; cut <= exact.size(); cut += 1021) {
    const std::string_view exact_pieces[] = {std::string_view(exact).substr(0, cut),
                                             std::string_view(exact).substr(cut)};
    EXPECT_EQ(ParseHttpRequestInPieces(exact_pieces, kServerLimits).outcome, Outcome::kComplete)
        << cut;
    const std::string_view over_pieces[] = {std::string_view(over).substr(0, cut),
                                            std::string_view(over).substr(cut)};
    EXPECT_EQ(ParseHttpRequestInPieces(over_pieces, kServerLimits).status, 431) << cut;
  }
}

// A head over its limit that also declares a body over the body limit is 431, however it is cut:
// Beast may find the Content-Length first, in the read that completes the head.
TEST(ParseHttpRequest, HeadOverItsLimitComesBeforeTheBodyLimit) {
  const HttpLimits limits{.body_limit = 2048, .header_limit = 1024};
  std::string bytes = "POST /validate HTTP/1.1\r\nHost: x\r\n";
  while (bytes.size() < 1250) bytes += "X-Padding: " + std::string(60, 't') + "\r\n";
  bytes += "Content-Length: 6561\r\n\r\n" + std::string(200, '{');
  EXPECT_EQ(ParseHttpRequest(bytes, limits).status, 431);
  int refused = 0;
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    const std::string_view pieces[] = {std::string_view(bytes).substr(0, cut),
                                       std::string_view(bytes).substr(cut)};
    const ParsedHttpRequest parsed = ParseHttpRequestInPieces(pieces, limits);
    EXPECT_EQ(parsed.status, 431) << cut;
    refused += parsed.status == 431 ? 1 : 0;
  }
  EXPECT_EQ(refused, static_cast<int>(bytes.size()) - 1);
  // A head within its limit, with more bytes after it than the head limit: 413, however it is cut.
  std::string small = "POST /validate HTTP/1.1\r\nHost: x\r\n";
  while (small.size() < 800) small += "X-Padding: " + std::string(60, 't') + "\r\n";
  small += "Content-Length: 6561\r\n\r\n" + std::string(700, '{');
  EXPECT_EQ(ParseHttpRequest(small, limits).status, 413);
  for (std::size_t cut = 1; cut < small.size(); ++cut) {
    const std::string_view pieces[] = {std::string_view(small).substr(0, cut),
                                       std::string_view(small).substr(cut)};
    EXPECT_EQ(ParseHttpRequestInPieces(pieces, limits).status, 413) << cut;
  }
}

TEST(ParseHttpRequest, MalformedIs400) {
  for (const std::string& bytes : {
           std::string("PO ST /validate HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("POST /validate HTTP/9.1\r\nHost: x\r\n\r\n"),
           std::string("POST /validate HTTP/1.1\r\nHost x\r\n\r\n"),
           std::string("POST /validate HTTP/1.1\r\nContent-Length: ten\r\n\r\n"),
           std::string("POST /validate HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
           std::string("POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // TLS on plain HTTP
       }) {
    const ParsedHttpRequest parsed = ParseHttpRequest(bytes, kServerLimits);
    EXPECT_EQ(parsed.outcome, Outcome::kRefused) << bytes;
    EXPECT_EQ(parsed.status, 400) << bytes;
    EXPECT_EQ(parsed.reason, "malformed HTTP request") << bytes;
    EXPECT_FALSE(parsed.detail.empty()) << bytes;
  }
}

// Beast checks a header that arrived in several reads again only when it is complete: a bad
// request line is a 400 at once when it arrives whole, and once the blank line follows otherwise.
TEST(ParseHttpRequest, MalformedHeaderInPiecesIs400OnceComplete) {
  const std::string_view bytes = "PO ST /validate HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(ParseHttpRequest(bytes, kServerLimits).status, 400);
  const std::string_view cut[] = {bytes.substr(0, 10), bytes.substr(10)};
  EXPECT_EQ(ParseHttpRequestInPieces(cut, kServerLimits).outcome, Outcome::kIncomplete);
  const std::string_view completed[] = {bytes.substr(0, 10), bytes.substr(10), "\r\n"};
  const ParsedHttpRequest parsed = ParseHttpRequestInPieces(completed, kServerLimits);
  EXPECT_EQ(parsed.outcome, Outcome::kRefused);
  EXPECT_EQ(parsed.status, 400);
}

TEST(ParseHttpRequest, IncompleteWaitsForMore) {
  const std::string bytes = Post("/validate", ReviewRealistic());
  for (const std::size_t length : {std::size_t{0}, std::size_t{1}, std::size_t{20},
                                   bytes.find("\r\n\r\n") + 2, bytes.size() - 1}) {
    const ParsedHttpRequest parsed =
        ParseHttpRequest(std::string_view(bytes).substr(0, length), kServerLimits);
    EXPECT_EQ(parsed.outcome, Outcome::kIncomplete) << length;
    EXPECT_EQ(parsed.status, 0);
    EXPECT_EQ(parsed.consumed, 0u);
  }
  const std::string chunked_open =
      "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
  EXPECT_EQ(ParseHttpRequest(chunked_open, kServerLimits).outcome, Outcome::kIncomplete);
}

// The trailer section after the last chunk was bounded by nothing: Beast buffers it whole, so a
// connection could grow the process by gigabytes. It is held to the header limit, however cut.
TEST(ParseHttpRequest, TrailersAreBoundedByTheHeaderLimit) {
  const std::string head =
      "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string small_trailers =
      head + "2\r\n{}\r\n0\r\nX-Checksum: abc\r\nX-Other: " + std::string(1000, 'b') + "\r\n\r\n";
  const ParsedHttpRequest fine = ParseHttpRequest(small_trailers, kServerLimits, kNow);
  ASSERT_EQ(fine.outcome, Outcome::kComplete) << fine.detail;
  EXPECT_EQ(fine.request.body, "{}");
  EXPECT_EQ(fine.request.content_type, "application/json");
  EXPECT_EQ(fine.consumed, small_trailers.size());

  std::string endless = head + "2\r\n{}\r\n0\r\n";
  while (endless.size() < 4 * kServerLimits.header_limit) {
    endless += "X-Trailer: " + std::string(100, 'a') + "\r\n";
  }
  const ParsedHttpRequest whole = ParseHttpRequest(endless, kServerLimits, kNow);
  EXPECT_EQ(whole.outcome, Outcome::kRefused);
  EXPECT_EQ(whole.status, 431);
  // In reads of a line each, as a slow client sends them: refused once a header limit is held.
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t eol = endless.find("\r\n"); eol != std::string::npos;
       eol = endless.find("\r\n", eol + 2)) {
    lines.push_back(std::string_view(endless).substr(start, eol + 2 - start));
    start = eol + 2;
  }
  const ParsedHttpRequest split = ParseHttpRequestInPieces(lines, kServerLimits, kNow);
  EXPECT_EQ(split.outcome, Outcome::kRefused);
  EXPECT_EQ(split.status, 431);
  // Trailers cannot replace the head's Content-Type.
  const ParsedHttpRequest sneaky = ParseHttpRequest(
      head + "2\r\n{}\r\n0\r\nContent-Type: text/plain\r\n\r\n", kServerLimits, kNow);
  ASSERT_EQ(sneaky.outcome, Outcome::kComplete) << sneaky.detail;
  EXPECT_EQ(sneaky.request.content_type, "application/json");
}

// Chunk-size lines and their extensions are bytes of the request too: one line is held to the
// header limit, and all the framing counts against the body limit with the data.
TEST(ParseHttpRequest, ChunkLinesAndExtensionsCount) {
  const std::string head =
      "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string long_extension = head + "2;name=" + std::string(20 * 1024, 'e');
  EXPECT_EQ(ParseHttpRequest(long_extension, kServerLimits).status, 431);
  const std::string_view cut[] = {std::string_view(long_extension).substr(0, 100),
                                  std::string_view(long_extension).substr(100)};
  EXPECT_EQ(ParseHttpRequestInPieces(cut, kServerLimits).status, 431);
  EXPECT_EQ(ParseHttpRequest(head + "2;a=b;c\r\n{}\r\n0;last\r\n\r\n", kServerLimits).outcome,
            Outcome::kComplete);

  // 100 bytes of data in 1-byte chunks with long extensions: 100 bytes of body, far more on the
  // wire. The wire is what is held and read, so it is what counts.
  const HttpLimits small{.body_limit = 1000, .header_limit = 1024};
  std::string framed = head;
  for (int i = 0; i < 100; ++i) framed += "1;pad=" + std::string(20, 'p') + "\r\nx\r\n";
  framed += "0\r\n\r\n";
  const ParsedHttpRequest parsed = ParseHttpRequest(framed, small);
  EXPECT_EQ(parsed.outcome, Outcome::kRefused);
  EXPECT_EQ(parsed.status, 413);
  std::string plain = head;
  for (int i = 0; i < 100; ++i) plain += "1\r\nx\r\n";
  plain += "0\r\n\r\n";
  EXPECT_EQ(ParseHttpRequest(plain, small).outcome, Outcome::kComplete);
}

// The process-wide budget: a Content-Length is reserved when the head arrives, a chunked body as
// it grows, and both are given back when the reader is done with the request.
TEST(HttpRequestReader, ReservesBodiesAgainstTheBudget) {
  RequestByteBudget budget(10'000);
  const std::string body(6'000, ' ');
  const std::string request = Post("/validate", body);
  const std::string head = request.substr(0, request.size() - body.size());
  HttpRequestReader first(kServerLimits, &budget);
  std::size_t used = 0;
  EXPECT_EQ(first.Parse(head, &used), HttpRequestReader::Status::kNeedMore);
  EXPECT_EQ(budget.used(), 6'000u) << "reserved from Content-Length before the body arrives";

  // A second such request does not fit while the first is held: 503, before its body is read.
  HttpRequestReader second(kServerLimits, &budget);
  EXPECT_EQ(second.Parse(head, &used), HttpRequestReader::Status::kRefused);
  EXPECT_EQ(second.status(), 503);
  EXPECT_EQ(budget.used(), 6'000u);

  EXPECT_EQ(first.Parse(body, &used), HttpRequestReader::Status::kComplete);
  EXPECT_EQ(first.TakeBody(), body);
  first.ReleaseBudget();
  EXPECT_EQ(budget.used(), 0u);
  second.Begin();
  EXPECT_EQ(second.Parse(request, &used), HttpRequestReader::Status::kComplete);
  EXPECT_EQ(budget.used(), 6'000u);
  second.Begin();  // the next request gives the last one's reservation back
  EXPECT_EQ(budget.used(), 0u);

  // Chunked: reserved as the chunks arrive, so the refusal comes when the budget is spent.
  const std::string chunked =
      "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "\r\n" +
      Chunked(std::string(20'000, 'c'), 1000);
  const ParsedHttpRequest refused = ParseHttpRequest(chunked, kServerLimits, kNow, &budget);
  EXPECT_EQ(refused.outcome, Outcome::kRefused);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.reason, "server busy: too many request bytes buffered; retry");
  EXPECT_EQ(budget.used(), 0u) << "a refused request gives its reservation back";
  RequestByteBudget roomy(64 * 1024);
  const ParsedHttpRequest fits = ParseHttpRequest(chunked, kServerLimits, kNow, &roomy);
  ASSERT_EQ(fits.outcome, Outcome::kComplete) << fits.detail;
  EXPECT_EQ(fits.request.body.size(), 20'000u);
  EXPECT_EQ(roomy.used(), 0u);
}

}  // namespace
}  // namespace palisade::server
