#include "kube/reflector.h"

#include <random>

namespace palisade::kube {

ObjectStore::ObjectStore(std::function<void(std::shared_ptr<const Snapshot>)> on_change)
    : on_change_(std::move(on_change)) {
  current_.store(std::make_shared<const Snapshot>());
}

void ObjectStore::Listed(ObjectMeta meta, std::shared_ptr<const rapidjson::Value> object) {
  std::string key = ObjectKey(meta);
  listing_.insert_or_assign(std::move(key), Object{std::move(meta), std::move(object)});
}

void ObjectStore::EndList() {
  objects_ = std::move(listing_);  // a relist replaces everything: what is gone disappears
  listing_.clear();
}

bool ObjectStore::Apply(WatchEvent::Type type, ObjectMeta meta,
                        std::shared_ptr<const rapidjson::Value> object) {
  std::string key = ObjectKey(meta);
  if (type == WatchEvent::Type::kDeleted) {
    objects_.erase(key);
  } else {
    objects_.insert_or_assign(std::move(key), Object{std::move(meta), std::move(object)});
  }
  return true;
}

void ObjectStore::Publish(const std::string& resource_version, std::uint64_t generation) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->objects = objects_;
  snapshot->resource_version = resource_version;
  snapshot->generation = generation;
  std::shared_ptr<const Snapshot> published = std::move(snapshot);
  current_.store(published);
  if (on_change_) on_change_(published);
}

Reflector::Reflector(KubeClient* client, std::string collection_path, ReflectorOptions options)
    : client_(client),
      path_(std::move(collection_path)),
      options_(std::move(options)),
      store_(options_.store) {
  if (store_ == nullptr) {
    auto objects = std::make_shared<ObjectStore>(options_.on_change);
    objects_ = objects.get();
    store_ = std::move(objects);
  }
}

std::shared_ptr<const Snapshot> Reflector::snapshot() const {
  static const std::shared_ptr<const Snapshot> kEmpty = std::make_shared<const Snapshot>();
  return objects_ != nullptr ? objects_->snapshot() : kEmpty;
}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  if (!thread_.joinable() && !cancel_.cancelled()) thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

bool Reflector::synced() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return health_.synced;
}

bool Reflector::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return sync_changed_.wait_for(lock, timeout, [this] { return health_.synced; });
}

ReflectorHealth Reflector::health() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return health_;
}

ReflectorStats Reflector::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::string Reflector::resource_version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return resource_version_;
}

void Reflector::SetResourceVersion(const std::string& version) {
  std::lock_guard<std::mutex> lock(mutex_);
  resource_version_ = version;
}

void Reflector::TouchSync() {
  const auto now = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    health_.last_sync = now;
  }
  if (options_.on_sync) options_.on_sync(now);
}

void Reflector::SetHealth(bool healthy, const std::string& error, bool touch_sync) {
  ReflectorHealth now;
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    changed = health_.healthy != healthy || !health_reported_;  // the first state is news too
    health_reported_ = true;
    health_.healthy = healthy;
    health_.last_error = healthy ? "" : error;
    if (touch_sync) {
      changed = changed || !health_.synced;
      health_.synced = true;
      health_.last_sync = std::chrono::system_clock::now();
    }
    now = health_;
  }
  if (touch_sync) sync_changed_.notify_all();
  if (changed && options_.on_health) options_.on_health(now);
  if (touch_sync && options_.on_sync) options_.on_sync(now.last_sync);
}

void Reflector::Publish() { store_->Publish(resource_version(), ++generation_); }

bool Reflector::List(std::string* error) {
  ListOptions list;
  list.label_selector = options_.label_selector;
  list.field_selector = options_.field_selector;
  list.limit = options_.page_size;
  list.metadata_only = options_.metadata_only;
  std::string version;
  const Response response = client_->ListAll(
      path_, list,
      [&](const ListPage& page) {
        if (page.first) store_->StartList();  // the first page, or a restarted list
        for (const auto& item : page.items) store_->Listed(ReadObjectMeta(*item), item);
        version = page.resource_version;
      },
      &cancel_);
  if (!response.ok()) {
    *error = "list " + path_ + ": " + response.Describe();
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.list_failures;
    return false;
  }
  store_->EndList();  // a relist replaces everything: what is gone disappears
  SetResourceVersion(version);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.lists;
  }
  Publish();
  return true;
}

void Reflector::Run() {
  const std::uint64_t seed = options_.seed != 0 ? options_.seed : std::random_device{}();
  Backoff backoff(options_.backoff, seed);
  std::mt19937 random(static_cast<unsigned>(seed));
  bool need_list = true;
  int gone_in_a_row = 0;
  const auto wait = [&](const std::string& why) {
    SetHealth(false, why, false);
    return cancel_.WaitFor(backoff.Next(std::chrono::steady_clock::now()));
  };

  while (!cancel_.cancelled()) {
    if (need_list) {
      std::string error;
      if (!List(&error)) {
        if (cancel_.cancelled() || wait(error)) return;
        continue;
      }
      need_list = false;
      SetHealth(true, "", true);
    }

    WatchOptions watch;
    watch.resource_version = resource_version();
    watch.label_selector = options_.label_selector;
    watch.field_selector = options_.field_selector;
    watch.metadata_only = options_.metadata_only;
    watch.allow_bookmarks = true;
    // A random timeout in [t, 2t), as client-go, so that replicas do not all re-watch at once.
    watch.timeout_seconds = options_.watch_timeout_seconds +
                            std::uniform_int_distribution<int>(
                                0, std::max(0, options_.watch_timeout_seconds - 1))(random);

    bool gone = false;
    bool dirty = false;
    std::string error_event;
    const auto started = std::chrono::steady_clock::now();
    watch.on_open = [&] {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.watches;
      }
      SetHealth(true, "", false);
    };
    const auto on_event = [&](const WatchEvent& event) {
      if (event.type == WatchEvent::Type::kError) {
        const auto status = ReadStatus(*event.object);
        if (status && status->code == 410) {
          gone = true;
        } else {
          error_event =
              status ? std::to_string(status->code) + " " + status->reason + ": " + status->message
                     : "an ERROR event without a Status";
        }
        return false;
      }
      ObjectMeta meta = ReadObjectMeta(*event.object);
      if (event.type == WatchEvent::Type::kBookmark) {
        SetResourceVersion(meta.resource_version);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ++stats_.bookmarks;
        }
        TouchSync();
        return true;
      }
      std::string version = meta.resource_version;
      if (store_->Apply(event.type, std::move(meta), event.object)) dirty = true;
      SetResourceVersion(version);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.events;
      }
      TouchSync();
      return true;
    };
    const auto on_batch = [&] {
      if (dirty) Publish();
      dirty = false;
    };
    const WatchResult result = client_->Watch(path_, watch, on_event, on_batch, &cancel_);
    if (dirty) Publish();  // events before a stop or a drop count

    using End = WatchResult::End;
    if (result.end == End::kCancelled) return;
    if (gone || (result.end == End::kRefused && result.response.gone())) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.gone;
      }
      need_list = true;
      // The first 410 relists at once; 410s in a row back off.
      if (++gone_in_a_row > 1 && wait("watch " + path_ + ": 410 Gone again")) return;
      continue;
    }
    gone_in_a_row = 0;
    if (!error_event.empty()) {
      // client-go lists again after an ERROR event other than 410.
      need_list = true;
      if (wait("watch " + path_ + ": " + error_event)) return;
      continue;
    }
    switch (result.end) {
      case End::kClosed:
      case End::kDropped: {
        // A normal end or a lost connection: watch again from the last version seen. A stream
        // that ends at once with nothing in it is not progress, so it backs off.
        const bool short_and_empty =
            result.events == 0 &&
            std::chrono::steady_clock::now() - started < std::chrono::seconds(1);
        if (short_and_empty && cancel_.WaitFor(backoff.Next(std::chrono::steady_clock::now()))) {
          return;
        }
        break;
      }
      case End::kRefused:
      case End::kFailed: {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ++stats_.watch_failures;
        }
        if (wait("watch " + path_ + ": " + result.response.Describe())) return;
        break;
      }
      case End::kStopped:
      case End::kCancelled:
        break;
    }
  }
}

}  // namespace palisade::kube
