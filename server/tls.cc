#include "server/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <sstream>

#include "server/logging.h"
#include "server/metrics.h"

namespace palisade::server {
namespace {

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 suites are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Ciphers =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return content.str();
}

}  // namespace

std::string OpenSslError() {
  std::string message;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!message.empty()) message += "; ";
    message += buffer;
  }
  return message.empty() ? "unknown OpenSSL error" : message;
}

ssize_t SendNow(int fd, const char* data, std::size_t size) {
  // sendmsg, not send: Palisade's seccomp profile allows the calls Asio makes.
  iovec part{const_cast<char*>(data), size};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  for (;;) {
    const ssize_t n = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0 || errno != EINTR) return n;
  }
}

ssize_t ReceiveNow(int fd, char* data, std::size_t size) {
  for (;;) {
    const ssize_t n = ::recv(fd, data, size, MSG_DONTWAIT);
    if (n >= 0 || errno != EINTR) return n;
  }
}

namespace {

// Records go straight between OpenSSL's buffers and the socket: no BIO pair and no second pair of
// buffers per connection. MSG_DONTWAIT whatever the descriptor's mode; MSG_NOSIGNAL because a
// peer that has gone must not raise SIGPIPE.
int SocketFd(BIO* bio) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

int SocketWrite(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = SendNow(SocketFd(bio), data, size);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
  return 0;
}

int SocketRead(BIO* bio, char* data, std::size_t size, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ReceiveNow(SocketFd(bio), data, size);
  if (n > 0) {
    *read = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // OpenSSL tells a peer's close from an error by it
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    BIO_set_retry_read(bio);
  }
  return 0;
}

long SocketControl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing is buffered here
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default:
      return 0;
  }
}

const BIO_METHOD* SocketMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "palisade socket");
    if (made == nullptr) return made;
    BIO_meth_set_write_ex(made, SocketWrite);
    BIO_meth_set_read_ex(made, SocketRead);
    BIO_meth_set_ctrl(made, SocketControl);
    return made;
  }();
  return method;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemoryBio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// Every certificate in `pem` (a CA bundle) into a new store and name list. On failure returns false
// with *error set.
bool LoadClientCas(const std::string& pem, const std::string& file, X509_STORE** store,
                   STACK_OF(X509_NAME) * *names, std::string* error) {
  *store = X509_STORE_new();
  *names = sk_X509_NAME_new_null();
  BioPtr bio = MemoryBio(pem);
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    ++count;
    const bool added = X509_STORE_add_cert(*store, ca) == 1;
    X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca));
    X509_free(ca);
    if (!added || name == nullptr) {
      X509_NAME_free(name);
      *error = file + ": cannot use client CA: " + OpenSslError();
      return false;
    }
    sk_X509_NAME_push(*names, name);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (count == 0) {
    *error = file + ": no PEM CA certificate";
    return false;
  }
  return true;
}

// Protocol versions, ciphers, groups and options, the same on every server context.
bool ApplySettings(SSL_CTX* context, std::string* error) {
  ERR_clear_error();
  const bool ok = SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 &&
                  SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_cipher_list(context, kTls12Ciphers) == 1 &&
                  SSL_CTX_set_ciphersuites(context, kTls13Ciphers) == 1 &&
                  SSL_CTX_set1_groups_list(context, "X25519:P-256:P-384") == 1;
  if (!ok) {
    *error = "TLS settings rejected: " + OpenSslError();
    return false;
  }
  SSL_CTX_set_options(
      context, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // An idle keep-alive connection gives its record buffers (about 34 KiB) back, as nginx does.
  SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
  // No session resumption: the API server's client never resumes, so tickets (two per TLS 1.3
  // handshake) would cost CPU for nothing, and a session cache would let anyone who handshakes
  // over TLS 1.2 fill it (20,480 sessions by default).
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(context, 0);
  return true;
}

}  // namespace

struct TlsCredentials::CertifiedKey {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  // With --client-ca-file: the CAs client certificates are verified against, and their names (sent
  // to clients, which pick their certificate by them).
  X509_STORE* client_store = nullptr;
  STACK_OF(X509_NAME) * client_names = nullptr;
  // The server context new connections are made from, with this pair installed once: installing
  // it on each connection instead (SSL_use_cert_and_key) costs about 13 us of a handshake.
  SSL_CTX* context = nullptr;
  std::int64_t not_after = 0;
  std::string serial_hex;

  CertifiedKey() = default;
  CertifiedKey(const CertifiedKey&) = delete;
  CertifiedKey& operator=(const CertifiedKey&) = delete;
  ~CertifiedKey() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(client_store);
    sk_X509_NAME_pop_free(client_names, X509_NAME_free);
    SSL_CTX_free(context);
  }
};

TlsCredentials::TlsCredentials(TlsFiles files, Metrics* metrics, Logger* logger)
    : files_(std::move(files)), metrics_(metrics), logger_(logger) {}

TlsCredentials::~TlsCredentials() = default;

bool TlsCredentials::ReloadIfChanged() {
  const std::optional<std::string> cert_bytes = ReadFile(files_.cert_file);
  const std::optional<std::string> key_bytes = ReadFile(files_.key_file);
  const bool verify_clients = !files_.client_ca_file.empty();
  const std::optional<std::string> ca_bytes =
      verify_clients ? ReadFile(files_.client_ca_file) : std::optional<std::string>("");
  std::string error;
  if (!cert_bytes || !key_bytes || !ca_bytes) {
    // A Secret mount mid-swap can briefly miss a file: report only when nothing is served.
    if (!attempted_) {
      attempted_ = true;
      error = "cannot read " + (!cert_bytes  ? files_.cert_file
                                : !key_bytes ? files_.key_file
                                             : files_.client_ca_file);
      if (metrics_ != nullptr) metrics_->RecordTlsReload(false);
      if (logger_ != nullptr) logger_->Error("TLS certificate not loaded", {{"error", error}});
    }
    return false;
  }
  if (attempted_ && *cert_bytes == last_cert_bytes_ && *key_bytes == last_key_bytes_ &&
      *ca_bytes == last_ca_bytes_) {
    return false;
  }
  attempted_ = true;
  last_cert_bytes_ = *cert_bytes;
  last_key_bytes_ = *key_bytes;
  last_ca_bytes_ = *ca_bytes;

  auto pair = std::make_shared<CertifiedKey>();
  ERR_clear_error();
  {
    BioPtr bio = MemoryBio(*cert_bytes);
    pair->leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (pair->leaf == nullptr) {
      error = files_.cert_file + ": no PEM certificate: " + OpenSslError();
    } else {
      pair->chain = sk_X509_new_null();
      while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        sk_X509_push(pair->chain, extra);
      }
      ERR_clear_error();  // the loop ends on "no start line"
    }
  }
  if (error.empty()) {
    BioPtr bio = MemoryBio(*key_bytes);
    pair->key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (pair->key == nullptr) {
      error = files_.key_file + ": no PEM private key: " + OpenSslError();
    } else if (X509_check_private_key(pair->leaf, pair->key) != 1) {
      error = files_.key_file + ": key does not match the certificate in " + files_.cert_file;
      ERR_clear_error();
    }
  }
  if (error.empty() && verify_clients) {
    LoadClientCas(*ca_bytes, files_.client_ca_file, &pair->client_store, &pair->client_names,
                  &error);
  }
  if (error.empty()) {
    pair->context = SSL_CTX_new(TLS_server_method());
    if (pair->context == nullptr || !ApplySettings(pair->context, &error) ||
        SSL_CTX_use_cert_and_key(pair->context, pair->leaf, pair->key, pair->chain, 1) != 1) {
      if (error.empty()) error = files_.cert_file + ": cannot serve this pair: " + OpenSslError();
    } else if (pair->client_store != nullptr) {
      // The client CAs loaded with this pair, so a rotated CA bundle applies to new connections.
      SSL_CTX_set1_cert_store(pair->context, pair->client_store);
      SSL_CTX_set_client_CA_list(pair->context, SSL_dup_CA_list(pair->client_names));
      SSL_CTX_set_verify(pair->context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  }
  if (error.empty()) {
    std::tm not_after{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(pair->leaf), &not_after) == 1) {
      pair->not_after = static_cast<std::int64_t>(timegm(&not_after));
    }
    const ASN1_INTEGER* serial = X509_get0_serialNumber(pair->leaf);
    BIGNUM* number = ASN1_INTEGER_to_BN(serial, nullptr);
    if (number != nullptr) {
      char* hex = BN_bn2hex(number);
      if (hex != nullptr) pair->serial_hex = hex;
      OPENSSL_free(hex);
      BN_free(number);
    }
  }
  if (!error.empty()) {
    if (metrics_ != nullptr) metrics_->RecordTlsReload(false);
    if (logger_ != nullptr) {
      logger_->Error(loaded() ? "TLS reload failed; keeping the previous certificate"
                              : "TLS certificate not loaded",
                     {{"error", error}});
    }
    return false;
  }
  const std::int64_t expiry = pair->not_after;
  const std::string serial = pair->serial_hex;
  current_.store(std::move(pair));
  if (metrics_ != nullptr) {
    metrics_->RecordTlsReload(true);
    metrics_->SetCertificateExpiry(static_cast<double>(expiry));
  }
  if (logger_ != nullptr) {
    logger_->Info("TLS certificate loaded",
                  {{"file", files_.cert_file}, {"serial", serial}, {"not_after", expiry}});
  }
  return true;
}

bool TlsCredentials::ConfigureContext(SSL_CTX* context, std::string* error) const {
  if (!ApplySettings(context, error)) return false;
  if (!files_.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(context, files_.client_ca_file.c_str(), nullptr) != 1) {
      *error = files_.client_ca_file + ": cannot load client CA: " + OpenSslError();
      return false;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files_.client_ca_file.c_str());
    if (names == nullptr) {
      *error = files_.client_ca_file + ": no CA certificate: " + OpenSslError();
      return false;
    }
    SSL_CTX_set_client_CA_list(context, names);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return true;
}

SSL_CTX* TlsCredentials::AcquireContext() const {
  const std::shared_ptr<const CertifiedKey> pair = current_.load();
  if (pair == nullptr) return nullptr;
  SSL_CTX_up_ref(pair->context);
  return pair->context;
}

SSL* NewServerConnection(SSL_CTX* context, int fd) {
  const BIO_METHOD* method = SocketMethod();
  if (method == nullptr) return nullptr;
  SSL* ssl = SSL_new(context);
  if (ssl == nullptr) return nullptr;
  BIO* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by the connection
  SSL_set_accept_state(ssl);
  // Writes resume from wherever the answer's buffer is, and return once a record is out.
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A whole request in one read, not a record header and then its body.
  SSL_set_read_ahead(ssl, 1);
  return ssl;
}

std::optional<std::int64_t> TlsCredentials::certificate_expiry() const {
  const std::shared_ptr<const CertifiedKey> pair = current_.load();
  if (pair == nullptr) return std::nullopt;
  return pair->not_after;
}

std::string TlsCredentials::certificate_serial() const {
  const std::shared_ptr<const CertifiedKey> pair = current_.load();
  return pair == nullptr ? std::string() : pair->serial_hex;
}

}  // namespace palisade::server
