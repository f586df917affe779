#pragma once

// Serving certificate and key, and the client CA bundle when set, reloaded when the files change
// (the last good set stays when new files are bad), and the TLS policy: TLS 1.2/1.3, ECDHE with
// AEAD ciphers, optional client certificate verification.

#include <openssl/types.h>

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace palisade::server {

class Logger;
class Metrics;

struct TlsFiles {
  std::string cert_file;       // PEM: leaf first, then intermediates
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // optional: require client certificates signed by these CAs
};

// What OpenSSL's error queue says (and empties it): "error:0A000086:SSL routines::...".
std::string OpenSslError();

// Writes what the socket takes now: never blocks, never raises SIGPIPE. As send(2), retried when
// interrupted.
ssize_t SendNow(int fd, const char* data, std::size_t size);
// Reads what the socket has now, never blocking. As recv(2), retried when interrupted.
ssize_t ReceiveNow(int fd, char* data, std::size_t size);

// A server-side TLS connection from `context` over socket `fd`: records are read and written
// straight on the socket, never blocking and never raising SIGPIPE. Null when out of memory.
SSL* NewServerConnection(SSL_CTX* context, int fd);

class TlsCredentials {
 public:
  // `metrics` and `logger` may be null; they must outlive this object.
  TlsCredentials(TlsFiles files, Metrics* metrics, Logger* logger);
  ~TlsCredentials();
  TlsCredentials(const TlsCredentials&) = delete;
  TlsCredentials& operator=(const TlsCredentials&) = delete;

  // Reads the files; when their bytes differ from the last attempt, loads them. Returns true when a
  // new pair is now served. A bad pair is logged and counted once; the previous pair stays.
  bool ReloadIfChanged();

  bool loaded() const { return current_.load() != nullptr; }

  // Applies protocol versions, ciphers and client verification to a server context. On failure
  // returns false and explains in *error (e.g. an unreadable client CA file).
  bool ConfigureContext(SSL_CTX* context, std::string* error) const;

  // The server context of the current certificate chain and key (and client CAs), for a new
  // connection: a reference the caller frees (SSL_CTX_free). Null while nothing is loaded.
  SSL_CTX* AcquireContext() const;

  // notAfter of the current certificate (Unix seconds), and its serial in hex.
  std::optional<std::int64_t> certificate_expiry() const;
  std::string certificate_serial() const;

  const TlsFiles& files() const { return files_; }

 private:
  struct CertifiedKey;
  TlsFiles files_;
  Metrics* metrics_;
  Logger* logger_;
  std::string last_cert_bytes_, last_key_bytes_, last_ca_bytes_;  // only the reload caller's
  bool attempted_ = false;
  std::atomic<std::shared_ptr<const CertifiedKey>> current_;
};

}  // namespace palisade::server
