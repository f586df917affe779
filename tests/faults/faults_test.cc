// Faults under load: while several keep-alive connections send reviews back to back, rotate the
// certificate, swap and break the policy ConfigMap, send SIGTERM, throw hostile input and hold
// hundreds of slow connections. Every request of the loaded clients must succeed.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "server/certificates.h"
#include "server/https_server.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls.h"
#include "tests/faults/load_client.h"
#include "tests/support/serve_options.h"
#include "tests/support/serve_process.h"
#include "tests/support/test_files.h"

namespace palisade::faults {
namespace {

using server::AdmissionService;
using server::IssuedCertificate;
using server::Logger;
using server::ServeOptions;
using test::DefaultPolicy;
using test::kServiceHost;
using test::KubeletDir;
using test::TempDir;

IssuedCertificate Issue(std::string common_name, bool is_ca, long serial,
                        const IssuedCertificate* issuer) {
  server::CertificateRequest request;
  request.common_name = common_name;
  if (!is_ca) request.dns_names = {common_name};
  request.is_ca = is_ca;
  request.serial = serial;
  std::string error;
  auto issued = server::IssueCertificate(request, issuer, &error);
  EXPECT_TRUE(issued) << error;
  return issued.value_or(IssuedCertificate{});
}

// A pod CREATE review; `pod_spec` is the pod's spec object.
std::string ReviewWithSpec(const std::string& uid, const std::string& pod_spec) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":")" +
         uid +
         R"(","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":)" +
         pod_spec + "}}}";
}

std::string PrivilegedReview(const std::string& uid) {
  return ReviewWithSpec(
      uid,
      R"({"containers":[{"name":"app","image":"nginx:1.27","securityContext":{"privileged":true}}]})");
}

// A strict reading of a 200 AdmissionReview answer.
std::string CheckReview(const Reply& reply, const std::string& uid, bool* allowed) {
  if (reply.status == 0) return "no answer: " + reply.error.message();
  if (reply.status != 200) return "HTTP " + std::to_string(reply.status) + ": " + reply.body;
  rapidjson::Document json;
  json.Parse<rapidjson::kParseValidateEncodingFlag>(reply.body.c_str());
  if (json.HasParseError() || !json.IsObject()) return "not JSON: " + reply.body;
  if (!json.HasMember("response") || !json["response"].IsObject()) return "no response";
  const auto& response = json["response"];
  if (!response.HasMember("uid") || !response["uid"].IsString() ||
      response["uid"].GetString() != uid) {
    return "wrong uid: " + reply.body;
  }
  if (!response.HasMember("allowed") || !response["allowed"].IsBool()) return "no allowed";
  *allowed = response["allowed"].GetBool();
  if (!*allowed && (!response.HasMember("status") || response["status"]["code"].GetInt() != 403)) {
    return "a denial without status 403: " + reply.body;
  }
  return "";
}

// The reason of a denial ("" when allowed or not a review).
std::string DenialMessage(const std::string& body) {
  rapidjson::Document json;
  json.Parse(body.c_str());
  if (json.HasParseError() || !json.IsObject() || !json.HasMember("response")) return "";
  const auto& response = json["response"];
  if (!response.HasMember("status") || !response["status"].HasMember("message")) return "";
  return response["status"]["message"].GetString();
}

std::string JoinFailures(const std::vector<std::string>& failures) {
  std::string text;
  for (const std::string& failure : failures) text += failure + "\n";
  return text;
}

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = Issue("palisade-faults-ca", true, 100, nullptr);
    serving_ = Issue(kServiceHost, false, 1, &ca_);
    secret_.Publish({{"tls.crt", serving_.cert_pem}, {"tls.key", serving_.key_pem}});
    policies_.Publish({{"default.yaml", DefaultPolicy("baseline")}});
  }

  ServeOptions Options() const {
    return test::QuickServeOptions(policies_.path(),
                                   {secret_.file("tls.crt"), secret_.file("tls.key"), ""});
  }

  std::unique_ptr<AdmissionService> Start(const ServeOptions& options) {
    auto service = std::make_unique<AdmissionService>(options, logger_);
    std::string error;
    EXPECT_TRUE(service->Start(&error)) << error;
    return service;
  }

  LoadOptions Load(std::uint16_t port) const {
    LoadOptions load;
    load.port = port;
    load.ca_pem = ca_.cert_pem;
    load.connections = 4;
    load.review = PrivilegedReview;
    return load;
  }

  std::string Metrics(const AdmissionService& service) {
    return PlainGet(const_cast<AdmissionService&>(service).metrics_port(), "/metrics").body;
  }

  std::ostringstream log_;
  Logger logger_{server::LogLevel::kWarn, server::LogFormat::kJson, &log_};
  TempDir dir_;
  IssuedCertificate ca_, serving_;
  KubeletDir secret_{dir_.path() + "/secret"};
  KubeletDir policies_{dir_.path() + "/policies"};
};

// (a) The Secret is renewed: no request fails, and every handshake after the server took the new
// pair sees it.
TEST_F(FaultsTest, CertificateRotationUnderLoad) {
  auto service = Start(Options());
  LoadOptions load = Load(service->port());
  load.reconnect_every = 5;  // handshakes keep happening across the rotation
  LoadClients clients(load, CheckReview);
  ASSERT_TRUE(clients.WaitForCompleted(40)) << JoinFailures(clients.failures());

  const IssuedCertificate renewed = Issue(kServiceHost, false, 2, &ca_);
  secret_.Publish({{"tls.crt", renewed.cert_pem}, {"tls.key", renewed.key_pem}});
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (service->tls().certificate_serial() != "02" && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // bounded: the 50 ms reload tick
  }
  ASSERT_EQ(service->tls().certificate_serial(), "02");
  const Clock::time_point switched = Clock::now();
  ASSERT_TRUE(clients.WaitForCompleted(clients.completed() + 80));
  clients.Stop();

  EXPECT_EQ(clients.failed(), 0u) << JoinFailures(clients.failures());
  int old_handshakes = 0, new_handshakes = 0;
  for (const auto& connection : clients.outcomes()) {
    for (const Outcome& outcome : connection) {
      EXPECT_FALSE(outcome.allowed);
      if (outcome.connecting > switched) {
        EXPECT_EQ(outcome.serial, "02") << "a handshake after the reload got the old certificate";
        ++new_handshakes;
      } else if (outcome.serial == "01") {
        ++old_handshakes;
      }
    }
  }
  EXPECT_GT(old_handshakes, 0);
  EXPECT_GT(new_handshakes, 0);
  EXPECT_NE(Metrics(*service).find("palisade_tls_reloads_total{result=\"success\"} 2\n"),
            std::string::npos);
}

// (b) The ConfigMap's ..data is swapped to a policy that allows the pod: every answer is the old
// or the new decision, a connection never goes back, and after the reload only the new one.
TEST_F(FaultsTest, PolicySwapSwitchesDecisionsCleanly) {
  auto service = Start(Options());
  LoadClients clients(Load(service->port()), CheckReview);
  ASSERT_TRUE(clients.WaitForCompleted(40)) << JoinFailures(clients.failures());

  const std::string old_revision = service->policies().Get()->policies().at(0).revision;
  const std::uint64_t loads = service->watcher().loads();
  policies_.Publish({{"default.yaml", DefaultPolicy("privileged")}});
  service->watcher().WaitForLoad(loads, Clock::now() + std::chrono::seconds(10));
  ASSERT_NE(service->policies().Get()->policies().at(0).revision, old_revision);
  const Clock::time_point switched = Clock::now();
  ASSERT_TRUE(clients.WaitForCompleted(clients.completed() + 80));
  clients.Stop();

  EXPECT_EQ(clients.failed(), 0u) << JoinFailures(clients.failures());
  int denied = 0, allowed_after = 0;
  for (const auto& connection : clients.outcomes()) {
    bool seen_new = false;
    for (const Outcome& outcome : connection) {
      if (outcome.allowed) seen_new = true;
      if (!outcome.allowed) ++denied;
      EXPECT_FALSE(seen_new && !outcome.allowed) << "a connection went back to the old decision";
      if (outcome.started > switched) {
        EXPECT_TRUE(outcome.allowed) << "the old decision after the reload";
        ++allowed_after;
      }
    }
  }
  EXPECT_GT(denied, 0);
  EXPECT_GT(allowed_after, 0);
}

// (c) A broken policy is dropped in: the old decisions keep coming and the error is counted.
TEST_F(FaultsTest, BrokenPolicyKeepsTheOldDecisions) {
  auto service = Start(Options());
  LoadClients clients(Load(service->port()), CheckReview);
  ASSERT_TRUE(clients.WaitForCompleted(40)) << JoinFailures(clients.failures());
  EXPECT_NE(Metrics(*service).find("palisade_policy_reloads_total{result=\"error\"} 0\n"),
            std::string::npos);

  const std::string revision = service->policies().Get()->policies().at(0).revision;
  const std::uint64_t loads = service->watcher().loads();
  policies_.Publish(
      {{"default.yaml", DefaultPolicy("strict")}, {"garbage.yaml", "spec: [unclosed\n  - {\n"}});
  ASSERT_GT(service->watcher().WaitForLoad(loads, Clock::now() + std::chrono::seconds(10)), loads);
  ASSERT_TRUE(clients.WaitForCompleted(clients.completed() + 80));
  clients.Stop();

  EXPECT_EQ(clients.failed(), 0u) << JoinFailures(clients.failures());
  for (const auto& connection : clients.outcomes()) {
    for (const Outcome& outcome : connection) EXPECT_FALSE(outcome.allowed);
  }
  EXPECT_EQ(service->policies().Get()->policies().at(0).revision, revision);
  EXPECT_NE(Metrics(*service).find("palisade_policy_reloads_total{result=\"error\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(PlainGet(service->metrics_port(), "/readyz").status, 200u);
}

// (d) The real binary gets SIGTERM while loaded: in-flight requests finish, the last answer on
// every connection says `Connection: close`, the process exits 0 within the grace period.
TEST_F(FaultsTest, SigtermWhileLoadedDrainsAndExitsZero) {
  test::ServeProcess server(
      PALISADE_BINARY, {"--policy-dir", policies_.path(), "--tls-cert-file",
                        secret_.file("tls.crt"), "--tls-key-file", secret_.file("tls.key"),
                        "--shutdown-delay", "500ms", "--shutdown-grace", "10s", "--threads", "2"});
  const std::uint16_t port = server.port();
  ASSERT_NE(port, 0) << "the binary did not start:\n" << server.log();

  LoadOptions load = Load(port);
  load.honour_close = true;
  LoadClients clients(load, CheckReview);
  ASSERT_TRUE(clients.WaitForCompleted(40)) << JoinFailures(clients.failures());
  const Clock::time_point signalled = Clock::now();
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  EXPECT_TRUE(clients.WaitForAllFinished(std::chrono::seconds(10)));
  const int status = server.Wait();
  const auto exit_after = Clock::now() - signalled;
  clients.Stop();
  const std::string log = server.log();

  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  EXPECT_LT(exit_after, std::chrono::seconds(10)) << "exit after the grace period";
  EXPECT_EQ(clients.failed(), 0u) << JoinFailures(clients.failures());
  for (const auto& connection : clients.outcomes()) {
    ASSERT_FALSE(connection.empty());
    EXPECT_FALSE(connection.back().keep_alive) << "the last answer must say Connection: close";
    for (std::size_t i = 0; i + 1 < connection.size(); ++i) EXPECT_TRUE(connection[i].keep_alive);
  }
  EXPECT_NE(log.find("stopped: every connection closed"), std::string::npos) << log;
}

// (e) Hostile input, while the load runs: each gets a clear 4xx or a denial with a reason, and
// the loaded clients never notice.
TEST_F(FaultsTest, HostileInputIsAnsweredAndTheServerStaysUp) {
  ServeOptions options = Options();
  options.server.header_timeout = std::chrono::milliseconds(300);
  options.server.body_timeout = std::chrono::milliseconds(300);
  auto service = Start(options);
  const std::uint16_t port = service->port();
  LoadClients clients(Load(port), CheckReview);
  ASSERT_TRUE(clients.WaitForCompleted(20)) << JoinFailures(clients.failures());

  struct Case {
    std::string name;
    std::string target;
    std::string body;
    unsigned status;        // the expected HTTP status
    std::string in_answer;  // a part of the answer (the reason)
  };
  const std::string nested(100'000, '[');
  std::string many_empty;
  for (int i = 0; i < 600'000; ++i) many_empty += ",{}";
  const std::vector<Case> http_cases = {
      {"malformed JSON", "/validate", "{\"apiVersion\":", 400, "malformed JSON"},
      {"not an AdmissionReview", "/validate", R"({"apiVersion":"v1","kind":"Pod"})", 400,
       "not an AdmissionReview"},
      {"100k nested arrays", "/validate", nested + std::string(100'000, ']'), 400,
       "nesting deeper than 512 levels"},
      {"100k nested arrays in the pod", "/mutate",
       ReviewWithSpec("deep", "{\"containers\":" + nested), 400, "nesting deeper than 512 levels"},
      {"a number too big for a double", "/validate",
       ReviewWithSpec("big", R"({"securityContext":{"runAsUser":1e999},"containers":[]})"), 400,
       "Number too big"},
      {"wrong path", "/admit", PrivilegedReview("u"), 404, "not found"},
      {"600k empty containers (1.8 MB of `{},`)", "/validate",
       ReviewWithSpec("many", "{\"containers\":[{}" + many_empty + "]}"), 413,
       "review too large to judge"},
      {"the same, on a connection of its own, to /mutate", "/mutate",
       ReviewWithSpec("many", "{\"containers\":[{}" + many_empty + "]}"), 413,
       "review too large to judge"},
  };
  for (const Case& c : http_cases) {
    SCOPED_TRACE(c.name);
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    const Reply reply = connection.Post(c.target, c.body);
    EXPECT_EQ(reply.status, c.status) << reply.error.message() << reply.body;
    EXPECT_NE(reply.body.find(c.in_answer), std::string::npos) << reply.body;
  }

  // Reviews the decoder reads but that are not a valid pod or not trustworthy: denied with a
  // reason that names the problem.
  struct Denial {
    std::string name;
    std::string pod_spec;
    std::string in_reason;
  };
  const std::vector<Denial> denials = {
      {"containers is a string", R"({"containers":"app"})", "spec.containers"},
      {"privileged is a string",
       R"({"containers":[{"name":"app","image":"x","securityContext":{"privileged":"yes"}}]})",
       "privileged"},
      {"runAsUser beyond int64",
       R"({"securityContext":{"runAsUser":123456789012345678901234567890},"containers":[{"name":"app","image":"x"}]})",
       "runAsUser"},
      {"duplicate keys, the first privileged",
       R"({"containers":[{"name":"app","image":"x","securityContext":{"privileged":true,"privileged":false}}]})",
       "privileged"},
      {"60,000 containers", "{\"containers\":[{}" + many_empty.substr(0, 3 * 59'999) + "]}",
       "has 60000 containers (initContainers, containers and ephemeralContainers together); "
       "Palisade judges pods of at most 50000"},
  };
  for (const Denial& d : denials) {
    SCOPED_TRACE(d.name);
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    const Reply reply = connection.Post("/validate?timeout=10s", ReviewWithSpec("h", d.pod_spec));
    if (reply.status == 400) {
      EXPECT_FALSE(reply.body.empty());
      continue;
    }
    bool allowed = true;
    EXPECT_EQ(CheckReview(reply, "h", &allowed), "");
    EXPECT_FALSE(allowed) << reply.body;
    EXPECT_NE(DenialMessage(reply.body).find(d.in_reason), std::string::npos) << reply.body;
  }

  {
    SCOPED_TRACE("9 MiB body");
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    const Reply reply = connection.Post("/validate", std::string(9 * 1024 * 1024, ' '));
    EXPECT_EQ(reply.status, 413u) << reply.error.message();
    EXPECT_FALSE(reply.keep_alive);
  }
  {
    SCOPED_TRACE("oversized headers");
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    connection.WriteRaw("POST /validate HTTP/1.1\r\nHost: x\r\nX-Filler: " +
                        std::string(20 * 1024, 'a') + "\r\nContent-Length: 0\r\n\r\n");
    const Reply reply = connection.ReadReply();
    EXPECT_EQ(reply.status, 431u) << reply.error.message();
  }
  {
    // Beast's own limit only bounds what one read leaves unparsed: every line in its own TLS
    // record must still add up to the limit.
    SCOPED_TRACE("oversized headers, a line per TLS record");
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    // Each record ends one byte into the next line, where Beast stops counting.
    beast::error_code write_error = connection.WriteRaw("POST /validate HTTP/1.1\r\nHost: x\r\nX");
    for (int i = 0; i < 400 && !write_error; ++i) {
      write_error = connection.WriteRaw("-Filler-" + std::to_string(i) + ": " +
                                        std::string(100, 'a') + "\r\nX");
    }
    if (!write_error) write_error = connection.WriteRaw("-Last: 1\r\nContent-Length: 0\r\n\r\n");
    const Reply reply = connection.ReadReply(write_error);
    // 431, or the connection cut while the client was still sending: never an answer to the
    // request.
    if (reply.error) {
      EXPECT_EQ(reply.status, 0u);
    } else {
      EXPECT_EQ(reply.status, 431u);
    }
  }
  {
    SCOPED_TRACE("wrong method");
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    connection.WriteRaw("DELETE /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    const Reply reply = connection.ReadReply();
    EXPECT_EQ(reply.status, 405u) << reply.error.message();
  }
  {
    SCOPED_TRACE("TLS, then garbage instead of HTTP");
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    connection.WriteRaw(std::string("\x01\x02\x03\xff not http at all\r\n\r\n", 24));
    const Reply reply = connection.ReadReply();
    EXPECT_EQ(reply.status, 400u) << reply.error.message();
    EXPECT_EQ(reply.body, "malformed HTTP request\n");
  }
  {
    SCOPED_TRACE("garbage bytes instead of TLS");
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    std::string garbage(4096, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
    net::write(socket, net::buffer(garbage));
    char sink[1024];
    beast::error_code ec;
    while (!ec) socket.read_some(net::buffer(sink), ec);  // the server closes it
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  }
  for (const bool in_body : {false, true}) {
    SCOPED_TRACE(in_body ? "a partial body, then nothing" : "partial headers, then nothing");
    HttpsClient connection(port, ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    connection.WriteRaw(in_body ? "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                  "application/json\r\nContent-Length: 100\r\n\r\n{\"apiV"
                                : "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Ty");
    const auto started = Clock::now();
    const Reply reply = connection.ReadReply({}, std::chrono::seconds(10));
    EXPECT_EQ(reply.status, 0u) << "an answer to half a request";
    EXPECT_NE(reply.error, beast::error::timeout) << "the server never closed the connection";
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
  }

  ASSERT_TRUE(clients.WaitForCompleted(clients.completed() + 20));
  clients.Stop();
  EXPECT_EQ(clients.failed(), 0u) << JoinFailures(clients.failures());
  EXPECT_EQ(PlainGet(service->metrics_port(), "/healthz").status, 200u);
}

// (e, continued) Strings the API server could never have sent. Go's decoder keeps the last of
// duplicate keys, so `privileged:false,privileged:true` is a privileged pod to the cluster; and a
// reason that echoes invalid UTF-8 is not JSON. Each must be a 400 or a denial in valid JSON.
TEST_F(FaultsTest, UntrustworthyStringsAreRefusedOrDenied) {
  auto service = Start(Options());
  const std::vector<std::pair<std::string, std::string>> specs = {
      {"non-UTF-8 container name",
       "{\"containers\":[{\"name\":\"\xff\xfe\xc3\",\"image\":\"x\",\"securityContext\":{"
       "\"privileged\":true}}]}"},
      {"duplicate keys, the last privileged",
       R"({"containers":[{"name":"app","image":"x","securityContext":{"privileged":false,"privileged":true}}]})"},
  };
  for (const auto& [name, spec] : specs) {
    SCOPED_TRACE(name);
    HttpsClient connection(service->port(), ca_.cert_pem);
    ASSERT_FALSE(connection.error());
    const Reply reply = connection.Post("/validate?timeout=10s", ReviewWithSpec("h", spec));
    if (reply.status == 400) continue;
    bool allowed = true;
    EXPECT_EQ(CheckReview(reply, "h", &allowed), "");
    EXPECT_FALSE(allowed) << reply.body;
  }
}

// (f) 300 slow or idle clients hold connections (TCP only, TLS then nothing, TLS and half a
// header); a normal request on a fresh connection is still answered at once.
TEST_F(FaultsTest, SlowClientsDoNotDelayOthers) {
  auto service = Start(Options());
  const std::uint16_t port = service->port();
  LoadClients clients(Load(port), CheckReview);
  ASSERT_TRUE(clients.WaitForCompleted(20)) << JoinFailures(clients.failures());

  net::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> silent;
  for (int i = 0; i < 100; ++i) {
    silent.push_back(std::make_unique<tcp::socket>(io));
    silent.back()->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  std::vector<std::unique_ptr<HttpsClient>> held;
  for (int i = 0; i < 200; ++i) {
    held.push_back(std::make_unique<HttpsClient>(port, ca_.cert_pem));
    ASSERT_FALSE(held.back()->error()) << held.back()->error().message();
    if (i % 2 == 1) {
      ASSERT_FALSE(held.back()->WriteRaw("POST /validate HTTP/1.1\r\nHost: x\r\nContent-"));
    }
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto started = Clock::now();
    HttpsClient fresh(port, ca_.cert_pem);
    ASSERT_FALSE(fresh.error()) << fresh.error().message();
    bool allowed = true;
    EXPECT_EQ(CheckReview(fresh.Post("/validate?timeout=10s", PrivilegedReview("fresh")), "fresh",
                          &allowed),
              "");
    EXPECT_FALSE(allowed);
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(1)) << "a slow client delayed it";
  }
  ASSERT_TRUE(clients.WaitForCompleted(clients.completed() + 20));
  clients.Stop();
  EXPECT_EQ(clients.failed(), 0u) << JoinFailures(clients.failures());
}

// ---- Hostile load: each class of cheap attack from issue 11, with what the server must do.

// The head of a review POST whose body is `length` bytes.
std::string ReviewHead(std::size_t length, const std::string& target = "/validate?timeout=10s") {
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(length) + "\r\n\r\n";
}

// Writes `bytes` to a plain TCP port, then reads until the server closes (10 s at most).
std::string RawExchange(std::uint16_t port, const std::string& bytes) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  beast::error_code ec;
  net::write(stream, net::buffer(bytes), ec);
  std::string received;
  char chunk[4096];
  for (;;) {
    const std::size_t n = stream.read_some(net::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) break;
  }
  return received;
}

std::string ChunkedHead(const std::string& target) {
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: "
         "chunked\r\n\r\n";
}

// Memory: connections each holding most of an 8 MiB body add up against one budget; the request
// that would go over is answered 503 at once (from its Content-Length), and the budget comes back
// when a connection lets go.
TEST_F(FaultsTest, PartialUploadsAreHeldToTheByteBudget) {
  ServeOptions options = Options();
  options.server.max_buffered_request_bytes = 20 * 1024 * 1024;
  auto service = Start(options);
  const std::uint16_t port = service->port();
  constexpr std::size_t kBody = 8 * 1024 * 1024;
  auto holder = [&] {
    auto client = std::make_unique<HttpsClient>(port, ca_.cert_pem);
    EXPECT_FALSE(client->WriteRaw(ReviewHead(kBody) + std::string(1024 * 1024, ' ')));
    return client;
  };
  auto first = holder();
  auto second = holder();
  Reply refused;
  for (int attempt = 0; attempt < 10 && refused.status != 503; ++attempt) {
    HttpsClient third(port, ca_.cert_pem);
    ASSERT_FALSE(third.error());
    third.WriteRaw(ReviewHead(kBody));
    refused = third.ReadReply({}, std::chrono::milliseconds(500));
  }
  EXPECT_EQ(refused.status, 503u) << refused.error.message();
  EXPECT_EQ(refused.retry_after, "1");
  EXPECT_FALSE(refused.keep_alive);
  EXPECT_NE(refused.body.find("too many request bytes buffered"), std::string::npos);
  EXPECT_NE(Metrics(*service).find("palisade_http_errors_total{code=\"503\"}"), std::string::npos);

  // A review that fits is still judged.
  HttpsClient small(port, ca_.cert_pem);
  bool allowed = true;
  EXPECT_EQ(CheckReview(small.Admit("/validate", PrivilegedReview("s")), "s", &allowed), "");

  first.reset();  // closing gives its 8 MiB back
  Reply read_whole;
  for (int attempt = 0; attempt < 20 && read_whole.status != 400; ++attempt) {
    HttpsClient again(port, ca_.cert_pem);
    read_whole = again.Post("/validate?timeout=10s", std::string(kBody, ' '));
  }
  EXPECT_EQ(read_whole.status, 400u) << "an 8 MiB body is read (and refused as JSON) again";
}

// Memory: the trailer section after the last chunk, and chunk-size lines, are held to the header
// limit on both ports (they grew without bound), so a connection cannot grow the process.
TEST_F(FaultsTest, TrailersAndChunkLinesAreBoundedOnBothPorts) {
  auto service = Start(Options());
  std::string trailers;
  for (int i = 0; i < 100; ++i)
    trailers += "X-Trailer-" + std::to_string(i) + ": " + std::string(1000, 't') + "\r\n";
  {
    SCOPED_TRACE("webhook port, trailers");
    HttpsClient client(service->port(), ca_.cert_pem);
    ASSERT_FALSE(client.error());
    const beast::error_code write_error =
        client.WriteRaw(ChunkedHead("/validate") + "2\r\n{}\r\n0\r\n" + trailers);
    const Reply reply = client.ReadReply(write_error, std::chrono::seconds(5));
    EXPECT_EQ(reply.status, 431u) << reply.error.message();
    EXPECT_FALSE(reply.keep_alive);
  }
  {
    SCOPED_TRACE("webhook port, a chunk extension without end");
    HttpsClient client(service->port(), ca_.cert_pem);
    ASSERT_FALSE(client.error());
    const beast::error_code write_error =
        client.WriteRaw(ChunkedHead("/validate") + "2;x=" + std::string(100'000, 'e'));
    const Reply reply = client.ReadReply(write_error, std::chrono::seconds(5));
    EXPECT_EQ(reply.status, 431u) << reply.error.message();
  }
  {
    SCOPED_TRACE("metrics port, trailers");
    const auto started = Clock::now();
    const std::string answer =
        RawExchange(service->metrics_port(), ChunkedHead("/metrics") + "0\r\n" + trailers);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 ")) << answer.substr(0, 200);
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
  }
  EXPECT_EQ(PlainGet(service->metrics_port(), "/healthz").status, 200u);
}

// A client that writes its whole request before reading gets the early answer (413, 431) instead
// of a reset: the server reads and drops the rest for a while before it closes.
TEST_F(FaultsTest, EarlyAnswersReachClientsThatSendEverythingFirst) {
  auto service = Start(Options());
  {
    SCOPED_TRACE("413 over TLS, 14 MiB sent first");
    HttpsClient client(service->port(), ca_.cert_pem);
    ASSERT_FALSE(client.error());
    const Reply reply = client.Post("/validate", std::string(14 * 1024 * 1024, ' '));
    EXPECT_EQ(reply.status, 413u) << reply.error.message();
    EXPECT_FALSE(reply.keep_alive);
  }
  {
    SCOPED_TRACE("431 over TLS, a 12 MiB body after the oversized header");
    HttpsClient client(service->port(), ca_.cert_pem);
    ASSERT_FALSE(client.error());
    constexpr std::size_t kBody = 12 * 1024 * 1024;
    const beast::error_code write_error = client.WriteRaw(
        "POST /validate HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20 * 1024, 'p') +
        "\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n" + std::string(kBody, ' '));
    EXPECT_FALSE(write_error) << write_error.message();
    const Reply reply = client.ReadReply(write_error);
    EXPECT_EQ(reply.status, 431u) << reply.error.message();
  }
  {
    SCOPED_TRACE("413 on the metrics port, 12 MiB sent first");
    constexpr std::size_t kBody = 12 * 1024 * 1024;
    const std::string answer = RawExchange(
        service->metrics_port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                     std::to_string(kBody) + "\r\n\r\n" + std::string(kBody, ' '));
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer.substr(0, 200);
  }
}

// CPU: a review whose `?timeout=` passed while its body was still arriving is not judged (the API
// server has given up); the client is told so with a 504.
TEST_F(FaultsTest, ReviewWhoseDeadlinePassedWhileReadingIsNotJudged) {
  auto service = Start(Options());
  HttpsClient client(service->port(), ca_.cert_pem);
  ASSERT_FALSE(client.error());
  const std::string body = PrivilegedReview("late");
  ASSERT_FALSE(client.WriteRaw(ReviewHead(body.size(), "/validate?timeout=1s") +
                               body.substr(0, body.size() / 2)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  const beast::error_code write_error = client.WriteRaw(body.substr(body.size() / 2));
  const Reply reply = client.ReadReply(write_error);
  EXPECT_EQ(reply.status, 504u) << reply.error.message();
  EXPECT_EQ(reply.body, "the request's timeout passed before it was read\n");
  const std::string metrics = Metrics(*service);
  EXPECT_EQ(metrics.find("palisade_requests_total{"), std::string::npos) << "it was judged";
  EXPECT_NE(metrics.find("palisade_http_errors_total{code=\"504\"} 1\n"), std::string::npos);
}

// Connections: TCP connections that never start TLS, and idle keep-alive connections, cannot
// fill the admission port's cap: pending handshakes have their own smaller budget (the oldest is
// shed), and at the cap the longest-idle connection makes room.
TEST_F(FaultsTest, SilentAndIdleConnectionsDoNotStarveTheAdmissionPort) {
  ServeOptions options = Options();
  options.server.max_connections = 64;
  options.server.max_handshakes = 16;
  auto service = Start(options);
  const std::uint16_t port = service->port();
  net::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> silent;
  for (int i = 0; i < 200; ++i) {
    silent.push_back(std::make_unique<tcp::socket>(io));
    silent.back()->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    HttpsClient fresh(port, ca_.cert_pem);
    ASSERT_FALSE(fresh.error()) << fresh.error().message();
    bool allowed = true;
    EXPECT_EQ(CheckReview(fresh.Admit("/validate", PrivilegedReview("f")), "f", &allowed), "");
  }
  silent.clear();

  // 64 idle keep-alive connections: a new one still gets in, and the longest-idle one goes.
  std::vector<std::unique_ptr<HttpsClient>> idle;
  for (int i = 0; i < 64; ++i) {
    idle.push_back(std::make_unique<HttpsClient>(port, ca_.cert_pem));
    ASSERT_FALSE(idle.back()->error()) << i << ": " << idle.back()->error().message();
    bool allowed = true;
    ASSERT_EQ(CheckReview(idle.back()->Admit("/validate", PrivilegedReview("i")), "i", &allowed),
              "")
        << i;
  }
  HttpsClient newcomer(port, ca_.cert_pem);
  ASSERT_FALSE(newcomer.error()) << newcomer.error().message();
  bool allowed = true;
  EXPECT_EQ(CheckReview(newcomer.Admit("/validate", PrivilegedReview("n")), "n", &allowed), "");
  EXPECT_EQ(idle.front()->Admit("/validate", PrivilegedReview("o")).status, 0u)
      << "the longest-idle connection was closed";
}

// Probes: /healthz and /readyz answer at once while every admission thread is busy, because the
// metrics port has its own thread. The admission handler here holds its thread for 3 s, as the
// slowest review would.
TEST_F(FaultsTest, ProbesAnswerWhileEveryAdmissionThreadIsBusy) {
  server::Metrics metrics;
  server::TlsCredentials tls({secret_.file("tls.crt"), secret_.file("tls.key"), ""}, &metrics,
                             &logger_);
  tls.ReloadIfChanged();
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "127.0.0.1:0";
  options.threads = 1;
  std::atomic<bool> entered{false};
  server::HttpsServer server(
      options, tls, metrics, logger_,
      [&](const server::HttpRequest&) {
        entered = true;
        std::this_thread::sleep_for(std::chrono::seconds(3));
        return server::TextResponse(200, "slow");
      },
      [](const server::HttpRequest&) { return server::TextResponse(200, "ok"); });
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  std::thread slow([&] {
    HttpsClient client(server.port(), ca_.cert_pem);
    EXPECT_EQ(client.Admit("/validate", "{}").status, 200u);
  });
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!entered && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(entered);
  for (const char* path : {"/healthz", "/readyz"}) {
    const auto started = Clock::now();
    EXPECT_EQ(PlainGet(server.metrics_port(), path).status, 200u) << path;
    // The bound is 100 ms; the margin is for a loaded 2-core machine.
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(1)) << path << " waited for a review";
  }
  slow.join();
  server.Stop();
}

// Connections: out of file descriptors, the accept loop backs off and logs a few lines (not
// megabytes), and serves again once connections close. The real binary with RLIMIT_NOFILE 48.
TEST_F(FaultsTest, OutOfFileDescriptorsBacksOffAndRecovers) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check opens a pipe to probe memory (IsAccessibleMemoryRange): with no file
  // descriptor left it reports a false "invalid vptr" on any virtual call. The plain build runs it.
  GTEST_SKIP() << "the sanitizer runtime itself needs file descriptors";
#endif
  test::ServeProcess server(
      PALISADE_BINARY,
      {"--policy-dir", policies_.path(), "--tls-cert-file", secret_.file("tls.crt"),
       "--tls-key-file", secret_.file("tls.key"), "--threads", "1"},
      48);
  const std::uint16_t metrics_port = server.metrics_port();
  ASSERT_NE(metrics_port, 0) << "the binary did not start:\n" << server.log();
  net::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 60; ++i) {
    held.push_back(std::make_unique<tcp::socket>(io));
    held.back()->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), metrics_port));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const std::string log = server.log();
  std::size_t failures = 0;
  for (std::size_t at = log.find("\"msg\":\"accept failed\""); at != std::string::npos;
       at = log.find("\"msg\":\"accept failed\"", at + 1)) {
    ++failures;
  }
  EXPECT_GE(failures, 1u) << "the limit was never reached:\n" << log.substr(0, 4000);
  EXPECT_LE(failures, 5u) << log.substr(0, 4000);
  EXPECT_NE(log.find("Too many open files"), std::string::npos) << log.substr(0, 4000);
  held.clear();
  unsigned status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (status != 200u && Clock::now() < deadline) {
    status = PlainGet(metrics_port, "/healthz").status;
  }
  EXPECT_EQ(status, 200u) << server.log().substr(0, 4000);
}

}  // namespace
}  // namespace palisade::faults
