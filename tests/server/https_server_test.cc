// The server as the API server sees it: real TLS on port 0 with certificates made here, a client
// that verifies the serving certificate for palisade.palisade-system.svc and keeps its
// connection alive, and the real policy loader and admission review behind it.

#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "server/certificates.h"
#include "server/logging.h"
#include "server/routes.h"
#include "server/service.h"
#include "tests/support/https_client.h"
#include "tests/support/serve_options.h"
#include "tests/support/serve_process.h"
#include "tests/support/test_files.h"

namespace palisade::server {
namespace {

using test::DefaultPolicy;
using test::HttpsClient;
using test::kServiceHost;
using test::KubeletDir;
using test::PlainGet;
using test::Reply;
using test::TempDir;
using test::WriteFile;

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

IssuedCertificate Issue(std::string common_name, std::vector<std::string> dns_names, bool is_ca,
                        long serial, const IssuedCertificate* issuer) {
  CertificateRequest request;
  request.common_name = std::move(common_name);
  request.dns_names = std::move(dns_names);
  request.is_ca = is_ca;
  request.serial = serial;
  std::string error;
  auto issued = IssueCertificate(request, issuer, &error);
  EXPECT_TRUE(issued) << error;
  return issued.value_or(IssuedCertificate{});
}

std::string Review(const std::string& api_version, const std::string& uid, bool privileged) {
  return R"({"apiVersion":")" + api_version + R"(","kind":"AdmissionReview","request":{"uid":")" +
         uid +
         R"(","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"containers":[{"name":"app","image":"nginx:1.27","securityContext":{"privileged":)" +
         (privileged ? "true" : "false") + "}}]}}}}";
}

// Polls /metrics until it has `line` (a reload is asynchronous) or 10 s pass.
void WaitForMetricLine(std::uint16_t metrics_port, const std::string& line) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (PlainGet(metrics_port, "/metrics").body.find(line) == std::string::npos &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Sends `bytes` to the plain-HTTP port and returns everything read until the server closes.
std::string PlainExchange(std::uint16_t port, const std::string& bytes) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(stream, net::buffer(bytes));
  std::string received;
  beast::error_code ec;
  char chunk[4096];
  for (;;) {
    const std::size_t n = stream.read_some(net::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) break;
  }
  return received;
}

// Checks a 200 AdmissionReview answer strictly and returns response.allowed.
bool ExpectReviewAnswer(const Reply& reply, const std::string& api_version,
                        const std::string& uid) {
  EXPECT_EQ(reply.status, 200u) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  rapidjson::Document json;
  json.Parse(reply.body.c_str());
  EXPECT_FALSE(json.HasParseError()) << reply.body;
  if (json.HasParseError() || !json.IsObject()) return false;
  EXPECT_EQ(std::string(json["apiVersion"].GetString()), api_version);
  EXPECT_EQ(std::string(json["kind"].GetString()), "AdmissionReview");
  const auto& response = json["response"];
  EXPECT_EQ(std::string(response["uid"].GetString()), uid);
  const bool allowed = response["allowed"].GetBool();
  if (!allowed) {
    EXPECT_EQ(response["status"]["code"].GetInt(), 403) << reply.body;
    EXPECT_EQ(std::string(response["status"]["reason"].GetString()), "Forbidden");
  }
  EXPECT_FALSE(response.HasMember("patch")) << "/validate never patches";
  return allowed;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = Issue("palisade-test-ca", {}, true, 100, nullptr);
    serving_ = Issue(kServiceHost, {kServiceHost, "palisade.palisade-system"}, false, 1, &ca_);
    cert_file_ = dir_.path() + "/tls.crt";
    key_file_ = dir_.path() + "/tls.key";
    ca_file_ = dir_.path() + "/ca.crt";
    WriteFile(cert_file_, serving_.cert_pem);
    WriteFile(key_file_, serving_.key_pem);
    WriteFile(ca_file_, ca_.cert_pem);
    std::filesystem::create_directory(dir_.path() + "/policies");
    policies_.Publish({{"default.yaml", DefaultPolicy("baseline")}});
  }

  std::unique_ptr<AdmissionService> StartService(const std::string& client_ca = "") {
    const ServeOptions options =
        test::QuickServeOptions(policies_.path(), {cert_file_, key_file_, client_ca});
    auto service = std::make_unique<AdmissionService>(options, logger_);
    std::string error;
    EXPECT_TRUE(service->Start(&error)) << error;
    return service;
  }

  std::ostringstream log_;
  Logger logger_{LogLevel::kDebug, LogFormat::kJson, &log_};
  TempDir dir_;
  IssuedCertificate ca_, serving_;
  std::string cert_file_, key_file_, ca_file_;
  KubeletDir policies_{dir_.path() + "/policies"};
};

TEST_F(ServerTest, AnswersReviewsLikeTheApiServerExpectsOnOneConnection) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error()) << client.error().message();

  const Reply allowed = client.Admit("/validate", Review("admission.k8s.io/v1", "uid-1", false));
  EXPECT_TRUE(ExpectReviewAnswer(allowed, "admission.k8s.io/v1", "uid-1"));
  EXPECT_TRUE(allowed.keep_alive);

  const Reply denied = client.Admit("/validate", Review("admission.k8s.io/v1", "uid-2", true));
  EXPECT_FALSE(ExpectReviewAnswer(denied, "admission.k8s.io/v1", "uid-2"));

  const Reply beta = client.Admit("/validate", Review("admission.k8s.io/v1beta1", "uid-3", true));
  EXPECT_FALSE(ExpectReviewAnswer(beta, "admission.k8s.io/v1beta1", "uid-3"));
  EXPECT_EQ(service->tls().certificate_serial(), client.PeerSerial());

  // The denial is logged as one JSON line with the request's identity.
  EXPECT_NE(
      log_.str().find(
          R"("msg":"admission","endpoint":"validate","decision":"denied","uid":"uid-2","namespace":"shop","name":"web","kind":"Pod","operation":"CREATE","user":"alice","policy":"cluster-default","checks":["privileged"],"warnings":0,"defaults":[],"exemptions":[],"patch_ops":0,"latency_us":)"),
      std::string::npos)
      << log_.str();
}

// A review over the cap on what a review builds is answered 413 with the reason, counted as a 413
// and logged as too large (not as malformed); the connection serves the next review.
TEST_F(ServerTest, AReviewTooLargeToJudgeIs413AndLoggedSo) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error()) << client.error().message();
  std::string containers = "{}";
  for (int i = 0; i < 500'000; ++i) containers += ",{}";
  std::string review = Review("admission.k8s.io/v1", "big", false);
  const std::string from = R"("containers":[)";
  const std::size_t at = review.find(from);
  ASSERT_NE(at, std::string::npos) << review;
  review.insert(at + from.size(), containers + ",");

  const Reply reply = client.Post("/validate", review);
  EXPECT_EQ(reply.status, 413u);
  EXPECT_NE(reply.body.find("review too large to judge: more than 500000 JSON values"),
            std::string::npos)
      << reply.body;
  EXPECT_NE(
      log_.str().find(
          R"("msg":"admission request too large to judge","endpoint":"validate","status":413)"),
      std::string::npos)
      << log_.str();
  const Reply next = client.Admit("/validate", Review("admission.k8s.io/v1", "after", false));
  EXPECT_TRUE(ExpectReviewAnswer(next, "admission.k8s.io/v1", "after"));
}

// A log stream the test may read while the server writes to it.
class LockedLog : public std::stringbuf {
 public:
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return str();
  }
  int writes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return writes_;
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::stringbuf::xsputn(s, n);
  }
  int sync() override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++writes_;
    return 0;
  }

 private:
  std::mutex mutex_;
  int writes_ = 0;
};

// As `serve` runs it: an event loop holds its handlers' info lines and writes them together after
// the work ready with them, without waiting for anything else to happen.
TEST_F(ServerTest, HeldLogLinesAreWrittenByTheLoopAfterTheAnswer) {
  LockedLog buffer;
  std::ostream out(&buffer);
  Logger logger(LogLevel::kInfo, LogFormat::kJson, &out);
  logger.HoldLines(true);
  const ServeOptions options =
      test::QuickServeOptions(policies_.path(), {cert_file_, key_file_, ""});
  AdmissionService service(options, logger);
  std::string error;
  ASSERT_TRUE(service.Start(&error)) << error;
  HttpsClient client(service.port(), ca_.cert_pem);
  ASSERT_FALSE(client.error()) << client.error().message();

  const int writes_before = buffer.writes();
  for (const char* uid : {"held-1", "held-2"}) {
    const Reply denied = client.Admit("/validate", Review("admission.k8s.io/v1", uid, true));
    EXPECT_FALSE(ExpectReviewAnswer(denied, "admission.k8s.io/v1", uid));
    const std::string line = std::string(R"("decision":"denied","uid":")") + uid + '"';
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (buffer.Text().find(line) == std::string::npos && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_NE(buffer.Text().find(line), std::string::npos) << buffer.Text();
  }
  // One write per answer here (each answer was a burst of its own), none held back.
  EXPECT_EQ(buffer.writes() - writes_before, 2) << buffer.Text();
  service.Shutdown();
}

// The request-size hook (the binary tunes its allocator by it) hears of each admission request's
// body, before its answer, and of nothing else the listener serves.
std::atomic<std::size_t> heard_requests{0};
std::atomic<std::size_t> heard_bytes{0};
void HearRequestSize(std::size_t bytes) {
  heard_requests.fetch_add(1);
  heard_bytes.fetch_add(bytes);
}

TEST_F(ServerTest, TheRequestSizeHookHearsEachAdmissionBody) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error()) << client.error().message();
  heard_requests = 0;
  heard_bytes = 0;
  SetRequestSizeHook(&HearRequestSize);
  const std::string small = Review("admission.k8s.io/v1", "uid-1", false);
  // A review padded past a megabyte with a long annotation: what makes the binary keep pages.
  std::string large = small;
  large.insert(large.find(R"("metadata":{)") + 12,
               R"("annotations":{"a":")" + std::string(std::size_t{1} << 20, 'x') + R"("},)");
  EXPECT_TRUE(ExpectReviewAnswer(client.Admit("/validate", small), "admission.k8s.io/v1", "uid-1"));
  EXPECT_TRUE(ExpectReviewAnswer(client.Admit("/mutate", large), "admission.k8s.io/v1", "uid-1"));
  SetRequestSizeHook(nullptr);
  EXPECT_TRUE(ExpectReviewAnswer(client.Admit("/validate", small), "admission.k8s.io/v1", "uid-1"));
  EXPECT_EQ(heard_requests.load(), 2u);
  EXPECT_EQ(heard_bytes.load(), small.size() + large.size());
}

// The mutating and validating webhooks in sequence, as the API server runs them: the pod fails
// `restricted` as written, /mutate's patch (applied by python3-jsonpatch, an independent RFC 6902
// implementation) fills in the namespace defaults, /validate then allows the result, and a second
// /mutate of it has nothing left to add.
TEST_F(ServerTest, MutatedPodPassesValidationEndToEnd) {
  policies_.Publish(
      {{"default.yaml", DefaultPolicy("restricted") +
                            "  defaults:\n    seccompProfile: {type: RuntimeDefault}\n"
                            "    capabilities: {drop: [ALL]}\n"
                            "    allowPrivilegeEscalation: false\n    runAsNonRoot: true\n"}});
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error()) << client.error().message();
  const std::string pod =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},)"
      R"("spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}})";
  auto review = [](const std::string& uid, const std::string& object) {
    return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":")" +
           uid +
           R"(","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},"object":)" +
           object + "}}";
  };
  EXPECT_FALSE(ExpectReviewAnswer(client.Admit("/validate", review("v1", pod)),
                                  "admission.k8s.io/v1", "v1"));

  const Reply mutated = client.Admit("/mutate", review("m1", pod));
  ASSERT_EQ(mutated.status, 200u) << mutated.body;
  rapidjson::Document answer;
  answer.Parse(mutated.body.c_str());
  ASSERT_TRUE(answer.IsObject() && answer.HasMember("response")) << mutated.body;
  const rapidjson::Value& response = answer["response"];
  EXPECT_STREQ(response["uid"].GetString(), "m1");
  EXPECT_TRUE(response["allowed"].GetBool());
  ASSERT_TRUE(response.HasMember("patch")) << mutated.body;
  EXPECT_STREQ(response["patchType"].GetString(), "JSONPatch");
  const std::string encoded = response["patch"].GetString();
  std::string patch(encoded.size(), '\0');
  const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(patch.data()),
                                      reinterpret_cast<const unsigned char*>(encoded.data()),
                                      static_cast<int>(encoded.size()));
  ASSERT_GT(decoded, 0);
  patch.resize(static_cast<std::size_t>(decoded) - std::count(encoded.begin(), encoded.end(), '='));

  WriteFile(dir_.path() + "/pod.json", pod);
  WriteFile(dir_.path() + "/patch.json", patch);
  const std::string command =
      "python3 -c 'import json,sys,jsonpatch; "
      "print(json.dumps(jsonpatch.apply_patch(json.load(open(sys.argv[1])), "
      "json.load(open(sys.argv[2])))))' " +
      dir_.path() + "/pod.json " + dir_.path() + "/patch.json";
  FILE* python = popen(command.c_str(), "r");
  ASSERT_NE(python, nullptr);
  std::string patched;
  char chunk[4096];
  while (const std::size_t n = fread(chunk, 1, sizeof(chunk), python)) patched.append(chunk, n);
  ASSERT_EQ(pclose(python), 0) << patch;

  const Reply validated = client.Admit("/validate", review("v2", patched));
  EXPECT_TRUE(ExpectReviewAnswer(validated, "admission.k8s.io/v1", "v2")) << patched;
  const Reply again = client.Admit("/mutate", review("m2", patched));
  EXPECT_EQ(again.status, 200u);
  EXPECT_NE(again.body.find(R"("uid":"m2","allowed":true)"), std::string::npos) << again.body;
  EXPECT_EQ(again.body.find("\"patch\""), std::string::npos) << again.body;
}

TEST_F(ServerTest, RefusesWhatIsNotAnAdmissionRequest) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error());

  const Reply malformed = client.Admit("/validate", "{\"apiVersion\":");
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_FALSE(malformed.body.empty());

  const Reply not_found = client.Admit("/admit", Review("admission.k8s.io/v1", "u", false));
  EXPECT_EQ(not_found.status, 404u);
  EXPECT_EQ(not_found.body, "not found: the admission endpoints are /validate and /mutate\n");

  const Reply wrong_method = client.Send(http::verb::get, "/validate", "", "");
  EXPECT_EQ(wrong_method.status, 405u);
  EXPECT_EQ(wrong_method.allow, "POST");

  const Reply wrong_type = client.Send(http::verb::post, "/validate",
                                       Review("admission.k8s.io/v1", "u", false), "text/plain");
  EXPECT_EQ(wrong_type.status, 415u);
  EXPECT_TRUE(wrong_type.keep_alive);

  // Still usable after all of that.
  EXPECT_TRUE(
      ExpectReviewAnswer(client.Admit("/validate", Review("admission.k8s.io/v1", "ok", false)),
                         "admission.k8s.io/v1", "ok"));

  const Reply too_large = client.Admit("/validate", std::string(9 * 1024 * 1024, ' '));
  EXPECT_EQ(too_large.status, 413u);
  EXPECT_FALSE(too_large.keep_alive);

  const std::string metrics = PlainGet(service->metrics_port(), "/metrics").body;
  for (const char* line : {"palisade_http_errors_total{code=\"400\"} 1\n",
                           "palisade_http_errors_total{code=\"404\"} 1\n",
                           "palisade_http_errors_total{code=\"405\"} 1\n",
                           "palisade_http_errors_total{code=\"413\"} 1\n",
                           "palisade_http_errors_total{code=\"415\"} 1\n"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << metrics;
  }
}

TEST_F(ServerTest, GarbageInsteadOfTlsClosesThatConnectionOnly) {
  auto service = StartService();
  {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), service->port()));
    net::write(socket, net::buffer(std::string("GET /validate HTTP/1.1\r\nHost: x\r\n\r\n")));
    char sink[1024];
    beast::error_code ec;
    while (!ec) socket.read_some(net::buffer(sink), ec);  // the server closes it
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  }
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error());
  EXPECT_TRUE(
      ExpectReviewAnswer(client.Admit("/validate", Review("admission.k8s.io/v1", "u", false)),
                         "admission.k8s.io/v1", "u"));
}

// The server reads TLS records itself: a request cut into one-byte records, and requests
// pipelined in one record, are each answered, in order, on the same connection.
TEST_F(ServerTest, RequestsInTinyRecordsAndPipelinedRequestsAreAnsweredInOrder) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error());
  const auto request = [](const std::string& uid, bool privileged) {
    const std::string body = Review("admission.k8s.io/v1", uid, privileged);
    return "POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::string tiny = request("tiny", true);
  for (char byte : tiny) ASSERT_FALSE(client.WriteRaw(std::string(1, byte)));
  ASSERT_FALSE(client.WriteRaw(request("second", false) + request("third", true)));
  EXPECT_FALSE(ExpectReviewAnswer(client.ReadReply(), "admission.k8s.io/v1", "tiny"));
  EXPECT_TRUE(ExpectReviewAnswer(client.ReadReply(), "admission.k8s.io/v1", "second"));
  EXPECT_FALSE(ExpectReviewAnswer(client.ReadReply(), "admission.k8s.io/v1", "third"));
  // The connection is still good for the next one.
  EXPECT_TRUE(
      ExpectReviewAnswer(client.Admit("/validate", Review("admission.k8s.io/v1", "after", false)),
                         "admission.k8s.io/v1", "after"));
}

// One review over a fresh TLS connection limited to `version`, offering `resume` when not null;
// returns the connection's session (the caller frees it) and sets *resumed and *answered.
SSL_SESSION* ReviewOverFreshConnection(std::uint16_t port, const std::string& ca_pem, int version,
                                       SSL_SESSION* resume, bool* resumed, bool* answered) {
  *resumed = false;
  *answered = false;
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(context, version);
  SSL_CTX_set_max_proto_version(context, version);
  // Client-side caching on, as a client that resumes would have it.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT);
  BIO* pem = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  X509* ca = PEM_read_bio_X509(pem, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(context), ca);
  X509_free(ca);
  BIO_free(pem);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  SSL* ssl = SSL_new(context);
  SSL_set_fd(ssl, socket.native_handle());
  SSL_set_tlsext_host_name(ssl, kServiceHost);
  if (resume != nullptr) SSL_set_session(ssl, resume);
  SSL_SESSION* session = nullptr;
  if (SSL_connect(ssl) == 1) {
    const std::string body = Review("admission.k8s.io/v1", "resume", false);
    const std::string request =
        "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    // Read the whole answer on the open connection (tickets, if any, come before it), then close
    // cleanly, so nothing but the server's choice can make the session unresumable.
    std::string received;
    char chunk[4096];
    while (received.find("\"uid\":\"resume\"") == std::string::npos || received.back() != '}') {
      const int n = SSL_read(ssl, chunk, sizeof chunk);
      if (n <= 0) break;
      received.append(chunk, n);
    }
    *answered = received.rfind("HTTP/1.1 200", 0) == 0;
    *resumed = SSL_session_reused(ssl) == 1;
    session = SSL_get1_session(ssl);
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  SSL_CTX_free(context);
  return session;
}

// The API server never resumes a session, so the server offers none: no TLS 1.3 tickets, no TLS
// 1.2 session IDs or tickets, and nothing cached that a stream of handshakes could fill.
TEST_F(ServerTest, NoTlsSessionIsOfferedOrResumed) {
  auto service = StartService();
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
    bool resumed = false;
    bool answered = false;
    SSL_SESSION* first = ReviewOverFreshConnection(service->port(), ca_.cert_pem, version, nullptr,
                                                   &resumed, &answered);
    ASSERT_NE(first, nullptr);
    EXPECT_TRUE(answered);
    EXPECT_EQ(SSL_SESSION_has_ticket(first), 0) << "the server sent a session ticket";
    unsigned id_length = 0;
    SSL_SESSION_get_id(first, &id_length);
    if (version == TLS1_2_VERSION) {
      EXPECT_EQ(id_length, 0u) << "a TLS 1.2 session ID was issued";
    }
    // Offered anyway, it is not taken: the second connection is a full handshake.
    SSL_SESSION* second = ReviewOverFreshConnection(service->port(), ca_.cert_pem, version, first,
                                                    &resumed, &answered);
    EXPECT_TRUE(answered);
    EXPECT_FALSE(resumed);
    SSL_SESSION_free(second);
    SSL_SESSION_free(first);
  }
}

// An idle keep-alive connection holds no request body or answer: memory follows requests in
// flight, not connections, however large the last review was. Counted as the heap's bytes in use
// (glibc's accounting); sanitizers keep freed memory in quarantine, so they skip it.
TEST_F(ServerTest, IdleConnectionsHoldNoRequestOrAnswerBuffers) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer's allocator keeps freed memory";
#else
  auto service = StartService();
  constexpr int kConnections = 16;
  constexpr std::size_t kNote = 2 * 1024 * 1024;
  std::string review = Review("admission.k8s.io/v1", "big", false);
  const std::string metadata = R"("metadata":{"name":"web","namespace":"shop")";
  const std::size_t at = review.find(metadata);
  ASSERT_NE(at, std::string::npos);
  review.insert(at + metadata.size(),
                R"(,"annotations":{"note":")" + std::string(kNote, 'x') + R"("})");
  const auto in_use = [] {
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
  };
  std::vector<std::unique_ptr<HttpsClient>> idle;
  {
    HttpsClient warm(service->port(), ca_.cert_pem);  // the server's one-time allocations
    ASSERT_TRUE(ExpectReviewAnswer(warm.Admit("/validate", review), "admission.k8s.io/v1", "big"));
  }
  const std::size_t before = in_use();
  for (int i = 0; i < kConnections; ++i) {
    idle.push_back(std::make_unique<HttpsClient>(service->port(), ca_.cert_pem));
    ASSERT_TRUE(
        ExpectReviewAnswer(idle.back()->Admit("/validate", review), "admission.k8s.io/v1", "big"));
  }
  const std::size_t after = in_use();
  // Kept bodies would be 32 MiB here; the clients' own buffers are small.
  EXPECT_LT(after, before + kNote * kConnections / 4)
      << "in use grew by " << (after - before) / 1024 << " KiB over " << kConnections
      << " idle connections";
#endif
}

TEST_F(ServerTest, ClientCertificateRequiredWhenClientCaIsSet) {
  auto service = StartService(ca_file_);
  {
    HttpsClient anonymous(service->port(), ca_.cert_pem);
    // With TLS 1.3 the refusal may arrive after the client's side of the handshake.
    const Reply reply =
        anonymous.error() ? Reply{}
                          : anonymous.Admit("/validate", Review("admission.k8s.io/v1", "u", false));
    EXPECT_EQ(reply.status, 0u) << "a client without a certificate got an answer";
  }
  const IssuedCertificate client_cert = Issue("kube-apiserver", {}, false, 7, &ca_);
  HttpsClient api_server(service->port(), ca_.cert_pem, &client_cert);
  ASSERT_FALSE(api_server.error()) << api_server.error().message();
  EXPECT_TRUE(
      ExpectReviewAnswer(api_server.Admit("/validate", Review("admission.k8s.io/v1", "u", false)),
                         "admission.k8s.io/v1", "u"));
}

// cert-manager rotates the CA that signs the API server's client certificate: the new bundle
// applies to new connections without a restart, and a bad bundle keeps the last good one.
TEST_F(ServerTest, ClientCaBundleReloadedWhenItChanges) {
  const std::string client_ca_file = dir_.path() + "/client-ca.crt";
  WriteFile(client_ca_file, ca_.cert_pem);
  auto service = StartService(client_ca_file);
  const IssuedCertificate other_ca = Issue("other-ca", {}, true, 200, nullptr);
  const IssuedCertificate old_client = Issue("kube-apiserver", {}, false, 8, &ca_);
  const IssuedCertificate new_client = Issue("kube-apiserver", {}, false, 9, &other_ca);
  auto answered = [&](const IssuedCertificate& client_cert) {
    HttpsClient client(service->port(), ca_.cert_pem, &client_cert);
    if (client.error()) return false;
    return client.Admit("/validate", Review("admission.k8s.io/v1", "u", false)).status == 200u;
  };
  EXPECT_TRUE(answered(old_client));
  EXPECT_FALSE(answered(new_client));

  WriteFile(client_ca_file, other_ca.cert_pem);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!answered(new_client) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(answered(new_client));
  EXPECT_FALSE(answered(old_client)) << "the replaced CA still admits its clients";

  // Not a certificate: refused, counted, and the bundle loaded last stays.
  WriteFile(client_ca_file, "not a certificate\n");
  WaitForMetricLine(service->metrics_port(), "palisade_tls_reloads_total{result=\"error\"} 1\n");
  EXPECT_NE(log_.str().find(client_ca_file + ": no PEM CA certificate"), std::string::npos)
      << log_.str();
  EXPECT_TRUE(answered(new_client));
}

TEST_F(ServerTest, MetricsAndProbes) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error());
  ExpectReviewAnswer(client.Admit("/validate", Review("admission.k8s.io/v1", "d", true)),
                     "admission.k8s.io/v1", "d");

  const Reply ready = PlainGet(service->metrics_port(), "/readyz");
  EXPECT_EQ(ready.status, 200u);
  EXPECT_EQ(ready.body, "ok\n");
  EXPECT_EQ(PlainGet(service->metrics_port(), "/healthz").status, 200u);
  EXPECT_EQ(PlainGet(service->metrics_port(), "/nope").status, 404u);

  // HEAD: the headers of GET, no body. A request the parser refuses gets its 4xx, then close.
  EXPECT_EQ(PlainExchange(service->metrics_port(),
                          "HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
            "Content-Length: 3\r\n\r\n");
  EXPECT_EQ(
      PlainExchange(service->metrics_port(), "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                                                 std::string(20 * 1024, 'a') + "\r\n\r\n"),
      "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Connection: close\r\nContent-Length: 32\r\n\r\nrequest header fields too large\n");
  EXPECT_EQ(
      PlainExchange(service->metrics_port(), "GET /readyz HTTP/9\r\n\r\n"),
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
      "Content-Length: 23\r\n\r\nmalformed HTTP request\n");

  const Reply metrics = PlainGet(service->metrics_port(), "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string expiry = "palisade_tls_certificate_expiry_timestamp_seconds " +
                             std::to_string(*service->tls().certificate_expiry());
  const std::string revision = service->policies().Get()->policies().at(0).revision;
  for (const std::string& line : {
           std::string("palisade_requests_total{decision=\"denied\",endpoint=\"validate\","
                       "operation=\"CREATE\",resource=\"pods\"} 1\n"),
           std::string(
               "palisade_request_duration_seconds_bucket{endpoint=\"validate\",le=\"5e-05\"}"),
           std::string("palisade_request_duration_seconds_count{endpoint=\"validate\"} 1\n"),
           std::string("palisade_pss_violations_total{check=\"privileged\",level=\"baseline\","
                       "mode=\"enforce\"} 1\n"),
           std::string("palisade_policy_reloads_total{result=\"success\"} 1\n"),
           std::string("palisade_policy_reloads_total{result=\"error\"} 0\n"),
           "palisade_policy_info{policy=\"cluster-default\",revision=\"" + revision + "\"} 1\n",
           std::string("palisade_tls_reloads_total{result=\"success\"} 1\n"),
           expiry,
       }) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
}

TEST_F(ServerTest, PolicyConfigMapSwapChangesDecisionsAndBadUpdateKeepsThem) {
  auto service = StartService();
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error());
  const std::string privileged_pod = Review("admission.k8s.io/v1", "p", true);
  EXPECT_FALSE(
      ExpectReviewAnswer(client.Admit("/validate", privileged_pod), "admission.k8s.io/v1", "p"));
  const std::string old_revision = service->policies().Get()->policies().at(0).revision;

  // The kubelet swaps ..data: the watcher reloads, and the same connection sees the new decision.
  std::uint64_t loads = service->watcher().loads();
  policies_.Publish({{"default.yaml", DefaultPolicy("privileged")}});
  loads = service->watcher().WaitForLoad(loads, Clock::now() + std::chrono::seconds(10));
  EXPECT_TRUE(
      ExpectReviewAnswer(client.Admit("/validate", privileged_pod), "admission.k8s.io/v1", "p"));
  const std::string new_revision = service->policies().Get()->policies().at(0).revision;
  EXPECT_NE(old_revision, new_revision);
  EXPECT_NE(log_.str().find("\"msg\":\"policy \\\"cluster-default\\\" changed (rev " +
                            old_revision + " -> " + new_revision + ")\""),
            std::string::npos)
      << log_.str();

  // A broken update is refused with its errors logged; the last good set keeps answering.
  policies_.Publish({{"default.yaml", DefaultPolicy("strict")}});
  service->watcher().WaitForLoad(loads, Clock::now() + std::chrono::seconds(10));
  EXPECT_TRUE(
      ExpectReviewAnswer(client.Admit("/validate", privileged_pod), "admission.k8s.io/v1", "p"));
  EXPECT_NE(log_.str().find("\"event\":\"policy_error\",\"file\":"), std::string::npos)
      << log_.str();
  EXPECT_NE(log_.str().find("\"field\":\"spec.podSecurity.enforce\""), std::string::npos);
  const std::string metrics = PlainGet(service->metrics_port(), "/metrics").body;
  EXPECT_NE(metrics.find("palisade_policy_reloads_total{result=\"error\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("palisade_policy_info{policy=\"cluster-default\",revision=\"" +
                         new_revision + "\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("revision=\"" + old_revision + "\""), std::string::npos) << metrics;
  EXPECT_EQ(PlainGet(service->metrics_port(), "/readyz").status, 200u);
}

TEST_F(ServerTest, ReplacedCertificateServesNewHandshakesAndBadFilesKeepTheOld) {
  auto service = StartService();
  HttpsClient before(service->port(), ca_.cert_pem);
  ASSERT_FALSE(before.error());
  EXPECT_EQ(before.PeerSerial(), "01");

  const IssuedCertificate renewed = Issue(kServiceHost, {kServiceHost}, false, 2, &ca_);
  WriteFile(key_file_, renewed.key_pem);
  WriteFile(cert_file_, renewed.cert_pem);
  // The reload timer runs every 50 ms; wait (bounded) for it to pick the pair up.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (service->tls().certificate_serial() != "02" && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  HttpsClient after(service->port(), ca_.cert_pem);
  ASSERT_FALSE(after.error());
  EXPECT_EQ(after.PeerSerial(), "02");
  // The old connection still works.
  EXPECT_TRUE(
      ExpectReviewAnswer(before.Admit("/validate", Review("admission.k8s.io/v1", "u", false)),
                         "admission.k8s.io/v1", "u"));

  // A key that does not match is refused; the renewed pair stays.
  WriteFile(key_file_, serving_.key_pem);
  WaitForMetricLine(service->metrics_port(), "palisade_tls_reloads_total{result=\"error\"} 1\n");
  HttpsClient still(service->port(), ca_.cert_pem);
  ASSERT_FALSE(still.error());
  EXPECT_EQ(still.PeerSerial(), "02");
  EXPECT_NE(log_.str().find("TLS reload failed; keeping the previous certificate"),
            std::string::npos);
}

TEST_F(ServerTest, ShutdownFailsReadinessFinishesInFlightAndClosesKeepAlive) {
  auto service = StartService();
  HttpsClient idle(service->port(), ca_.cert_pem);
  HttpsClient busy(service->port(), ca_.cert_pem);
  ASSERT_FALSE(idle.error());
  ASSERT_FALSE(busy.error());
  EXPECT_TRUE(ExpectReviewAnswer(idle.Admit("/validate", Review("admission.k8s.io/v1", "i", false)),
                                 "admission.k8s.io/v1", "i"));

  // `busy` has a request in flight: headers and half the body sent.
  const std::string body = Review("admission.k8s.io/v1", "inflight", false);
  const std::string head =
      "POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  beast::error_code write_error;
  net::write(busy.stream(), net::buffer(head + body.substr(0, body.size() / 2)), write_error);
  ASSERT_FALSE(write_error) << write_error.message();
  const auto metrics_port = service->metrics_port();
  // On loopback the bytes are in the server's socket once write() returns: the drain sees them.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::jthread shutdown([&] { service->Shutdown(); });
  while (PlainGet(metrics_port, "/readyz").status != 503 && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(PlainGet(metrics_port, "/readyz").body, "not ready: shutting down\n");
  net::write(busy.stream(), net::buffer(body.substr(body.size() / 2)), write_error);
  EXPECT_FALSE(write_error) << write_error.message();
  const Reply last = busy.ReadReply();
  EXPECT_TRUE(ExpectReviewAnswer(last, "admission.k8s.io/v1", "inflight"));
  EXPECT_FALSE(last.keep_alive) << "a draining server answers with Connection: close";
  shutdown.join();
  // The idle keep-alive connection was closed by the server.
  EXPECT_EQ(idle.Send(http::verb::post, "/validate", body).status, 0u);
  EXPECT_NE(log_.str().find("stopped: every connection closed"), std::string::npos) << log_.str();
}

// The metrics port holds at most 64 connections, so scrapers cannot use up file descriptors. Ones
// that send nothing cannot fill it: they are closed after 2 s, and at the cap the longest-silent
// one makes room for a probe. When every connection is mid-request, the probe gets a 503, not a
// reset.
TEST_F(ServerTest, SilentConnectionsCannotFillTheMetricsPort) {
  auto service = StartService();
  net::io_context io;
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), service->metrics_port());
  std::vector<std::unique_ptr<tcp::socket>> silent;
  for (int i = 0; i < 64; ++i) {
    silent.push_back(std::make_unique<tcp::socket>(io));
    silent.back()->connect(endpoint);
  }
  EXPECT_EQ(PlainGet(service->metrics_port(), "/healthz").status, 200u);
  EXPECT_EQ(PlainGet(service->metrics_port(), "/readyz").status, 200u);
  // The last silent one is closed by the first-byte timeout (2 s), well before 8 s.
  {
    tcp::socket& last = *silent.back();
    net::steady_timer guard(io);
    beast::error_code read_error;
    char byte;
    last.async_read_some(net::buffer(&byte, 1), [&](beast::error_code ec, std::size_t) {
      read_error = ec;
      guard.cancel();
    });
    guard.expires_after(std::chrono::seconds(8));
    guard.async_wait([&](beast::error_code ec) {
      if (!ec) last.cancel();
    });
    io.run();
    io.restart();
    EXPECT_TRUE(read_error == net::error::eof || read_error == net::error::connection_reset)
        << read_error.message();
  }
  silent.clear();

  // 64 connections in the middle of a request: the next probe hears why it cannot be served.
  std::vector<std::unique_ptr<tcp::socket>> busy;
  for (int i = 0; i < 64; ++i) {
    busy.push_back(std::make_unique<tcp::socket>(io));
    busy.back()->connect(endpoint);
    net::write(*busy.back(), net::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n")));
  }
  std::string answer;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  do {  // until the server has read every partial request
    answer = PlainExchange(service->metrics_port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  } while (answer.starts_with("HTTP/1.1 200") && Clock::now() < deadline);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << answer;
  EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  busy.clear();
  // Once the server has seen them close (a probe racing their close may still hear 503).
  unsigned status = 0;
  const auto reopened = Clock::now() + std::chrono::seconds(10);
  do {
    status = PlainGet(service->metrics_port(), "/healthz").status;
  } while (status != 200 && Clock::now() < reopened);
  EXPECT_EQ(status, 200u);
}

// The real binary: SIGTERM fails readiness, lets the in-flight request finish, exits 0.
TEST_F(ServerTest, BinaryExitsZeroOnSigterm) {
  test::ServeProcess server(
      PALISADE_BINARY,
      {"--policy-dir", policies_.path(), "--tls-cert-file", cert_file_, "--tls-key-file", key_file_,
       "--shutdown-delay", "300ms", "--shutdown-grace", "10s", "--threads", "2"});
  const std::uint16_t port = server.port();
  const std::uint16_t metrics_port = server.metrics_port();
  ASSERT_NE(port, 0) << "the binary did not start:\n" << server.log();
  EXPECT_EQ(PlainGet(metrics_port, "/readyz").status, 200u);

  HttpsClient busy(port, ca_.cert_pem);
  ASSERT_FALSE(busy.error());
  const std::string body = Review("admission.k8s.io/v1", "inflight", true);
  const std::string head =
      "POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  net::write(busy.stream(), net::buffer(head + body.substr(0, 10)));
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (PlainGet(metrics_port, "/readyz").status != 503 && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(PlainGet(metrics_port, "/readyz").status, 503u);
  net::write(busy.stream(), net::buffer(body.substr(10)));
  const Reply last = busy.ReadReply();
  EXPECT_FALSE(ExpectReviewAnswer(last, "admission.k8s.io/v1", "inflight"));
  EXPECT_FALSE(last.keep_alive);

  const int status = server.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << server.log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << server.log();
}

}  // namespace
}  // namespace palisade::server
