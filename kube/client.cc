#include "kube/client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "kube/json_stream.h"

namespace palisade::kube {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

bool IsIpAddress(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

std::string HostHeader(const ClusterConfig& config) {
  const bool ipv6 = config.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + config.host + "]" : config.host;
  if (config.port != "443") host += ":" + config.port;
  return host;
}

// Seconds from a Retry-After header (delta-seconds; an HTTP date counts as 1 s).
std::optional<std::chrono::seconds> RetryAfter(std::string_view header) {
  if (header.empty()) return std::nullopt;
  long long seconds = 0;
  for (char c : header) {
    if (c < '0' || c > '9') return std::chrono::seconds(1);
    seconds = std::min<long long>(seconds * 10 + (c - '0'), 1'000'000);
  }
  return std::chrono::seconds(seconds);
}

void FillStatus(Response* response) {
  if (response->ok() || response->body.empty()) return;
  response->error_status = ParseStatus(response->body);
}

std::string AddQuery(std::string target, std::string_view name, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += EscapeQueryValue(value);
  return target;
}

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string ReadFileText(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string Response::Describe() const {
  if (status == 0) return "no answer: " + error;
  std::string text = std::to_string(status);
  if (error_status) {
    if (!error_status->reason.empty()) text += " " + error_status->reason;
    if (!error_status->message.empty()) text += ": " + error_status->message;
  } else if (!error.empty()) {
    text += ": " + error;
  }
  return text;
}

struct KubeClient::Context {
  ssl::context tls{ssl::context::tls_client};
};

// A bearer token, fixed or read from a file that is re-read when it changes (inode, size or
// modification time) or has not been read for `max_age`, and on demand after a 401.
class KubeClient::TokenSource {
 public:
  TokenSource(std::string token, std::string file, std::chrono::seconds max_age)
      : token_(std::move(token)), file_(std::move(file)), max_age_(max_age) {}

  std::string Get(bool force_reload) {
    if (file_.empty()) return token_;
    std::lock_guard<std::mutex> lock(mutex_);
    struct stat info {};
    const bool stat_ok = stat(file_.c_str(), &info) == 0;
    const bool changed = stat_ok && (info.st_ino != stat_.st_ino || info.st_size != stat_.st_size ||
                                     info.st_mtim.tv_sec != stat_.st_mtim.tv_sec ||
                                     info.st_mtim.tv_nsec != stat_.st_mtim.tv_nsec);
    const auto now = std::chrono::steady_clock::now();
    if (force_reload || changed || !loaded_ || now - read_at_ >= max_age_) {
      bool ok = false;
      std::string text = ReadFileText(file_, &ok);
      if (ok) {
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                                 text.back() == '\t')) {
          text.pop_back();
        }
        token_ = std::move(text);
        loaded_ = true;
        if (stat_ok) stat_ = info;
      }
      read_at_ = now;  // a missing file keeps the last token until the next try
    }
    return token_;
  }

 private:
  std::mutex mutex_;
  std::string token_;
  const std::string file_;
  const std::chrono::seconds max_age_;
  bool loaded_ = false;
  struct stat stat_ {};
  std::chrono::steady_clock::time_point read_at_;
};

// One TLS connection with its own io_context, driven by the calling thread: each operation is
// started asynchronously (so the stream's deadline applies) and run to completion.
class KubeClient::Connection {
 public:
  explicit Connection(ssl::context& tls) : stream_(io_, tls) {}

  // Runs the io_context until the started operation has completed. A cancel that came before
  // the operation started aborts it here.
  void Run() {
    io_.restart();
    if (cancelled_) beast::get_lowest_layer(stream_).cancel();
    io_.run();
  }

  bool cancelled() const { return cancelled_; }

  // Makes Cancel() on `cancel` abort the operation in flight, until the guard goes.
  class CancelGuard {
   public:
    CancelGuard(Connection* connection, Cancellation* cancel) : cancel_(cancel) {
      if (cancel_ == nullptr) return;
      id_ = cancel_->OnCancel([connection] {
        connection->cancelled_ = true;
        net::post(connection->io_,
                  [connection] { beast::get_lowest_layer(connection->stream_).cancel(); });
      });
    }
    ~CancelGuard() {
      if (cancel_ != nullptr) cancel_->Remove(id_);
    }
    CancelGuard(const CancelGuard&) = delete;
    CancelGuard& operator=(const CancelGuard&) = delete;

   private:
    Cancellation* cancel_;
    std::uint64_t id_ = 0;
  };

  bool Open(const ClusterConfig& config, std::chrono::milliseconds timeout, std::string* error) {
    beast::error_code ec;
    tcp::resolver::results_type endpoints;
    tcp::resolver resolver(io_);
    resolver.async_resolve(config.host, config.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    Run();
    if (ec) {
      *error = "resolve " + config.host + ": " + ec.message();
      return false;
    }
    auto& socket = beast::get_lowest_layer(stream_);
    socket.expires_after(timeout);
    socket.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    Run();
    if (ec) {
      *error = "connect " + config.host + ":" + config.port + ": " + ec.message();
      return false;
    }
    socket.socket().set_option(tcp::no_delay(true), ec);
    const std::string name = config.tls_server_name.empty() ? config.host : config.tls_server_name;
    if (!IsIpAddress(name)) SSL_set_tlsext_host_name(stream_.native_handle(), name.c_str());
    if (!config.insecure_skip_tls_verify) {
      stream_.set_verify_callback(ssl::host_name_verification(name));
    }
    socket.expires_after(timeout);
    stream_.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    Run();
    if (ec) {
      *error = "TLS handshake with " + config.host + ":" + config.port + ": " + ec.message();
      const long verify = SSL_get_verify_result(stream_.native_handle());
      if (verify != X509_V_OK) {
        *error += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      }
      return false;
    }
    return true;
  }

  beast::error_code Write(http::request<http::string_body>& request,
                          std::chrono::milliseconds timeout) {
    return Await(timeout, [&](auto done) { http::async_write(stream_, request, done); });
  }

  template <class Parser>
  beast::error_code Read(Parser& parser, std::chrono::milliseconds timeout) {
    return Await(timeout, [&](auto done) { http::async_read(stream_, buffer_, parser, done); });
  }

  template <class Parser>
  beast::error_code ReadHeader(Parser& parser, std::chrono::milliseconds timeout) {
    return Await(timeout,
                 [&](auto done) { http::async_read_header(stream_, buffer_, parser, done); });
  }

  template <class Parser>
  beast::error_code ReadSome(Parser& parser, std::chrono::milliseconds timeout) {
    return Await(timeout,
                 [&](auto done) { http::async_read_some(stream_, buffer_, parser, done); });
  }

  // Starts one operation with a deadline and runs the connection's loop until it completes.
  template <class Start>
  beast::error_code Await(std::chrono::milliseconds timeout, Start start) {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).expires_after(timeout);
    start([&ec](beast::error_code e, size_t) { ec = e; });
    Run();
    return ec;
  }

 private:
  net::io_context io_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::atomic<bool> cancelled_{false};
};

std::unique_ptr<KubeClient> KubeClient::Create(const ClusterConfig& config, std::string* error,
                                               ClientOptions options) {
  ClusterConfig checked = config;
  if (checked.host.empty() && !ParseServerUrl(&checked, error)) return nullptr;
  std::unique_ptr<KubeClient> client(new KubeClient(checked, std::move(options)));
  ssl::context& tls = client->context_->tls;
  try {
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    if (checked.insecure_skip_tls_verify) {
      tls.set_verify_mode(ssl::verify_none);
    } else {
      tls.set_verify_mode(ssl::verify_peer);
      if (checked.ca_pem.empty()) {
        tls.set_default_verify_paths();
      } else {
        tls.add_certificate_authority(net::buffer(checked.ca_pem));
      }
    }
  } catch (const boost::system::system_error& e) {
    *error = std::string("certificate authority: ") + e.what();
    return nullptr;
  }
  if (!checked.client_cert_pem.empty()) {
    try {
      tls.use_certificate_chain(net::buffer(checked.client_cert_pem));
      tls.use_private_key(net::buffer(checked.client_key_pem), ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      *error = std::string("client certificate: ") + e.what();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(tls.native_handle()) != 1) {
      *error = "client certificate: the key does not match the certificate";
      return nullptr;
    }
  }
  return client;
}

KubeClient::KubeClient(ClusterConfig config, ClientOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      context_(std::make_unique<Context>()),
      tokens_(std::make_unique<TokenSource>(config_.token, config_.token_file,
                                            options_.token_max_age)) {}

KubeClient::~KubeClient() = default;

size_t KubeClient::connections_opened() const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  return connections_opened_;
}

std::string KubeClient::BearerToken(bool force_reload) { return tokens_->Get(force_reload); }

std::unique_ptr<KubeClient::Connection> KubeClient::TakeConnection(bool* reused,
                                                                   std::string* error) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return connection;
    }
    ++connections_opened_;
  }
  *reused = false;
  auto connection = std::make_unique<Connection>(context_->tls);
  if (!connection->Open(config_, options_.connect_timeout, error)) return nullptr;
  return connection;
}

void KubeClient::ReturnConnection(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
}

Response KubeClient::SendOnce(std::string_view method, const std::string& target,
                              std::string_view body, std::string_view content_type,
                              std::string_view accept, const std::string& token,
                              Cancellation* cancel) {
  Response response;
  http::request<http::string_body> request{http::string_to_verb(method),
                                           config_.path_prefix + target, 11};
  request.set(http::field::host, HostHeader(config_));
  request.set(http::field::user_agent, options_.user_agent);
  request.set(http::field::accept, accept.empty() ? std::string_view("application/json") : accept);
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request.set(http::field::content_type,
                content_type.empty() ? std::string_view("application/json") : content_type);
    request.body() = std::string(body);
  }
  request.keep_alive(true);
  request.prepare_payload();

  // A pooled connection the server has closed fails at once; such a failure is repeated once on
  // a new connection (the server has not seen the request).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (cancel != nullptr && cancel->cancelled()) {
      response.error = "cancelled";
      return response;
    }
    bool reused = false;
    auto connection = TakeConnection(&reused, &response.error);
    if (connection == nullptr) return response;
    std::optional<Connection::CancelGuard> guard(std::in_place, connection.get(), cancel);
    beast::error_code ec = connection->Write(request, options_.request_timeout);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{1} << 30);
    if (!ec) ec = connection->Read(parser, options_.request_timeout);
    if (ec) {
      const bool stale = reused && !parser.got_some() &&
                         (ec == http::error::end_of_stream || ec == net::error::eof ||
                          ec == net::error::connection_reset || ec == net::error::broken_pipe ||
                          ec == ssl::error::stream_truncated);
      if (stale && attempt == 0) continue;
      response.error = (cancel != nullptr && cancel->cancelled()) ? "cancelled" : ec.message();
      return response;
    }
    auto& message = parser.get();
    response.status = static_cast<int>(message.result_int());
    response.content_type = std::string(message[http::field::content_type]);
    const auto retry_after = RetryAfter(message[http::field::retry_after]);
    const bool keep_alive = message.keep_alive();
    response.body = std::move(message.body());
    FillStatus(&response);
    response.retry_after = retry_after;
    guard.reset();  // no cancel can reach the connection any more
    if (keep_alive && !connection->cancelled()) ReturnConnection(std::move(connection));
    return response;
  }
  return response;
}

namespace {

// How long to wait before repeating `response`, when it should be repeated at all.
std::optional<std::chrono::seconds> RetryDelay(const Response& response, std::chrono::seconds cap) {
  const std::optional<std::chrono::seconds>& after = response.retry_after;
  if (response.status == 429) return std::min(after.value_or(std::chrono::seconds(1)), cap);
  if ((response.status == 503 || response.status == 504) && after) return std::min(*after, cap);
  return std::nullopt;
}

}  // namespace

KubeClient::Next KubeClient::AfterAnswer(const Response& response, Attempts& attempts,
                                         Cancellation* cancel) {
  if (response.status == 401 && !attempts.token_reloaded) {
    attempts.token_reloaded = true;
    std::string fresh = BearerToken(true);
    if (fresh != attempts.token) {
      attempts.token = std::move(fresh);
      ++attempts.retries;
      return Next::kAgain;
    }
  }
  const auto delay = RetryDelay(response, options_.max_retry_after);
  if (!delay || attempts.retries >= options_.max_retries) return Next::kDone;
  ++attempts.retries;
  if (cancel != nullptr) {
    if (cancel->WaitFor(*delay)) return Next::kCancelled;
  } else {
    std::this_thread::sleep_for(*delay);
  }
  return Next::kAgain;
}

Response KubeClient::Request(std::string_view method, std::string_view target,
                             std::string_view body, std::string_view content_type,
                             std::string_view accept, Cancellation* cancel) {
  const std::string full_target(target);
  Attempts attempts{BearerToken(false)};
  while (true) {
    Response response =
        SendOnce(method, full_target, body, content_type, accept, attempts.token, cancel);
    response.retries = attempts.retries;
    if (AfterAnswer(response, attempts, cancel) != Next::kAgain) return response;
  }
}

Response KubeClient::Get(std::string_view path, std::string_view accept, Cancellation* cancel) {
  return Request("GET", path, "", "", accept, cancel);
}

Response KubeClient::Create(std::string_view collection_path, std::string_view object_json,
                            Cancellation* cancel) {
  return Request("POST", collection_path, object_json, "application/json", "", cancel);
}

Response KubeClient::Update(std::string_view object_path, std::string_view object_json,
                            Cancellation* cancel) {
  return Request("PUT", object_path, object_json, "application/json", "", cancel);
}

Response KubeClient::Patch(std::string_view object_path, std::string_view patch, PatchType type,
                           Cancellation* cancel) {
  return Request("PATCH", object_path, patch, PatchContentType(type), "", cancel);
}

Response KubeClient::Delete(std::string_view object_path, Cancellation* cancel) {
  return Request("DELETE", object_path, "", "", "", cancel);
}

Response KubeClient::ListPage(std::string_view collection_path, const ListOptions& options,
                              const std::string& continue_token, kube::ListPage* page,
                              Cancellation* cancel) {
  std::string target(collection_path);
  if (!options.label_selector.empty()) {
    target = AddQuery(target, "labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    target = AddQuery(target, "fieldSelector", options.field_selector);
  }
  if (options.limit > 0) target = AddQuery(target, "limit", std::to_string(options.limit));
  if (!continue_token.empty()) target = AddQuery(target, "continue", continue_token);
  Response response =
      Request("GET", target, "", "", options.metadata_only ? kAcceptMetadataList : "", cancel);
  if (!response.ok()) return response;
  auto document = std::make_shared<rapidjson::Document>();
  document->Parse(response.body.data(), response.body.size());
  if (document->HasParseError() || !document->IsObject() || !document->HasMember("items") ||
      !(*document)["items"].IsArray()) {
    response.error = "the list answer is not a list";
    response.status = 0;
    return response;
  }
  *page = kube::ListPage{};
  page->first = continue_token.empty();
  const rapidjson::Value& meta = (*document)["metadata"];
  if (meta.IsObject()) {
    const ObjectMeta list_meta = ReadObjectMeta(*document);
    page->resource_version = list_meta.resource_version;
    if (meta.HasMember("continue") && meta["continue"].IsString()) {
      page->continue_token = meta["continue"].GetString();
    }
  }
  for (const rapidjson::Value& item : (*document)["items"].GetArray()) {
    page->items.emplace_back(document, &item);
  }
  page->document = std::move(document);
  return response;
}

Response KubeClient::ListAll(std::string_view collection_path, const ListOptions& options,
                             const std::function<void(const kube::ListPage&)>& on_page,
                             Cancellation* cancel, int max_restarts) {
  std::string token;
  int restarts = 0;
  while (true) {
    kube::ListPage page;
    Response response = ListPage(collection_path, options, token, &page, cancel);
    if (response.gone() && !token.empty() && restarts < max_restarts) {
      ++restarts;  // the continue token expired: from the top
      token.clear();
      continue;
    }
    if (!response.ok()) return response;
    on_page(page);
    if (page.continue_token.empty()) return response;
    token = page.continue_token;
  }
}

WatchResult KubeClient::Watch(std::string_view collection_path, const WatchOptions& options,
                              const std::function<bool(const WatchEvent&)>& on_event,
                              const std::function<void()>& on_batch, Cancellation* cancel) {
  std::string target = AddQuery(std::string(collection_path), "watch", "1");
  if (!options.resource_version.empty()) {
    target = AddQuery(target, "resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) target = AddQuery(target, "allowWatchBookmarks", "true");
  if (!options.label_selector.empty()) {
    target = AddQuery(target, "labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    target = AddQuery(target, "fieldSelector", options.field_selector);
  }
  if (options.timeout_seconds > 0) {
    target = AddQuery(target, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  // Silence longer than the server's own timeout plus a margin means the stream is dead.
  const auto idle_timeout =
      std::chrono::seconds((options.timeout_seconds > 0 ? options.timeout_seconds : 1800) + 30);

  WatchResult result;
  Attempts attempts{BearerToken(false)};
  while (true) {
    if (cancel != nullptr && cancel->cancelled()) {
      result.end = WatchResult::End::kCancelled;
      return result;
    }
    result.response = Response{};
    result.response.retries = attempts.retries;
    std::string error;
    auto connection = std::make_unique<Connection>(context_->tls);
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      ++connections_opened_;
    }
    Connection::CancelGuard guard(connection.get(), cancel);
    if (!connection->Open(config_, options_.connect_timeout, &error)) {
      result.end = (cancel != nullptr && cancel->cancelled()) ? WatchResult::End::kCancelled
                                                              : WatchResult::End::kFailed;
      result.response.error = error;
      return result;
    }
    http::request<http::string_body> request{http::verb::get, config_.path_prefix + target, 11};
    request.set(http::field::host, HostHeader(config_));
    request.set(http::field::user_agent, options_.user_agent);
    request.set(http::field::accept,
                options.metadata_only ? kAcceptMetadata : std::string_view("application/json"));
    if (!attempts.token.empty()) {
      request.set(http::field::authorization, "Bearer " + attempts.token);
    }
    request.prepare_payload();
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec = connection->Write(request, options_.request_timeout);
    if (!ec) ec = connection->ReadHeader(parser, options_.request_timeout);
    if (ec) {
      result.end = (cancel != nullptr && cancel->cancelled()) ? WatchResult::End::kCancelled
                                                              : WatchResult::End::kFailed;
      result.response.error = ec.message();
      return result;
    }
    result.response.status = static_cast<int>(parser.get().result_int());
    result.response.content_type = std::string(parser.get()[http::field::content_type]);
    result.response.retry_after = RetryAfter(parser.get()[http::field::retry_after]);
    char chunk[16 * 1024];
    if (result.response.status != 200) {
      // An error answer: read its (small) body for the Status.
      while (!parser.is_done() && result.response.body.size() < (1 << 20)) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        ec = connection->ReadSome(parser, options_.request_timeout);
        if (ec == http::error::need_buffer) ec = {};
        result.response.body.append(chunk, sizeof chunk - parser.get().body().size);
        if (ec) break;
      }
      FillStatus(&result.response);
      const Next next = AfterAnswer(result.response, attempts, cancel);
      if (next == Next::kAgain) continue;
      if (next == Next::kCancelled) {
        result.end = WatchResult::End::kCancelled;
        return result;
      }
      result.end = WatchResult::End::kRefused;
      return result;
    }

    if (options.on_open) options.on_open();
    JsonObjectFramer framer;
    bool stopped = false;
    std::string bad_event;
    const auto on_object = [&](std::string_view text) {
      if (stopped) return;
      auto document = std::make_shared<rapidjson::Document>();
      document->Parse(text.data(), text.size());
      if (document->HasParseError() || !document->IsObject() || !document->HasMember("type") ||
          !(*document)["type"].IsString() || !document->HasMember("object") ||
          !(*document)["object"].IsObject()) {
        bad_event = "a watch event that is not {type, object}";
        stopped = true;
        return;
      }
      const std::string_view type = (*document)["type"].GetString();
      WatchEvent event{WatchEvent::Type::kError, nullptr};
      if (type == "ADDED") {
        event.type = WatchEvent::Type::kAdded;
      } else if (type == "MODIFIED") {
        event.type = WatchEvent::Type::kModified;
      } else if (type == "DELETED") {
        event.type = WatchEvent::Type::kDeleted;
      } else if (type == "BOOKMARK") {
        event.type = WatchEvent::Type::kBookmark;
      } else if (type == "ERROR") {
        event.type = WatchEvent::Type::kError;
      } else {
        bad_event = "a watch event of unknown type " + std::string(type);
        stopped = true;
        return;
      }
      const rapidjson::Value& object = (*document)["object"];
      event.object = std::shared_ptr<const rapidjson::Value>(document, &object);
      ++result.events;
      if (!on_event(event)) stopped = true;
    };
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      ec = connection->ReadSome(parser, idle_timeout);
      if (ec == http::error::need_buffer) ec = {};
      const size_t got = sizeof chunk - parser.get().body().size;
      if (got > 0 && !framer.Feed(std::string_view(chunk, got), on_object)) {
        result.end = WatchResult::End::kDropped;
        result.error = "the watch stream is not a sequence of JSON objects";
        return result;
      }
      if (!bad_event.empty()) {
        result.end = WatchResult::End::kDropped;
        result.error = bad_event;
        return result;
      }
      if (got > 0 && on_batch) on_batch();
      if (stopped) {
        result.end = WatchResult::End::kStopped;
        return result;
      }
      if (ec) {
        if (cancel != nullptr && cancel->cancelled()) {
          result.end = WatchResult::End::kCancelled;
        } else {
          result.end = WatchResult::End::kDropped;
          result.error = ec.message();
        }
        return result;
      }
    }
    if (framer.pending() > 0) {
      result.end = WatchResult::End::kDropped;
      result.error = "the watch stream ended inside an event";
      return result;
    }
    result.end = WatchResult::End::kClosed;
    return result;
  }
}

}  // namespace palisade::kube
