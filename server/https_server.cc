#include "server/https_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "server/http_request_parser.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/tls.h"

namespace palisade::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Each thread runs its own io_context and a connection stays on the one it was accepted onto, so
// handlers of one connection never run concurrently: no strands, and a concrete executor type
// instead of the type-erased any_io_executor (both cost per operation).
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Executor>;

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

using Clock = std::chrono::steady_clock;

// The response's bytes into `wire` (reused: no allocation once it has grown to the usual answer).
// An answer to HEAD has the headers of the answer to GET and no body.
void SerializeResponse(const HttpResponse& in, bool keep_alive, std::string& wire, bool head) {
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

HttpResponse BusyResponse(std::string reason) {
  HttpResponse response = TextResponse(503, std::move(reason));
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

struct HttpsServer::Impl {
  Impl(ServerOptions o, TlsCredentials& t, Metrics& m, Logger& l, HttpHandler a, HttpHandler p)
      : options(std::move(o)),
        tls(t),
        metrics(m),
        logger(l),
        budget(options.max_buffered_request_bytes),
        settings_context(SSL_CTX_new(TLS_server_method())),
        loops(MakeLoops(std::max(1, options.threads))) {
    admission.name = "admission";
    admission.handler = std::move(a);
    admission.limits = HttpLimits{options.body_limit, options.header_limit};
    admission.max_connections = options.max_connections;
    admission.first_byte_timeout = options.idle_timeout;
    admission.idle_timeout = options.idle_timeout;
    admission.acceptor.emplace(control.io);
    admission.retry.emplace(control.io);
    probes.name = "probes";
    probes.handler = std::move(p);
    probes.limits = HttpLimits{options.probe_body_limit, options.header_limit};
    probes.max_connections = options.max_probe_connections;
    probes.first_byte_timeout = options.probe_idle_timeout;
    probes.idle_timeout = options.probe_idle_timeout;
    probes.acceptor.emplace(control.io);
    probes.retry.emplace(control.io);
    tls_timer.emplace(control.io);
  }

  ~Impl() {
    // The I/O objects first, while the listeners their sessions unregister from still exist.
    admission.acceptor.reset();
    admission.retry.reset();
    probes.acceptor.reset();
    probes.retry.reset();
    tls_timer.reset();
    // The aborted accepts wait on the control loop holding sockets of the admission loops:
    // run them out while those loops still exist.
    control.io.restart();
    control.io.poll();
    loops.clear();
    SSL_CTX_free(settings_context);
  }

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

  enum class Phase : std::uint8_t { kHandshake, kIdle, kBusy };

  // What the listener knows of a session: its phase, since when, and how to close it from
  // another thread.
  struct SessionBase : std::enable_shared_from_this<SessionBase> {
    virtual ~SessionBase() = default;
    virtual void Evict() = 0;  // closes it on its own loop
    void SetPhase(Phase p, Clock::time_point now) {
      since.store(now.time_since_epoch().count(), std::memory_order_relaxed);
      phase.store(p, std::memory_order_relaxed);
    }
    std::atomic<Phase> phase{Phase::kIdle};
    std::atomic<Clock::rep> since{0};
    // Guarded by the listener's mutex.
    bool registered = false;
    bool evicted = false;
    bool handshaking = false;
    std::list<SessionBase*>::iterator slot, handshake_slot;
  };

  // One port: its acceptor, limits and connections. Touched when a connection opens, finishes
  // its handshake or closes, never per request.
  struct Listener {
    std::string_view name;
    HttpHandler handler;
    HttpLimits limits;
    std::size_t max_connections = 0;
    std::chrono::milliseconds first_byte_timeout{0};
    std::chrono::milliseconds idle_timeout{0};
    std::optional<tcp::acceptor> acceptor;
    std::optional<net::steady_timer> retry;  // accept back-off
    std::chrono::milliseconds backoff{0};
    Clock::time_point last_error_log{};
    std::uint64_t suppressed_errors = 0;
    std::atomic<int> refusing{0};  // connections being answered 503 at the cap

    mutable std::mutex mutex;
    std::condition_variable all_closed;
    std::list<SessionBase*> sessions;
    std::list<SessionBase*> handshakes;  // oldest first
    std::size_t evicting = 0;            // evicted, not yet gone
  };

  template <bool kTls>
  struct Session;

  // Registers a new connection. At the cap (or the handshake budget), the oldest pending
  // handshake or else the longest-idle connection is closed to make room; false when none is.
  bool Admit(Listener& listener, SessionBase& session, bool tls);
  void Unregister(Listener& listener, SessionBase& session);
  void HandshakeDone(Listener& listener, SessionBase& session);
  // Marks `victim` evicted and asks its loop to close it. Returns it to be released after the
  // listener's mutex: the last reference may run its destructor, which takes that mutex.
  std::shared_ptr<SessionBase> EvictLocked(Listener& listener, SessionBase& victim);

  template <bool kTls>
  void Accept(Listener& listener);
  void AcceptFailed(Listener& listener, const beast::error_code& ec, std::function<void()> retry);
  void ScheduleTlsReload();

  // The loop for the next admission connection: round robin.
  Executor NextLoop() { return loops[next_loop++ % loops.size()]->io.get_executor(); }

  ServerOptions options;
  TlsCredentials& tls;
  Metrics& metrics;
  Logger& logger;
  RequestByteBudget budget;
  std::atomic<bool> closing{false};   // responses say `Connection: close`
  std::atomic<bool> draining{false};  // no new connections; idle ones are closed
  Listener admission;
  Listener probes;

  SSL_CTX* settings_context;  // TLS settings without a certificate, while none is loaded
  std::vector<std::thread> threads;
  Loop control;  // acceptors, the probe port, the TLS reload timer
  std::vector<std::unique_ptr<Loop>> loops;
  std::size_t next_loop = 0;  // touched by the accept handler only
  std::optional<net::steady_timer> tls_timer;
  std::uint16_t bound_port = 0;
  std::uint16_t bound_metrics_port = 0;
};

// One connection, TLS or plain: (handshake,) then read a request, answer, repeat, on one loop.
// The session drives OpenSSL (or the plain socket) itself: it tries each read or write at once
// and waits on the socket's readiness only when that would block, so bytes are copied once
// between the kernel and OpenSSL, and a connection holds no buffers beyond OpenSSL's own (given
// back when idle) and the request and answer.
template <bool kTls>
struct HttpsServer::Impl::Session final : HttpsServer::Impl::SessionBase {
  static constexpr std::size_t kReadSize = 16 * 1024;  // a whole TLS record
  // Reads in a row before the loop's other connections get a turn.
  static constexpr int kReadsPerTurn = 16;

  // What a read or write did: moved bytes, would block (waiting for the socket to be readable or
  // writable), or ended.
  enum class Io : std::uint8_t { kDone, kWantRead, kWantWrite, kEof, kError };
  enum class After : std::uint8_t { kNextRequest, kShutdown, kLinger };

  Session(Socket&& s, Impl* server, Listener* listener)
      : server(server),
        listener(listener),
        socket(std::move(s)),
        timer(socket.get_executor()),
        reader(listener->limits, &server->budget) {
    if constexpr (kTls) {
      // The current certificate's context; the settings-only one while none is loaded (the
      // handshake then closes the connection).
      SSL_CTX* current = server->tls.AcquireContext();
      ssl = NewServerConnection(current != nullptr ? current : server->settings_context,
                                socket.native_handle());
      if (current != nullptr) SSL_CTX_free(current);  // the connection holds its own reference
    }
  }

  ~Session() override {
    if (ssl != nullptr) SSL_free(ssl);
    if (registered) server->Unregister(*listener, *this);
    if (refused) --listener->refusing;
  }

  std::shared_ptr<Session> self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void Run() {
    net::dispatch(socket.get_executor(), [self = self()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->WaitForRequest(true);
      }
    });
  }

  // At the cap: answer 503 and close, without counting against the cap.
  void RunRefused() {
    refused = true;
    ++listener->refusing;
    net::dispatch(socket.get_executor(), [self = self()] {
      self->server->metrics.RecordHttpError(503);
      self->Write(BusyResponse("too many connections"), false, true);
    });
  }

  void Evict() override {
    net::post(socket.get_executor(), [self = self()] { self->Close(); });
  }

  // Drain: a connection waiting for its next request is closed now; one mid-request finishes.
  void CloseIfIdle() {
    net::post(socket.get_executor(), [self = self()] {
      if (self->phase.load(std::memory_order_relaxed) == Phase::kBusy || self->RequestArriving()) {
        return;
      }
      beast::error_code ignored;
      self->socket.cancel(ignored);
    });
  }

  // Bytes of a request already here (read, decrypted but unread, or waiting in the socket): the
  // client sent it before it could know of the drain, so it is answered (with close), not dropped.
  bool RequestArriving() {
    if (!leftover.empty() || TlsPending()) return true;
    beast::error_code ec;
    return socket.available(ec) > 0 && !ec;
  }

  bool TlsPending() const {
    if constexpr (kTls) return SSL_has_pending(ssl) == 1;
    return false;
  }

  // The connection's one timer runs to the earliest deadline set since it was armed; a later
  // deadline does not re-arm it (most requests move it later), it is looked at when it fires.
  void ExpiresAt(Clock::time_point when) {
    deadline = when;
    if (when >= armed) return;
    armed = when;
    timer.expires_at(when);  // a wait already pending ends with operation_aborted
    timer.async_wait([weak = weak_from_this()](const beast::error_code& ec) {
      if (ec) return;
      const std::shared_ptr<SessionBase> alive = weak.lock();
      if (alive == nullptr) return;
      auto& session = static_cast<Session&>(*alive);
      session.armed = Clock::time_point::max();
      if (session.closed) return;
      if (Clock::now() >= session.deadline) {
        session.server->logger.Debug("connection timed out", {{"port", session.listener->name}});
        return session.Close();
      }
      session.ExpiresAt(session.deadline);
    });
  }
  void ExpiresAfter(std::chrono::milliseconds timeout) { ExpiresAt(Clock::now() + timeout); }

  // Waits until the socket is readable or writable, then runs `next`.
  void Await(net::socket_base::wait_type what, void (Session::*next)()) {
    // Waiting for bytes, OpenSSL's drained record buffers (about 34 KiB) go back: it keeps its
    // read buffer through a handshake's round trip and after a read that found nothing, and
    // SSL_MODE_RELEASE_BUFFERS covers neither. Nothing is freed while a record is pending.
    if constexpr (kTls) {
      if (what == net::socket_base::wait_read) SSL_free_buffers(ssl);
    }
    socket.async_wait(what, [self = self(), next](const beast::error_code& ec) {
      if (self->closed) return;
      if (ec) {
        // Cancelled by the drain while waiting for a request: say goodbye properly.
        if (ec == net::error::operation_aborted && self->server->draining.load() &&
            self->phase.load(std::memory_order_relaxed) == Phase::kIdle) {
          return self->Shutdown();
        }
        if (ec != net::error::operation_aborted) {
          self->server->logger.Debug("connection wait failed", {{"error", ec.message()}});
        }
        return self->Close();
      }
      ((*self).*next)();
    });
  }

  // Runs `next` after the loop's other ready work: what is already here is handled without
  // growing the stack request after request.
  void Later(void (Session::*next)()) {
    net::post(socket.get_executor(), [self = self(), next] {
      if (!self->closed) ((*self).*next)();
    });
  }

  Io FromTls(int result) {
    if constexpr (kTls) {
      switch (SSL_get_error(ssl, result)) {
        case SSL_ERROR_WANT_READ:
          return Io::kWantRead;
        case SSL_ERROR_WANT_WRITE:
          return Io::kWantWrite;
        case SSL_ERROR_ZERO_RETURN:
          return Io::kEof;
        case SSL_ERROR_SYSCALL:
          io_error = errno != 0 ? std::strerror(errno) : "connection closed";
          ERR_clear_error();
          return Io::kError;
        default:
          io_error = OpenSslError();
          return Io::kError;
      }
    }
    (void)result;
    return Io::kError;
  }

  Io FromErrno(ssize_t result, Io would_block) {
    if (result == 0) return Io::kEof;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return would_block;
    io_error = std::strerror(errno);
    return Io::kError;
  }

  Io ReadNow(void* data, std::size_t size, std::size_t* got) {
    if constexpr (kTls) {
      ERR_clear_error();
      if (SSL_read_ex(ssl, data, size, got) == 1) return Io::kDone;
      return FromTls(0);
    } else {
      const ssize_t n = ReceiveNow(socket.native_handle(), static_cast<char*>(data), size);
      if (n > 0) {
        *got = static_cast<std::size_t>(n);
        return Io::kDone;
      }
      return FromErrno(n, Io::kWantRead);
    }
  }

  Io WriteNow(const char* data, std::size_t size, std::size_t* sent) {
    if constexpr (kTls) {
      ERR_clear_error();
      if (SSL_write_ex(ssl, data, size, sent) == 1) return Io::kDone;
      return FromTls(0);
    } else {
      const ssize_t n = SendNow(socket.native_handle(), data, size);
      if (n >= 0) {
        *sent = static_cast<std::size_t>(n);
        return Io::kDone;
      }
      return FromErrno(n, Io::kWantWrite);
    }
  }

  void Handshake() {
    if constexpr (kTls) {
      if (ssl == nullptr || SSL_get_certificate(ssl) == nullptr) {
        server->logger.Error(ssl == nullptr ? "cannot make a TLS connection"
                                            : "no TLS certificate loaded; closing connection");
        return Close();
      }
      ExpiresAfter(server->options.handshake_timeout);
      ContinueHandshake();
    }
  }

  void ContinueHandshake() {
    if constexpr (kTls) {
      ERR_clear_error();
      const int result = SSL_do_handshake(ssl);
      if (result == 1) {
        server->HandshakeDone(*listener, *this);
        return WaitForRequest(true);
      }
      switch (FromTls(result)) {
        case Io::kWantRead:
          return Await(net::socket_base::wait_read, &Session::ContinueHandshake);
        case Io::kWantWrite:
          return Await(net::socket_base::wait_write, &Session::ContinueHandshake);
        default:
          server->HandshakeDone(*listener, *this);
          server->logger.Debug("TLS handshake failed", {{"error", io_error}});
          return Close();
      }
    }
  }

  void WaitForRequest(bool first) {
    // A connection that finishes its handshake or its last answer after the drain began is closed,
    // unless its next request is already arriving.
    if (listener == &server->admission && server->draining.load() && !RequestArriving()) {
      return Shutdown();
    }
    SetPhase(Phase::kIdle, Clock::now());
    if (!leftover.empty()) return Later(&Session::Pipelined);
    ExpiresAfter(first ? listener->first_byte_timeout : listener->idle_timeout);
    // A new connection's request is often here already: read it now, so the connection counts
    // as busy (not as idle, to be closed at the cap) from the start.
    if (first) return ReadSome();
    if (TlsPending()) return Later(&Session::ReadSome);
    Await(net::socket_base::wait_read, &Session::ReadSome);
  }

  void Pipelined() {
    if (OnBytes(leftover)) ReadSome();
  }

  // Reads land in the thread's one buffer; a connection keeps only what a request has not
  // consumed yet (a partial head, a pipelined request), so an idle one holds no read buffer.
  static char* Scratch() {
    static thread_local char scratch[kReadSize];
    return scratch;
  }

  void ReadSome() {
    char* const scratch = Scratch();
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
      std::size_t got = 0;
      switch (ReadNow(scratch, kReadSize, &got)) {
        case Io::kDone:
          if (leftover.empty()) {
            if (!OnBytes(std::string_view(scratch, got))) return;
          } else {
            leftover.append(scratch, got);
            if (!OnBytes(leftover)) return;
          }
          continue;
        case Io::kWantRead:
          return Await(net::socket_base::wait_read, &Session::ReadSome);
        case Io::kWantWrite:
          return Await(net::socket_base::wait_write, &Session::ReadSome);
        case Io::kEof:
          return Close();
        case Io::kError:
          server->logger.Debug("connection read failed", {{"error", io_error}});
          return Close();
      }
    }
    Later(&Session::ReadSome);
  }

  // Parses what has arrived (the scratch buffer's bytes, or `leftover`), keeping what is not
  // consumed in `leftover`. True when the request needs more bytes; otherwise it has been
  // answered or refused.
  bool OnBytes(std::string_view bytes) {
    if (phase.load(std::memory_order_relaxed) != Phase::kBusy) {
      // The first bytes of a request: the header deadline runs from here.
      const auto now = Clock::now();
      SetPhase(Phase::kBusy, now);
      reader.Begin();
      head_set = false;
      ExpiresAt(now + server->options.header_timeout);
    }
    std::size_t used = 0;
    const auto status = reader.Parse(bytes, &used);
    if (bytes.data() == leftover.data()) {
      leftover.erase(0, used);
      if (leftover.empty() && leftover.capacity() > 1024) std::string().swap(leftover);
    } else {
      leftover.assign(bytes.substr(used));
    }
    if (status == HttpRequestReader::Status::kRefused) {
      server->metrics.RecordHttpError(reader.status());
      server->logger.Debug(
          "request refused",
          {{"port", listener->name}, {"status", reader.status()}, {"error", reader.detail()}});
      HttpResponse response = reader.status() == 503
                                  ? BusyResponse(reader.reason())
                                  : TextResponse(reader.status(), reader.reason());
      // The rest of the request is unread: answer, then read and drop what still comes.
      Write(response, false, true);
      return false;
    }
    if (reader.header_done() && !head_set) {
      const auto now = Clock::now();
      request.SetHead(reader.method(), reader.target(), reader.content_type(), now);
      head_set = true;
      if (status == HttpRequestReader::Status::kNeedMore) {
        ExpiresAt(now + server->options.body_timeout);
      }
    }
    if (status == HttpRequestReader::Status::kComplete) {
      Respond();
      return false;
    }
    return true;
  }

  void Respond() {
    request.body = reader.TakeBody();
    const bool keep_alive = reader.keep_alive();
    HttpResponse response;
    try {
      response = listener->handler(request);
    } catch (const std::exception& e) {
      server->logger.Error("request handler failed", {{"error", e.what()}});
      server->metrics.RecordHttpError(500);
      response = TextResponse(500, "internal error");
    } catch (...) {
      server->logger.Error("request handler failed", {{"error", "unknown exception"}});
      server->metrics.RecordHttpError(500);
      response = TextResponse(500, "internal error");
    }
    reader.ReleaseBudget();  // the request is done with its body
    // Given back: an idle connection holds no request buffer (the next body is reserved at its
    // Content-Length, one allocation), so memory follows requests in flight, not connections.
    std::string().swap(request.body);
    Write(response, keep_alive, false);
  }

  void Write(const HttpResponse& response, bool keep_alive, bool linger) {
    // A draining server tells the client on this response, then closes.
    keep_alive = keep_alive && !server->closing.load();
    SerializeResponse(response, keep_alive, wire, head_set && request.method == "HEAD");
    written = 0;
    after_write = linger ? After::kLinger : keep_alive ? After::kNextRequest : After::kShutdown;
    ExpiresAfter(server->options.write_timeout);
    WriteSome();
  }

  void WriteSome() {
    while (written < wire.size()) {
      std::size_t sent = 0;
      switch (WriteNow(wire.data() + written, wire.size() - written, &sent)) {
        case Io::kDone:
          written += sent;
          continue;
        case Io::kWantWrite:
          return Await(net::socket_base::wait_write, &Session::WriteSome);
        case Io::kWantRead:
          return Await(net::socket_base::wait_read, &Session::WriteSome);
        case Io::kEof:
        case Io::kError:
          return Close();
      }
    }
    std::string().swap(wire);  // likewise the answer's
    switch (after_write) {
      case After::kLinger:
        return Linger();
      case After::kShutdown:
        return Shutdown();
      case After::kNextRequest:
        return WaitForRequest(false);
    }
  }

  // As nginx's lingering close: the answer is out; stop sending, then read and drop what the
  // client is still sending (for a bounded time and size) so closing does not reset the
  // connection before the client has read the answer. Below TLS: nothing more is decrypted.
  void Linger() {
    SetPhase(Phase::kIdle, Clock::now());
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    ExpiresAfter(server->options.linger_timeout);
    leftover.clear();
    lingered = 0;
    LingerRead();
  }

  void LingerRead() {
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
      const ssize_t n = ReceiveNow(socket.native_handle(), Scratch(), kReadSize);
      if (n > 0) {
        lingered += static_cast<std::size_t>(n);
        if (lingered > server->options.linger_bytes) return Close();
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Await(net::socket_base::wait_read, &Session::LingerRead);
      }
      return Close();
    }
    Later(&Session::LingerRead);
  }

  void Shutdown() {
    if constexpr (kTls) {
      ExpiresAfter(std::chrono::seconds(2));
      // Send close_notify without waiting for the peer's: an idle client may never answer it.
      SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
      ContinueShutdown();
    } else {
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      Close();
    }
  }

  void ContinueShutdown() {
    if constexpr (kTls) {
      ERR_clear_error();
      const int result = SSL_shutdown(ssl);
      if (result >= 0) return Close();
      switch (FromTls(result)) {
        case Io::kWantWrite:
          return Await(net::socket_base::wait_write, &Session::ContinueShutdown);
        case Io::kWantRead:
          return Await(net::socket_base::wait_read, &Session::ContinueShutdown);
        default:
          return Close();
      }
    }
  }

  void Close() {
    if (closed) return;
    closed = true;
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);  // pending waits end with operation_aborted
    timer.cancel();
  }

  Impl* server;  // outlives every session: the io_contexts are destroyed first
  Listener* listener;
  Socket socket;
  Timer timer;
  SSL* ssl = nullptr;  // TLS sessions only
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point armed = Clock::time_point::max();  // when the pending timer wait ends
  std::string leftover;  // bytes read and not yet consumed by a request
  HttpRequestReader reader;
  HttpRequest request;
  std::string io_error;  // why the last read or write failed, for the log
  std::string wire;      // the response being written
  std::size_t written = 0;
  std::size_t lingered = 0;
  After after_write = After::kNextRequest;
  bool head_set = false;  // `request` has this request's head
  bool refused = false;   // answered 503 at the cap, not registered
  bool closed = false;
};

bool HttpsServer::Impl::Admit(Listener& listener, SessionBase& session, bool tls) {
  std::shared_ptr<SessionBase> shed, victim_alive;  // released after the lock
  std::lock_guard<std::mutex> lock(listener.mutex);
  if (tls && listener.handshakes.size() >= options.max_handshakes) {
    shed = EvictLocked(listener, *listener.handshakes.front());
  }
  if (listener.sessions.size() - listener.evicting >= listener.max_connections) {
    // Scanned only at the cap.
    SessionBase* victim = listener.handshakes.empty() ? nullptr : listener.handshakes.front();
    Clock::rep oldest = 0;
    for (SessionBase* candidate : listener.sessions) {
      if (victim != nullptr && victim->handshaking) break;
      if (candidate->evicted || candidate->phase.load(std::memory_order_relaxed) != Phase::kIdle) {
        continue;
      }
      const Clock::rep since = candidate->since.load(std::memory_order_relaxed);
      if (victim == nullptr || since < oldest) {
        victim = candidate;
        oldest = since;
      }
    }
    if (victim == nullptr) return false;
    victim_alive = EvictLocked(listener, *victim);
  }
  session.SetPhase(tls ? Phase::kHandshake : Phase::kIdle, Clock::now());
  session.slot = listener.sessions.insert(listener.sessions.end(), &session);
  session.registered = true;
  if (tls) {
    session.handshake_slot = listener.handshakes.insert(listener.handshakes.end(), &session);
    session.handshaking = true;
  }
  return true;
}

std::shared_ptr<HttpsServer::Impl::SessionBase> HttpsServer::Impl::EvictLocked(
    Listener& listener, SessionBase& victim) {
  if (victim.handshaking) {
    listener.handshakes.erase(victim.handshake_slot);
    victim.handshaking = false;
  }
  if (victim.evicted) return nullptr;
  victim.evicted = true;
  ++listener.evicting;
  // Null when it is already being destroyed (blocked on the mutex in Unregister).
  std::shared_ptr<SessionBase> alive = victim.weak_from_this().lock();
  if (alive) alive->Evict();
  return alive;
}

void HttpsServer::Impl::HandshakeDone(Listener& listener, SessionBase& session) {
  std::lock_guard<std::mutex> lock(listener.mutex);
  if (!session.handshaking) return;
  listener.handshakes.erase(session.handshake_slot);
  session.handshaking = false;
}

void HttpsServer::Impl::Unregister(Listener& listener, SessionBase& session) {
  std::lock_guard<std::mutex> lock(listener.mutex);
  if (session.handshaking) listener.handshakes.erase(session.handshake_slot);
  if (session.evicted) --listener.evicting;
  listener.sessions.erase(session.slot);
  if (listener.sessions.empty()) listener.all_closed.notify_all();
}

void HttpsServer::Impl::AcceptFailed(Listener& listener, const beast::error_code& ec,
                                     std::function<void()> retry) {
  // Out of file descriptors (or memory) the error repeats at once: back off, 10 ms doubling to
  // 1 s, and log once a second with the number of errors in between.
  listener.backoff = std::clamp(listener.backoff * 2, std::chrono::milliseconds(10),
                                std::chrono::milliseconds(1000));
  const auto now = Clock::now();
  if (now - listener.last_error_log >= std::chrono::seconds(1)) {
    logger.Warn("accept failed",
                {{"port", listener.name},
                 {"error", ec.message()},
                 {"suppressed", static_cast<std::int64_t>(listener.suppressed_errors)},
                 {"retry_ms", static_cast<std::int64_t>(listener.backoff.count())}});
    listener.last_error_log = now;
    listener.suppressed_errors = 0;
  } else {
    ++listener.suppressed_errors;
  }
  listener.retry->expires_after(listener.backoff);
  listener.retry->async_wait([retry = std::move(retry)](beast::error_code wait_error) {
    if (!wait_error) retry();
  });
}

template <bool kTls>
void HttpsServer::Impl::Accept(Listener& listener) {
  const Executor executor = kTls ? NextLoop() : control.io.get_executor();
  listener.acceptor->async_accept(executor, [this, &listener](beast::error_code ec, Socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !listener.acceptor->is_open()) return;
      if (ec == net::error::connection_aborted) return Accept<kTls>(listener);
      return AcceptFailed(listener, ec, [this, &listener] { Accept<kTls>(listener); });
    }
    if (listener.backoff.count() > 0) {
      logger.Info("accepting again",
                  {{"port", listener.name},
                   {"suppressed", static_cast<std::int64_t>(listener.suppressed_errors)}});
      listener.backoff = std::chrono::milliseconds(0);
      listener.suppressed_errors = 0;
    }
    if (kTls && draining.load()) return;
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session<kTls>>(std::move(socket), this, &listener);
    if (Admit(listener, *session, kTls)) {
      session->Run();
    } else if (!kTls && listener.refusing.load() < 64) {
      // Plain HTTP can say why; the 503's lingering close keeps it from resetting the probe.
      session->RunRefused();
    } else {
      logger.Warn("connection refused: every connection is busy",
                  {{"port", listener.name},
                   {"limit", static_cast<std::int64_t>(listener.max_connections)}});
    }
    Accept<kTls>(listener);
  });
}

void HttpsServer::Impl::ScheduleTlsReload() {
  tls_timer->expires_after(options.tls_reload_interval);
  tls_timer->async_wait([self = this](beast::error_code ec) {
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
  if (impl.settings_context == nullptr) {
    *error = "cannot make a TLS context: " + OpenSslError();
    return false;
  }
  if (!impl.tls.ConfigureContext(impl.settings_context, error)) return false;
  if (!Listen(*impl.admission.acceptor, *listen, "--listen", error)) return false;
  if (!Listen(*impl.probes.acceptor, *metrics_listen, "--metrics-listen", error)) return false;
  impl.bound_port = impl.admission.acceptor->local_endpoint().port();
  impl.bound_metrics_port = impl.probes.acceptor->local_endpoint().port();
  impl.Accept<true>(impl.admission);
  impl.Accept<false>(impl.probes);
  impl.ScheduleTlsReload();
  std::vector<net::io_context*> contexts = {&impl.control.io};
  for (const auto& loop : impl.loops) contexts.push_back(&loop->io);
  for (net::io_context* io : contexts) {
    impl.threads.emplace_back([impl = impl_.get(), io] {
      // Info lines logged by this loop's handlers are written after the work ready with them.
      Logger::SetThreadFlushScheduler(
          [](void* context, Logger* logger) {
            net::post(*static_cast<net::io_context*>(context), [logger] { logger->Flush(); });
          },
          io);
      // A handler that throws must not end the thread; sessions catch their own, this is the net.
      for (;;) {
        try {
          io->run();
          break;
        } catch (const std::exception& e) {
          impl->logger.Error("event loop error", {{"error", e.what()}});
        }
      }
      Logger::SetThreadFlushScheduler(nullptr, nullptr);
      impl->logger.Flush();  // a flush posted but not run when the loop stopped
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
  net::post(impl_->control.io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->admission.acceptor->close(ignored);
  });
  std::vector<std::shared_ptr<Impl::Session<true>>> open;
  {
    std::lock_guard<std::mutex> lock(impl_->admission.mutex);
    for (Impl::SessionBase* session : impl_->admission.sessions) {
      if (auto alive = session->weak_from_this().lock()) {
        open.push_back(std::static_pointer_cast<Impl::Session<true>>(std::move(alive)));
      }
    }
  }
  for (const auto& session : open) session->CloseIfIdle();
}

bool HttpsServer::WaitForConnectionsClosed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(impl_->admission.mutex);
  return impl_->admission.all_closed.wait_until(
      lock, deadline, [this] { return impl_->admission.sessions.empty(); });
}

std::size_t HttpsServer::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->admission.mutex);
  return impl_->admission.sessions.size();
}

std::size_t HttpsServer::buffered_request_bytes() const { return impl_->budget.used(); }

void HttpsServer::Stop() {
  if (!impl_) return;
  impl_->control.io.stop();
  for (const auto& loop : impl_->loops) loop->io.stop();
  for (std::thread& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
}

}  // namespace palisade::server
