#pragma once

// List + watch of one collection, kept as immutable snapshots (modelled on client-go's reflector,
// tools/cache/reflector.go): list every page, then watch from the list's resourceVersion with
// bookmarks; after a dropped or timed-out stream watch again from the last version seen (no
// relist); on 410 Gone (HTTP status or an ERROR event) list again and replace the whole state;
// back off with jitter on failures. Readers take snapshot() without a lock; each change publishes
// a new Snapshot and calls on_change.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kube/backoff.h"
#include "kube/cancellation.h"
#include "kube/client.h"
#include "kube/object.h"

namespace palisade::kube {

struct Snapshot {
  std::string resource_version;           // of the list or event it includes last
  std::map<std::string, Object> objects;  // key: "namespace/name", or "name" (cluster-scoped)
  std::uint64_t generation = 0;           // 0: nothing listed yet; +1 per published change

  const Object* Find(const std::string& key) const {
    const auto it = objects.find(key);
    return it == objects.end() ? nullptr : &it->second;
  }
};

// Where a reflector keeps what it lists and watches (client-go's cache.Store), called on the
// reflector's thread only. A list: StartList, Listed for each item (StartList again when the list
// restarts), EndList (what was listed replaces everything). A watch: Apply for each ADDED,
// MODIFIED or DELETED event. Publish after a list, and after a batch of events of which one
// Apply returned true (changed what the store keeps).
class ReflectorStore {
 public:
  virtual ~ReflectorStore() = default;
  virtual void StartList() = 0;
  virtual void Listed(ObjectMeta meta, std::shared_ptr<const rapidjson::Value> object) = 0;
  virtual void EndList() = 0;
  virtual bool Apply(WatchEvent::Type type, ObjectMeta meta,
                     std::shared_ptr<const rapidjson::Value> object) = 0;
  virtual void Publish(const std::string& resource_version, std::uint64_t generation) = 0;
};

// The default store: whole objects, published as immutable Snapshots.
class ObjectStore : public ReflectorStore {
 public:
  explicit ObjectStore(std::function<void(std::shared_ptr<const Snapshot>)> on_change = nullptr);
  // The latest state; never null (empty, generation 0, before the first list).
  std::shared_ptr<const Snapshot> snapshot() const { return current_.load(); }

  void StartList() override { listing_.clear(); }
  void Listed(ObjectMeta meta, std::shared_ptr<const rapidjson::Value> object) override;
  void EndList() override;
  bool Apply(WatchEvent::Type type, ObjectMeta meta,
             std::shared_ptr<const rapidjson::Value> object) override;
  void Publish(const std::string& resource_version, std::uint64_t generation) override;

 private:
  const std::function<void(std::shared_ptr<const Snapshot>)> on_change_;
  std::map<std::string, Object> objects_;
  std::map<std::string, Object> listing_;  // a list in progress
  std::atomic<std::shared_ptr<const Snapshot>> current_;
};

struct ReflectorHealth {
  bool synced = false;   // a complete list has been applied (stays true through outages)
  bool healthy = false;  // the last list or watch request was answered (a stream is or will be up)
  std::chrono::system_clock::time_point last_sync;  // last complete list, event or bookmark
  std::string last_error;                           // why it is unhealthy ("" when healthy)
};

struct ReflectorStats {
  std::uint64_t lists = 0;           // complete lists applied
  std::uint64_t list_failures = 0;   // lists that failed
  std::uint64_t watches = 0;         // watch streams opened (answered 200)
  std::uint64_t watch_failures = 0;  // watch requests not answered, or refused (not 410)
  std::uint64_t gone = 0;            // 410s (status or ERROR event) that forced a relist
  std::uint64_t events = 0;          // ADDED, MODIFIED, DELETED applied
  std::uint64_t bookmarks = 0;
};

struct ReflectorOptions {
  std::string label_selector;
  std::string field_selector;
  bool metadata_only = false;  // PartialObjectMetadata: objects carry only metadata
  int page_size = 500;
  int watch_timeout_seconds = 300;  // each watch asks for a random timeout in [t, 2t)
  BackoffOptions backoff;
  std::uint64_t seed = 0;  // for the jitter; 0: random
  // Where the objects go; null: an ObjectStore (whole objects: snapshot(), on_change).
  std::shared_ptr<ReflectorStore> store;
  // On the reflector's thread after each published change (the first list included); for the
  // default store only.
  std::function<void(std::shared_ptr<const Snapshot>)> on_change;
  // On the reflector's thread when `synced` or `healthy` changes: one log line, metrics.
  std::function<void(const ReflectorHealth&)> on_health;
  // On the reflector's thread whenever last_sync advances: a complete list, an applied event or a
  // BOOKMARK (which proves the watch is current though nothing changed).
  std::function<void(std::chrono::system_clock::time_point)> on_sync;
};

class Reflector {
 public:
  // `client` must outlive the reflector. `collection_path` e.g. "/api/v1/namespaces" or
  // CollectionPath("v1", "configmaps", "palisade-system").
  Reflector(KubeClient* client, std::string collection_path, ReflectorOptions options);
  ~Reflector();  // Stop()
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void Start();  // once
  void Stop();   // cancels requests in flight and joins the thread; idempotent

  // The latest state of the default store; never null (empty, generation 0, before the first list
  // or with a store of the caller's).
  std::shared_ptr<const Snapshot> snapshot() const;
  bool synced() const;
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  ReflectorHealth health() const;
  ReflectorStats stats() const;
  // The last resourceVersion seen (list, event or bookmark): where a watch resumes.
  std::string resource_version() const;
  const std::string& collection_path() const { return path_; }

 private:
  void Run();
  bool List(std::string* error);
  void Publish();
  void SetHealth(bool healthy, const std::string& error, bool touch_sync);
  void SetResourceVersion(const std::string& version);
  // Records that the state is current as of now (health_.last_sync) and tells on_sync.
  void TouchSync();

  KubeClient* client_;
  const std::string path_;
  const ReflectorOptions options_;
  Cancellation cancel_;
  std::thread thread_;
  std::shared_ptr<ReflectorStore> store_;
  ObjectStore* objects_ = nullptr;  // store_ when it is the default

  // The reflector thread's own working state.
  std::uint64_t generation_ = 0;

  mutable std::mutex mutex_;  // guards what follows
  mutable std::condition_variable sync_changed_;
  ReflectorHealth health_;
  bool health_reported_ = false;
  ReflectorStats stats_;
  std::string resource_version_;
};

}  // namespace palisade::kube
