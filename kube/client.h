#pragma once

// A Kubernetes API client: HTTP/1.1 over TLS (Boost.Beast, OpenSSL), keep-alive connections
// pooled, bearer tokens re-read as they rotate, client certificates, Retry-After honoured.
// Calls are synchronous and safe from any number of threads; each runs on the calling thread.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/cancellation.h"
#include "kube/config.h"
#include "kube/object.h"

namespace palisade::kube {

// What the API server answered.
struct Response {
  int status = 0;  // the HTTP status; 0 when there was no answer (then `error` says why)
  std::string body;
  std::string content_type;
  std::optional<Status> error_status;  // the Status object of a non-2xx answer, when it sent one
  std::string error;                   // transport error ("connect: Connection refused")
  std::optional<std::chrono::seconds> retry_after;  // the Retry-After header, when sent
  int retries = 0;                                  // requests repeated for Retry-After or a 401

  bool ok() const { return status >= 200 && status < 300; }
  bool conflict() const { return status == 409; }  // optimistic concurrency: re-read, retry
  bool not_found() const { return status == 404; }
  bool gone() const { return status == 410; }  // expired resourceVersion or continue token
  // One line for logs: "409 Conflict: Operation cannot be fulfilled ...", "no answer: ...".
  std::string Describe() const;
};

// The Accept header for metadata-only lists and watches (PartialObjectMetadata).
inline constexpr std::string_view kAcceptMetadataList =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
inline constexpr std::string_view kAcceptMetadata =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

struct ListOptions {
  std::string label_selector;  // "app=web,tier in (a,b),!canary"
  std::string field_selector;  // "metadata.name=x"
  int limit = 500;             // page size; 0 asks for everything at once
  bool metadata_only = false;  // PartialObjectMetadataList
};

// One page of a list. `items` point into `document`.
struct ListPage {
  std::shared_ptr<const rapidjson::Document> document;
  std::vector<std::shared_ptr<const rapidjson::Value>> items;
  std::string resource_version;
  std::string continue_token;  // "" on the last page
  bool first = false;          // the first page of a (re)started list: drop what came before
};

enum class PatchType { kMerge, kStrategicMerge, kJson, kApply };

struct WatchOptions {
  std::string resource_version;  // "" or "0": start with ADDED events for what exists
  std::string label_selector;
  std::string field_selector;
  int timeout_seconds = 300;  // the server ends the stream then (a normal end, not an error)
  bool allow_bookmarks = true;
  bool metadata_only = false;     // PartialObjectMetadata events
  std::function<void()> on_open;  // optional: the server answered 200, the stream is up
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type;
  std::shared_ptr<const rapidjson::Value> object;  // a Status for kError
};

struct WatchResult {
  enum class End {
    kClosed,     // the server ended the stream (timeoutSeconds): watch again from the last version
    kDropped,    // the stream broke (connection lost, bad data): watch again after a back-off
    kRefused,    // a non-200 answer; `response` has it (410: list again)
    kFailed,     // no answer (connect, TLS); `response.error` says why
    kCancelled,  // the Cancellation fired
    kStopped,    // the event handler returned false
  };
  End end = End::kFailed;
  Response response;  // the answer to the watch request (its body only when not 200)
  size_t events = 0;  // events delivered
  std::string error;  // why the stream dropped
};

struct ClientOptions {
  std::string user_agent = "palisade";
  std::chrono::milliseconds connect_timeout{10'000};  // TCP connect and TLS handshake
  std::chrono::milliseconds request_timeout{60'000};  // a whole non-watch request
  size_t max_idle_connections = 4;
  int max_retries = 5;  // repeats for 429 (and 503/504 with Retry-After)
  std::chrono::seconds max_retry_after{60};
  std::chrono::seconds token_max_age{60};  // a token file is re-read this often at least
};

class KubeClient {
 public:
  // nullptr with `*error` when the TLS material does not load (bad PEM, key not matching).
  static std::unique_ptr<KubeClient> Create(const ClusterConfig& config, std::string* error,
                                            ClientOptions options = {});
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const ClusterConfig& config() const { return config_; }

  // Any request. `target` is an API path with its query ("/api/v1/namespaces?limit=5"); the
  // server URL's path prefix goes in front. A 401 re-reads the token file once and repeats;
  // 429, and 503/504 with Retry-After, wait as told (capped) and repeat, up to max_retries.
  Response Request(std::string_view method, std::string_view target, std::string_view body = "",
                   std::string_view content_type = "", std::string_view accept = "",
                   Cancellation* cancel = nullptr);

  Response Get(std::string_view path, std::string_view accept = "", Cancellation* cancel = nullptr);
  // POST to a collection; 409 AlreadyExists when the name is taken.
  Response Create(std::string_view collection_path, std::string_view object_json,
                  Cancellation* cancel = nullptr);
  // PUT an object; its metadata.resourceVersion makes it conditional (409 Conflict when stale).
  Response Update(std::string_view object_path, std::string_view object_json,
                  Cancellation* cancel = nullptr);
  Response Patch(std::string_view object_path, std::string_view patch, PatchType type,
                 Cancellation* cancel = nullptr);
  Response Delete(std::string_view object_path, Cancellation* cancel = nullptr);

  // One page: `continue_token` "" for the first. On success `*page` is filled (first = the token
  // was empty); a 410 means the token expired: list again from scratch.
  Response ListPage(std::string_view collection_path, const ListOptions& options,
                    const std::string& continue_token, kube::ListPage* page,
                    Cancellation* cancel = nullptr);

  // Every page, in order. When a continue token expires (410) the list starts again from the
  // first page (at most `max_restarts` times), and that page comes with `first` set: drop what
  // the earlier pages gave. Returns the last answer (ok, or the error that ended it).
  Response ListAll(std::string_view collection_path, const ListOptions& options,
                   const std::function<void(const kube::ListPage&)>& on_page,
                   Cancellation* cancel = nullptr, int max_restarts = 3);

  // A watch stream on its own connection. Events go to `on_event` in order as they arrive;
  // returning false stops the watch (End::kStopped). `on_batch` (optional) runs after the events
  // of one read were delivered, so a consumer can publish once per batch.
  WatchResult Watch(std::string_view collection_path, const WatchOptions& options,
                    const std::function<bool(const WatchEvent&)>& on_event,
                    const std::function<void()>& on_batch = nullptr,
                    Cancellation* cancel = nullptr);

  // Connections opened so far (for tests of keep-alive).
  size_t connections_opened() const;

 private:
  class Connection;
  class TokenSource;
  struct Context;

  KubeClient(ClusterConfig config, ClientOptions options);
  std::string BearerToken(bool force_reload);

  // One request's attempts: the token it sends and what was tried.
  struct Attempts {
    std::string token;
    bool token_reloaded = false;
    int retries = 0;
  };
  enum class Next : std::uint8_t { kDone, kAgain, kCancelled };
  // After `response`: kAgain once on a 401 when the token file changed (a rotation the stat
  // missed), or after the delay of a 429/5xx up to max_retries; kCancelled when `cancel` fired
  // during the delay; else kDone.
  Next AfterAnswer(const Response& response, Attempts& attempts, Cancellation* cancel);
  std::unique_ptr<Connection> TakeConnection(bool* reused, std::string* error);
  void ReturnConnection(std::unique_ptr<Connection> connection);
  Response SendOnce(std::string_view method, const std::string& target, std::string_view body,
                    std::string_view content_type, std::string_view accept,
                    const std::string& token, Cancellation* cancel);

  ClusterConfig config_;
  ClientOptions options_;
  std::unique_ptr<Context> context_;
  std::unique_ptr<TokenSource> tokens_;
  mutable std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t connections_opened_ = 0;
};

}  // namespace palisade::kube
