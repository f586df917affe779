#pragma once

// Clients for the fault tests: a TLS connection that speaks HTTP/1.1 like the API server (keeps
// the connection alive, verifies the serving certificate), and a pool of them sending reviews
// continuously from their own threads while a test breaks something, recording every outcome.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace palisade::faults {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kServiceHost = "palisade.palisade-system.svc";

struct Reply {
  unsigned status = 0;  // 0: no answer (the error says why)
  std::string body;
  bool keep_alive = false;
  beast::error_code error;
};

// One keep-alive HTTPS connection, verified for kServiceHost against `ca_pem`.
class TlsConnection {
 public:
  TlsConnection(std::uint16_t port, const std::string& ca_pem)
      : context_(ssl::context::tls_client), stream_(io_, context_) {
    context_.add_certificate_authority(net::buffer(ca_pem));
    context_.set_verify_mode(ssl::verify_peer);
    SSL_set_tlsext_host_name(stream_.native_handle(), kServiceHost);
    stream_.set_verify_callback(ssl::host_name_verification(kServiceHost));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port), error_);
    if (!error_) stream_.handshake(ssl::stream_base::client, error_);
  }

  // The connect or handshake error; a connection with one is unusable.
  const beast::error_code& error() const { return error_; }

  std::string PeerSerial() {
    X509* peer = SSL_get1_peer_certificate(stream_.native_handle());
    if (peer == nullptr) return "";
    BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
    char* hex = BN_bn2hex(number);
    std::string serial = hex;
    OPENSSL_free(hex);
    BN_free(number);
    X509_free(peer);
    return serial;
  }

  Reply Post(const std::string& target, const std::string& body) {
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::host, kServiceHost);
    request.set(http::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    http::write(stream_, request, ec);
    // A server that answers early (413, 431) may reset the rest of the write; read its answer.
    return ReadReply(ec);
  }

  // Raw bytes over TLS, for requests Beast would not write.
  beast::error_code WriteRaw(const std::string& bytes) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    net::write(stream_, net::buffer(bytes), ec);
    return ec;
  }

  Reply ReadReply(beast::error_code write_error = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Reply reply;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::get_lowest_layer(stream_).expires_after(timeout);
    http::read(stream_, buffer_, parser, reply.error);
    if (reply.error) {
      if (write_error) reply.error = write_error;
      return reply;
    }
    reply.status = parser.get().result_int();
    reply.body = parser.get().body();
    reply.keep_alive = parser.get().keep_alive();
    return reply;
  }

 private:
  net::io_context io_;
  ssl::context context_;
  ssl::stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  beast::error_code error_;
};

// GET on the plain-HTTP metrics port; "" on failure.
inline std::string PlainGet(std::uint16_t port, const std::string& target, unsigned* status) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  beast::error_code ec;
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return "";
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(stream, buffer, response, ec);
  if (ec) return "";
  if (status != nullptr) *status = response.result_int();
  return response.body();
}

// One request's outcome as a load client saw it.
struct Outcome {
  Clock::time_point started;
  Clock::time_point connecting;  // when this request's connection began to connect
  std::string serial;            // the serving certificate's serial on that connection
  bool allowed = false;
  bool keep_alive = false;
};

struct LoadOptions {
  std::uint16_t port = 0;
  std::string ca_pem;
  int connections = 4;
  std::string target = "/validate?timeout=10s";
  // Makes the body for request number `n` with uid `uid`.
  std::function<std::string(const std::string& uid)> review;
  int reconnect_every = 0;    // >0: a fresh connection (and handshake) every N requests
  bool honour_close = false;  // on `Connection: close` stop this connection for good
};

// Connections sending reviews back to back, each on its own thread, until Stop().
class LoadClients {
 public:
  // Validates one answer: "" when it is a 200 AdmissionReview for `uid`, else what is wrong.
  // Sets *allowed.
  using Check = std::function<std::string(const Reply&, const std::string& uid, bool* allowed)>;

  LoadClients(LoadOptions options, Check check)
      : options_(std::move(options)), check_(std::move(check)) {
    outcomes_.resize(static_cast<std::size_t>(options_.connections));
    for (int i = 0; i < options_.connections; ++i) {
      threads_.emplace_back([this, i] { Run(i); });
    }
  }
  ~LoadClients() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  std::uint64_t completed() const { return completed_.load(); }
  std::uint64_t failed() const { return failed_.load(); }
  int finished_connections() const { return finished_.load(); }

  // Waits (bounded) until at least `count` requests have completed; false on timeout.
  bool WaitForCompleted(std::uint64_t count,
                        std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(progress_mutex_);
    return progress_.wait_for(lock, timeout, [&] { return completed_.load() >= count; });
  }
  // Waits (bounded) until every connection has stopped on its own (honour_close).
  bool WaitForAllFinished(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(progress_mutex_);
    return progress_.wait_for(lock, timeout,
                              [&] { return finished_.load() == options_.connections; });
  }

  // After Stop(): every outcome per connection, and the first failures.
  const std::vector<std::vector<Outcome>>& outcomes() const { return outcomes_; }
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> lock(failures_mutex_);
    return failures_;
  }

 private:
  void Fail(std::string what) {
    failed_.fetch_add(1);
    std::lock_guard<std::mutex> lock(failures_mutex_);
    if (failures_.size() < 20) failures_.push_back(std::move(what));
  }

  void Progress() {
    completed_.fetch_add(1);
    std::lock_guard<std::mutex> lock(progress_mutex_);
    progress_.notify_all();
  }

  void Run(int index) {
    std::unique_ptr<TlsConnection> connection;
    Clock::time_point connecting;
    std::string serial;
    int on_connection = 0;
    for (std::uint64_t n = 0; !stop_.load(); ++n) {
      if (connection == nullptr ||
          (options_.reconnect_every > 0 && on_connection >= options_.reconnect_every)) {
        connecting = Clock::now();
        connection = std::make_unique<TlsConnection>(options_.port, options_.ca_pem);
        if (connection->error()) {
          Fail("connection " + std::to_string(index) + ": " + connection->error().message());
          connection.reset();
          continue;
        }
        serial = connection->PeerSerial();
        on_connection = 0;
      }
      const std::string uid = "c" + std::to_string(index) + "-" + std::to_string(n);
      Outcome outcome;
      outcome.started = Clock::now();
      outcome.connecting = connecting;
      outcome.serial = serial;
      const Reply reply = connection->Post(options_.target, options_.review(uid));
      ++on_connection;
      const std::string problem = check_(reply, uid, &outcome.allowed);
      if (!problem.empty()) {
        Fail("connection " + std::to_string(index) + " request " + uid + ": " + problem);
        connection.reset();
        Progress();
        continue;
      }
      outcome.keep_alive = reply.keep_alive;
      outcomes_[static_cast<std::size_t>(index)].push_back(std::move(outcome));
      if (!reply.keep_alive) {
        connection.reset();
        if (options_.honour_close) break;
      }
      Progress();
    }
    finished_.fetch_add(1);
    Progress();
  }

  LoadOptions options_;
  Check check_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<int> finished_{0};
  std::mutex progress_mutex_;
  std::condition_variable progress_;
  mutable std::mutex failures_mutex_;
  std::vector<std::string> failures_;
  std::vector<std::vector<Outcome>> outcomes_;  // one vector per connection, owned by its thread
  std::vector<std::thread> threads_;
};

}  // namespace palisade::faults
