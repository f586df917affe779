#include "server/https_server.h"

#include <openssl/ssl.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "server/logging.h"
#include "server/metrics.h"
#include "server/tls.h"

namespace palisade::server {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Each thread runs its own io_context and a connection stays on the one it was accepted onto, so
// handlers of one connection never run concurrently: no strands, and a concrete executor type
// instead of the type-erased any_io_executor (both cost per operation).
using Executor = net::io_context::executor_type;
using TcpStream = beast::basic_stream<tcp, Executor>;
using Socket = TcpStream::socket_type;

std::optional<HostPort> ParseHostPort(std::string_view text, std::string* error) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *error = "\"" + std::string(text) + "\" is not HOST:PORT";
    return std::nullopt;
  }
  std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  if (port_text.empty() || port_text.size() > 5) {
    *error = "\"" + std::string(text) + "\": port must be a number from 0 to 65535";
    return std::nullopt;
  }
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      *error = "\"" + std::string(text) + "\": port must be a number from 0 to 65535";
      return std::nullopt;
    }
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) {
    *error = "\"" + std::string(text) + "\": port must be a number from 0 to 65535";
    return std::nullopt;
  }
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  if (ec) {
    *error = "\"" + std::string(text) + "\": \"" + host + "\" is not an IP address";
    return std::nullopt;
  }
  return HostPort{host, static_cast<std::uint16_t>(port)};
}

namespace {

bool IsQuietDisconnect(const beast::error_code& ec) {
  return ec == net::error::eof || ec == http::error::end_of_stream ||
         ec == ssl::error::stream_truncated || ec == net::error::operation_aborted ||
         ec == beast::error::timeout || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe;
}

// The response's bytes into `wire` (reused: no allocation once it has grown to the usual answer).
// An answer to HEAD has the headers of the answer to GET and no body.
void SerializeResponse(const HttpResponse& in, bool keep_alive, std::string& wire,
                       bool head = false) {
  const auto status = static_cast<unsigned>(in.status);
  const std::string_view reason = http::obsolete_reason(http::int_to_status(status));
  wire.clear();
  wire.reserve(128 + in.content_type.size() + in.body.size());
  char number[24];
  wire += "HTTP/1.1 ";
  wire.append(number, std::to_chars(number, number + sizeof number, status).ptr);
  wire += ' ';
  wire += reason;
  wire += "\r\nContent-Type: ";
  wire += in.content_type;
  wire += "\r\n";
  for (const auto& [name, value] : in.headers) {
    wire += name;
    wire += ": ";
    wire += value;
    wire += "\r\n";
  }
  if (!keep_alive) wire += "Connection: close\r\n";
  wire += "Content-Length: ";
  wire.append(number, std::to_chars(number, number + sizeof number, in.body.size()).ptr);
  wire += "\r\n\r\n";
  if (!head) wire += in.body;
}

// The status for a request the parser refused, or 0 when the peer just went away.
int ParseErrorStatus(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message ? 0 : 400;
  }
  return 0;
}

std::string_view ParseErrorText(int status) {
  switch (status) {
    case 413:
      return "request body too large";
    case 431:
      return "request header fields too large";
    default:
      return "malformed HTTP request";
  }
}

}  // namespace

struct HttpsServer::Impl {
  Impl(ServerOptions o, TlsCredentials& t, Metrics& m, Logger& l, HttpHandler a, HttpHandler p)
      : options(std::move(o)),
        tls(t),
        metrics(m),
        logger(l),
        admission(std::move(a)),
        probes(std::move(p)),
        ssl_context(ssl::context::tls_server),
        loops(MakeLoops(std::max(1, options.threads))),
        acceptor(loops.front()->io),
        metrics_acceptor(loops.front()->io),
        tls_timer(loops.front()->io) {}

  // One event loop: an io_context for one thread (the hint lets Asio skip cross-thread
  // bookkeeping), kept running while it has no connection.
  struct Loop {
    net::io_context io{1};
    net::executor_work_guard<Executor> keep_running{io.get_executor()};
  };
  static std::vector<std::unique_ptr<Loop>> MakeLoops(int count) {
    std::vector<std::unique_ptr<Loop>> made;
    for (int i = 0; i < count; ++i) made.push_back(std::make_unique<Loop>());
    return made;
  }
  // The loop for the next connection: round robin.
  Executor NextLoop() { return loops[next_loop++ % loops.size()]->io.get_executor(); }

  struct Session;
  struct ProbeSession;

  void Accept();
  void AcceptProbe();
  void ScheduleTlsReload();
  void ConnectionClosed(std::list<std::weak_ptr<Session>>::iterator slot) {
    std::lock_guard<std::mutex> lock(connections_mutex);
    sessions.erase(slot);
    if (sessions.empty()) connections_closed.notify_all();
  }

  ServerOptions options;
  TlsCredentials& tls;
  Metrics& metrics;
  Logger& logger;
  HttpHandler admission;
  HttpHandler probes;
  std::atomic<bool> closing{false};   // responses say `Connection: close`
  std::atomic<bool> draining{false};  // no new connections; idle ones are closed
  static constexpr int kMaxProbeConnections = 64;
  std::atomic<int> probe_connections{0};  // open on the metrics port

  // Touched only when a connection opens or closes, never per request.
  mutable std::mutex connections_mutex;
  std::condition_variable connections_closed;
  std::list<std::weak_ptr<Session>> sessions;

  ssl::context ssl_context;
  std::vector<std::thread> threads;
  // Declared last among I/O objects' owners: destroyed first, so pending sessions release while
  // the members above still exist.
  std::vector<std::unique_ptr<Loop>> loops;
  std::size_t next_loop = 0;  // touched by the accept handler only
  tcp::acceptor acceptor;
  tcp::acceptor metrics_acceptor;
  net::steady_timer tls_timer;
  std::uint16_t bound_port = 0;
  std::uint16_t bound_metrics_port = 0;
};

// One HTTPS connection: handshake, then read a request, answer, repeat, all on one event loop.
struct HttpsServer::Impl::Session : std::enable_shared_from_this<Session> {
  Session(Socket&& socket, Impl* server)
      : server(server), stream(std::move(socket), server->ssl_context) {}

  ~Session() {
    if (registered) server->ConnectionClosed(slot);
  }

  void Run() {
    net::dispatch(stream.get_executor(), [self = shared_from_this()] { self->Handshake(); });
  }

  // Drain: a connection waiting for its next request is closed now; one mid-request finishes.
  void CloseIfIdle() {
    net::post(stream.get_executor(), [self = shared_from_this()] {
      if (self->busy || self->RequestArriving()) return;
      beast::get_lowest_layer(self->stream).cancel();
    });
  }

  // Bytes of a request already here (read, decrypted but unread, or waiting in the socket): the
  // client sent it before it could know of the drain, so it is answered (with close), not dropped.
  bool RequestArriving() {
    if (buffer.size() > 0 || SSL_pending(stream.native_handle()) > 0) return true;
    beast::error_code ec;
    return beast::get_lowest_layer(stream).socket().available(ec) > 0 && !ec;
  }

  void Handshake() {
    if (!server->tls.ApplyTo(stream.native_handle())) {
      server->logger.Error("no TLS certificate loaded; closing connection");
      return Close();
    }
    beast::get_lowest_layer(stream).expires_after(server->options.handshake_timeout);
    stream.async_handshake(
        ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
          if (ec) {
            self->server->logger.Debug("TLS handshake failed", {{"error", ec.message()}});
            return self->Close();
          }
          self->WaitForRequest();
        });
  }

  void WaitForRequest() {
    // A connection that finishes its handshake or its last answer after the drain began is closed,
    // unless its next request is already arriving.
    if (server->draining.load() && !RequestArriving()) return Shutdown();
    if (buffer.size() > 0) return ReadHeader();
    // Idle keep-alive: wait for the first byte with the idle timeout, then the header deadline.
    // Room for a whole TLS record (16 KiB of plaintext): a usual review arrives in this one read.
    beast::get_lowest_layer(stream).expires_after(server->options.idle_timeout);
    stream.async_read_some(buffer.prepare(16 * 1024), [self = shared_from_this()](
                                                          beast::error_code ec, std::size_t n) {
      if (ec) {
        if (ec == net::error::operation_aborted && self->server->draining.load()) {
          return self->Shutdown();
        }
        return self->Close();
      }
      self->buffer.commit(n);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    busy = true;
    // The last request's body string, emptied, takes this one: no allocation per request.
    spare_body.clear();
    parser.emplace(std::piecewise_construct, std::forward_as_tuple(std::move(spare_body)));
    parser->header_limit(static_cast<std::uint32_t>(server->options.header_limit));
    parser->body_limit(server->options.body_limit);
    header_bytes = 0;
    beast::get_lowest_layer(stream).expires_after(server->options.header_timeout);
    ContinueHeader();
  }

  // Parses what has arrived and reads more until the header is complete. Beast's header_limit
  // only bounds what one read leaves unparsed, so a client ending every TLS record on a line
  // break could send headers without end: every header byte is counted here.
  void ContinueHeader() {
    while (buffer.size() > 0) {
      beast::error_code ec;
      const std::size_t used = parser->put(buffer.data(), ec);
      buffer.consume(used);
      header_bytes += used;
      if (ec == http::error::need_more) break;
      if (ec) return ReadFailed(ec);
      if (parser->is_header_done()) return ReadBody();
      if (used == 0) break;
    }
    if (header_bytes + buffer.size() > server->options.header_limit) {
      return ReadFailed(http::error::header_limit);
    }
    stream.async_read_some(buffer.prepare(4096),
                           [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                             if (ec) return self->ReadFailed(ec);
                             self->buffer.commit(n);
                             self->ContinueHeader();
                           });
  }

  void ReadBody() {
    const auto& header = parser->get();
    const auto now = std::chrono::steady_clock::now();
    request.SetHead(header.method_string(), header.target(), header[http::field::content_type],
                    now);
    auto body_deadline = now + server->options.body_timeout;
    if (request.deadline) body_deadline = std::min(body_deadline, *request.deadline);
    beast::get_lowest_layer(stream).expires_at(body_deadline);
    http::async_read(stream, buffer, *parser,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->ReadFailed(ec);
                       self->Respond();
                     });
  }

  void ReadFailed(const beast::error_code& ec) {
    const int status = ParseErrorStatus(ec);
    if (status == 0) {
      if (!IsQuietDisconnect(ec)) {
        server->logger.Debug("connection read failed", {{"error", ec.message()}});
      }
      return Close();
    }
    server->metrics.RecordHttpError(status);
    // The rest of the request is unread: answer and close.
    Write(TextResponse(status, std::string(ParseErrorText(status))), false);
  }

  void Respond() {
    request.body = parser->release().body();
    const bool keep_alive = parser->keep_alive();
    HttpResponse response;
    try {
      response = server->admission(request);
    } catch (const std::exception& e) {
      server->logger.Error("request handler failed", {{"error", e.what()}});
      server->metrics.RecordHttpError(500);
      response = TextResponse(500, "internal error");
    } catch (...) {
      server->logger.Error("request handler failed", {{"error", "unknown exception"}});
      server->metrics.RecordHttpError(500);
      response = TextResponse(500, "internal error");
    }
    // Kept for the next request unless it is large: an idle connection should not hold megabytes.
    if (request.body.capacity() <= kSpareBodyCapacity) spare_body = std::move(request.body);
    Write(response, keep_alive);
  }

  void Write(const HttpResponse& response, bool keep_alive) {
    // A draining server tells the client on this response, then closes.
    keep_alive = keep_alive && !server->closing.load();
    SerializeResponse(response, keep_alive, wire);
    beast::get_lowest_layer(stream).expires_after(server->options.write_timeout);
    net::async_write(stream, net::buffer(wire),
                     [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       self->busy = false;
                       if (!keep_alive) return self->Shutdown();
                       self->WaitForRequest();
                     });
  }

  void Shutdown() {
    busy = false;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    // Send close_notify without waiting for the peer's: an idle client may never answer it.
    SSL_set_shutdown(stream.native_handle(), SSL_RECEIVED_SHUTDOWN);
    // stream_truncated from a peer that just closes is normal here.
    stream.async_shutdown([self = shared_from_this()](beast::error_code) { self->Close(); });
  }

  void Close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream).close();
  }

  Impl* server;  // outlives every session: the io_context is destroyed first
  ssl::stream<TcpStream> stream;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  HttpRequest request;
  static constexpr std::size_t kSpareBodyCapacity = 64 * 1024;
  std::string spare_body;        // the buffer for the next request's body
  std::string wire;              // the response being written
  bool busy = false;             // between the first byte of a request and the end of its response
  std::size_t header_bytes = 0;  // of the request being read, across reads
  bool registered = false;
  std::list<std::weak_ptr<Session>>::iterator slot;
};

// One plain-HTTP connection on the metrics port.
struct HttpsServer::Impl::ProbeSession : std::enable_shared_from_this<ProbeSession> {
  ProbeSession(Socket&& socket, Impl* server) : server(server), stream(std::move(socket)) {}

  void Run() {
    net::dispatch(stream.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  ~ProbeSession() { --server->probe_connections; }

  // Probes and scrapes are GETs: the body limit is small. The whole request must arrive within the
  // header timeout, so a slow client cannot hold the port's connections.
  static constexpr std::size_t kBodyLimit = 64 * 1024;

  void Read() {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(server->options.header_limit));
    parser->body_limit(kBodyLimit);
    stream.expires_after(server->options.header_timeout);
    http::async_read(
        stream, buffer, *parser, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (!ec) return self->Respond();
          const int status = ParseErrorStatus(ec);
          if (status == 0) return self->Close();
          self->Write(TextResponse(status, std::string(ParseErrorText(status))), false, false);
        });
  }

  void Respond() {
    HttpRequest request;
    const auto& message = parser->get();
    request.SetHead(message.method_string(), message.target(), message[http::field::content_type],
                    std::chrono::steady_clock::now());
    HttpResponse response;
    try {
      response = server->probes(request);
    } catch (const std::exception& e) {
      response = TextResponse(500, e.what());
    }
    Write(response, parser->keep_alive(), request.method == "HEAD");
  }

  void Write(const HttpResponse& response, bool keep_alive, bool head) {
    SerializeResponse(response, keep_alive, wire, head);
    stream.expires_after(server->options.write_timeout);
    net::async_write(stream, net::buffer(wire),
                     [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                       if (ec || !keep_alive) return self->Close();
                       self->Read();
                     });
  }

  void Close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  Impl* server;  // outlives every session: the io_context is destroyed first
  TcpStream stream;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  std::string wire;
};

void HttpsServer::Impl::Accept() {
  acceptor.async_accept(NextLoop(), [self = this](beast::error_code ec, Socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !self->acceptor.is_open()) return;
      self->logger.Warn("accept failed", {{"error", ec.message()}});
      return self->Accept();
    }
    if (self->draining.load()) return;
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(std::move(socket), self);
    {
      std::lock_guard<std::mutex> lock(self->connections_mutex);
      if (self->sessions.size() >= self->options.max_connections) {
        session.reset();  // closes the socket: the cap protects memory and file descriptors
      } else {
        session->slot = self->sessions.insert(self->sessions.end(), session);
        session->registered = true;
      }
    }
    if (session) {
      session->Run();
    } else {
      self->logger.Warn("connection refused: too many open connections",
                        {{"limit", static_cast<std::int64_t>(self->options.max_connections)}});
    }
    self->Accept();
  });
}

void HttpsServer::Impl::AcceptProbe() {
  metrics_acceptor.async_accept(
      loops.front()->io.get_executor(), [self = this](beast::error_code ec, Socket socket) {
        if (ec) {
          if (ec == net::error::operation_aborted || !self->metrics_acceptor.is_open()) return;
          return self->AcceptProbe();
        }
        // Scrapes and probes need few connections; the cap keeps file descriptors for admission.
        if (self->probe_connections < kMaxProbeConnections) {
          ++self->probe_connections;
          std::make_shared<ProbeSession>(std::move(socket), self)->Run();
        }
        self->AcceptProbe();
      });
}

void HttpsServer::Impl::ScheduleTlsReload() {
  tls_timer.expires_after(options.tls_reload_interval);
  tls_timer.async_wait([self = this](beast::error_code ec) {
    if (ec) return;
    self->tls.ReloadIfChanged();
    self->ScheduleTlsReload();
  });
}

HttpsServer::HttpsServer(ServerOptions options, TlsCredentials& tls, Metrics& metrics,
                         Logger& logger, HttpHandler admission, HttpHandler probes)
    : impl_(std::make_unique<Impl>(std::move(options), tls, metrics, logger, std::move(admission),
                                   std::move(probes))) {}

HttpsServer::~HttpsServer() { Stop(); }

namespace {

bool Listen(tcp::acceptor& acceptor, const HostPort& where, std::string_view what,
            std::string* error) {
  beast::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(where.host), where.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = std::string(what) + ": cannot listen on " + where.host + ":" +
             std::to_string(where.port) + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

bool HttpsServer::Start(std::string* error) {
  Impl& impl = *impl_;
  const std::optional<HostPort> listen = ParseHostPort(impl.options.listen, error);
  if (!listen) return false;
  const std::optional<HostPort> metrics_listen = ParseHostPort(impl.options.metrics_listen, error);
  if (!metrics_listen) return false;
  if (!impl.tls.ConfigureContext(impl.ssl_context.native_handle(), error)) return false;
  if (!Listen(impl.acceptor, *listen, "--listen", error)) return false;
  if (!Listen(impl.metrics_acceptor, *metrics_listen, "--metrics-listen", error)) return false;
  impl.bound_port = impl.acceptor.local_endpoint().port();
  impl.bound_metrics_port = impl.metrics_acceptor.local_endpoint().port();
  impl.Accept();
  impl.AcceptProbe();
  impl.ScheduleTlsReload();
  for (const auto& loop : impl.loops) {
    impl.threads.emplace_back([impl = impl_.get(), io = &loop->io] {
      // A handler that throws must not end the thread; sessions catch their own, this is the net.
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {
          impl->logger.Error("event loop error", {{"error", e.what()}});
        }
      }
    });
  }
  return true;
}

std::uint16_t HttpsServer::port() const { return impl_->bound_port; }
std::uint16_t HttpsServer::metrics_port() const { return impl_->bound_metrics_port; }

void HttpsServer::CloseConnectionsAfterResponse() { impl_->closing.store(true); }

void HttpsServer::StopAccepting() {
  impl_->closing.store(true);
  if (impl_->draining.exchange(true)) return;
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<Impl::Session>> open;
  {
    std::lock_guard<std::mutex> lock(impl_->connections_mutex);
    for (const auto& weak : impl_->sessions) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (const auto& session : open) session->CloseIfIdle();
}

bool HttpsServer::WaitForConnectionsClosed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(impl_->connections_mutex);
  return impl_->connections_closed.wait_until(lock, deadline,
                                              [this] { return impl_->sessions.empty(); });
}

std::size_t HttpsServer::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->connections_mutex);
  return impl_->sessions.size();
}

void HttpsServer::Stop() {
  if (!impl_) return;
  for (const auto& loop : impl_->loops) loop->io.stop();
  for (std::thread& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
}

}  // namespace palisade::server
