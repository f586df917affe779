#pragma once

// The two listeners: HTTPS for the admission endpoints and plain HTTP for metrics and probes.
// Both run one session implementation (TLS or not is a template parameter), so limits, timeouts
// and error answers are the same on both ports. Sessions only move bytes: read a request with
// HttpRequestReader, call the handler, write the answer, repeat. All I/O is asynchronous: each of
// the N admission threads runs its own io_context and a connection stays on the one it was
// assigned to; a separate control thread runs both acceptors, the probe port's connections and
// the TLS reload timer, so probes never wait behind admission work.

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
  std::chrono::milliseconds handshake_timeout{3'000};
  std::chrono::milliseconds header_timeout{10'000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds idle_timeout{90'000};  // keep-alive; above the API server's 90s idle
  std::size_t max_connections = 1024;  // HTTPS; at the cap the longest-idle connection is closed
  std::size_t max_handshakes = 128;    // HTTPS connections still in their TLS handshake
  std::size_t body_limit = 8 * 1024 * 1024;  // 413 above
  std::size_t header_limit = 16 * 1024;      // 431 above
  // Request bodies held in memory across all connections (503 above): with the chart's 256Mi
  // limit, room for this plus per-connection buffers.
  std::size_t max_buffered_request_bytes = 64 * 1024 * 1024;
  // The metrics port: its cap, and how long a connection may stay silent (new or kept alive).
  std::size_t max_probe_connections = 64;
  std::chrono::milliseconds probe_idle_timeout{2'000};
  std::size_t probe_body_limit = 64 * 1024;
  // After an answer sent before the request was read whole (400, 413, 431, 503): how long and how
  // much more of it is read and dropped, so the client can finish sending and read the answer.
  std::chrono::milliseconds linger_timeout{5'000};
  std::size_t linger_bytes = 16 * 1024 * 1024;
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
  // Request body bytes reserved right now (for tests and benchmarks).
  std::size_t buffered_request_bytes() const;

  // Stops the event loop and joins the threads (open connections are dropped).
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palisade::server
