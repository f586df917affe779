#pragma once

// The two listeners: HTTPS for the admission endpoints and plain HTTP for metrics and probes.
// Sessions only move bytes: read a request, call the handler, write the answer, repeat. All I/O is
// asynchronous: each of the N threads runs its own io_context, a connection stays on the one that
// accepted it, and every read and write has a deadline.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_message.h"

namespace palisade::server {

class Logger;
class Metrics;
class TlsCredentials;

struct ServerOptions {
  std::string listen = "0.0.0.0:8443";
  std::string metrics_listen = "0.0.0.0:9090";
  int threads = 1;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds header_timeout{10'000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds idle_timeout{90'000};  // keep-alive; above the API server's 90s idle
  std::size_t max_connections = 1024;
  std::size_t body_limit = 8 * 1024 * 1024;  // 413 above
  std::size_t header_limit = 16 * 1024;      // 431 above
  std::chrono::milliseconds tls_reload_interval{5'000};
};

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// "0.0.0.0:8443", "[::]:8443", ":8443" (all interfaces). On failure sets *error.
std::optional<HostPort> ParseHostPort(std::string_view text, std::string* error);

class HttpsServer {
 public:
  // The references must outlive the server. `admission` serves the HTTPS port, `probes` the
  // metrics port.
  HttpsServer(ServerOptions options, TlsCredentials& tls, Metrics& metrics, Logger& logger,
              HttpHandler admission, HttpHandler probes);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds both listeners and starts the threads. On failure returns false with *error set.
  bool Start(std::string* error);

  std::uint16_t port() const;          // the bound HTTPS port (useful with port 0)
  std::uint16_t metrics_port() const;  // the bound metrics port

  // From now on every response carries `Connection: close` (shutdown has begun; clients should
  // reconnect elsewhere). Accepting continues.
  void CloseConnectionsAfterResponse();

  // Graceful drain: stop accepting on the HTTPS port; idle keep-alive connections are closed;
  // a request in flight is answered with `Connection: close`. Returns at once.
  void StopAccepting();
  // Waits until every HTTPS connection has closed or `deadline` passes; true when all closed.
  bool WaitForConnectionsClosed(std::chrono::steady_clock::time_point deadline);
  std::size_t open_connections() const;

  // Stops the event loop and joins the threads (open connections are dropped).
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palisade::server
