#pragma once

// Clients for the server and faults suites. HttpsClient speaks HTTP/1.1 over TLS as the API server
// does: it verifies the serving certificate for kServiceHost with SNI, keeps one connection alive
// for many requests and may present a client certificate. PlainGet asks the metrics port.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "server/certificates.h"

namespace palisade::test {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

inline constexpr const char* kServiceHost = "palisade.palisade-system.svc";

struct Reply {
  unsigned status = 0;  // 0: no answer (`error` says why)
  std::string body;
  std::string content_type;
  std::string allow;
  std::string retry_after;
  bool keep_alive = false;
  beast::error_code error;
};

class HttpsClient {
 public:
  HttpsClient(std::uint16_t port, const std::string& ca_pem,
              const server::IssuedCertificate* client_cert = nullptr)
      : context_(ssl::context::tls_client) {
    context_.add_certificate_authority(net::buffer(ca_pem));
    context_.set_verify_mode(ssl::verify_peer);
    if (client_cert != nullptr) {
      context_.use_certificate_chain(net::buffer(client_cert->cert_pem));
      context_.use_private_key(net::buffer(client_cert->key_pem), ssl::context::pem);
    }
    stream_ = std::make_unique<ssl::stream<beast::tcp_stream>>(io_, context_);
    SSL_set_tlsext_host_name(stream_->native_handle(), kServiceHost);
    stream_->set_verify_callback(ssl::host_name_verification(kServiceHost));
    beast::get_lowest_layer(*stream_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(*stream_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port), error_);
    // As Go's client (the API server's) does: without it, a small write after the handshake
    // waits for the ACK of the client's Finished, which the server sends with nothing else.
    if (!error_) beast::get_lowest_layer(*stream_).socket().set_option(tcp::no_delay(true), error_);
    if (!error_) stream_->handshake(ssl::stream_base::client, error_);
  }

  // The connect or handshake error; a client with one is unusable.
  const beast::error_code& error() const { return error_; }

  // The serving certificate's serial in hex, "" when there is none.
  std::string PeerSerial() {
    X509* peer = SSL_get1_peer_certificate(stream_->native_handle());
    if (peer == nullptr) return "";
    BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
    char* hex = BN_bn2hex(number);
    std::string serial = hex;
    OPENSSL_free(hex);
    BN_free(number);
    X509_free(peer);
    return serial;
  }

  Reply Send(http::verb method, const std::string& target, const std::string& body,
             const std::string& content_type = "application/json") {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, kServiceHost);
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    beast::get_lowest_layer(*stream_).expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    http::write(*stream_, request, ec);
    // A server that answers early (413, 431) may reset the rest of the write; read its answer.
    return ReadReply(ec);
  }

  Reply Post(const std::string& target, const std::string& body) {
    return Send(http::verb::post, target, body);
  }

  // A review as the API server sends it, with `?timeout=10s`.
  Reply Admit(const std::string& endpoint, const std::string& body) {
    return Post(endpoint + "?timeout=10s", body);
  }

  // Raw bytes over TLS, for requests Beast would not write.
  beast::error_code WriteRaw(const std::string& bytes) {
    beast::get_lowest_layer(*stream_).expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    net::write(*stream_, net::buffer(bytes), ec);
    return ec;
  }

  // The next response; when none can be read, `error` is the write's error if there was one.
  Reply ReadReply(beast::error_code write_error = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Reply reply;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::get_lowest_layer(*stream_).expires_after(timeout);
    http::read(*stream_, buffer_, parser, reply.error);
    if (reply.error) {
      if (write_error) reply.error = write_error;
      return reply;
    }
    const auto& response = parser.get();
    reply.status = response.result_int();
    reply.body = response.body();
    reply.content_type = std::string(response[http::field::content_type]);
    reply.allow = std::string(response[http::field::allow]);
    reply.retry_after = std::string(response[http::field::retry_after]);
    reply.keep_alive = response.keep_alive();
    return reply;
  }

  ssl::stream<beast::tcp_stream>& stream() { return *stream_; }

 private:
  net::io_context io_;
  ssl::context context_;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  beast::error_code error_;
};

// GET on the plain-HTTP metrics port; status 0 when there was no answer.
inline Reply PlainGet(std::uint16_t port, const std::string& target) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  Reply reply;
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), reply.error);
  if (reply.error) return reply;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request, reply.error);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!reply.error) http::read(stream, buffer, response, reply.error);
  if (reply.error) return reply;
  reply.status = response.result_int();
  reply.body = response.body();
  reply.content_type = std::string(response[http::field::content_type]);
  reply.keep_alive = response.keep_alive();
  return reply;
}

}  // namespace palisade::test
