// Reflector against the fake API server: list + watch into snapshots, bookmarks, resume after a
// dropped stream without a relist, relist on 410 (status and ERROR event), metadata only, chunks
// cut anywhere, health changes. Waits are on the snapshot callback with generous deadlines.

#include "kube/reflector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include "tests/support/fake_apiserver.h"

namespace palisade::kube {
namespace {

using test::FakeApiServer;
constexpr auto kDeadline = std::chrono::seconds(20);

// The snapshots a reflector published, for waiting on a condition over the latest one.
class SnapshotLog {
 public:
  void Add(std::shared_ptr<const Snapshot> snapshot) {
    std::lock_guard<std::mutex> lock(mutex_);
    all_.push_back(std::move(snapshot));
    changed_.notify_all();
  }
  bool WaitFor(const std::function<bool(const Snapshot&)>& condition) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kDeadline,
                             [&] { return !all_.empty() && condition(*all_.back()); });
  }
  std::vector<std::shared_ptr<const Snapshot>> all() {
    std::lock_guard<std::mutex> lock(mutex_);
    return all_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<const Snapshot>> all_;
};

std::set<std::string> Keys(const Snapshot& snapshot) {
  std::set<std::string> keys;
  for (const auto& [key, object] : snapshot.objects) keys.insert(key);
  return keys;
}

std::string Value(const Snapshot& snapshot, const std::string& key) {
  const Object* object = snapshot.Find(key);
  if (object == nullptr) return "";
  const rapidjson::Value& json = *object->json;
  if (!json.HasMember("data")) return "(no data)";
  return json["data"]["value"].GetString();
}

class ReflectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.started());
    std::string error;
    client_ = KubeClient::Create(fake_.Config(), &error);
    ASSERT_NE(client_, nullptr) << error;
    fake_.PutNamespace("team");
  }

  // Small back-off so that recoveries are quick; the test waits on outcomes, not on times.
  ReflectorOptions Options() {
    ReflectorOptions options;
    options.backoff.initial = std::chrono::milliseconds(20);
    options.backoff.max = std::chrono::milliseconds(200);
    options.seed = 1;
    options.on_change = [this](std::shared_ptr<const Snapshot> s) { log_.Add(std::move(s)); };
    return options;
  }

  const std::string configmaps_ = CollectionPath("v1", "configmaps", "team");
  FakeApiServer fake_;
  std::unique_ptr<KubeClient> client_;
  SnapshotLog log_;
};

TEST_F(ReflectorTest, ListsThenAppliesWatchEventsInOrder) {
  fake_.PutConfigMap("team", "a", "1");
  fake_.PutConfigMap("team", "b", "1");
  Reflector reflector(client_.get(), configmaps_, Options());
  EXPECT_FALSE(reflector.synced());
  EXPECT_EQ(reflector.snapshot()->generation, 0u);
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  EXPECT_EQ(Keys(*reflector.snapshot()), (std::set<std::string>{"team/a", "team/b"}));

  for (int i = 2; i <= 30; ++i) fake_.PutConfigMap("team", "a", std::to_string(i));
  fake_.Delete(configmaps_, "team", "b");
  fake_.PutConfigMap("team", "c", "new");
  ASSERT_TRUE(log_.WaitFor([](const Snapshot& s) { return s.Find("team/c") != nullptr; }));
  const auto last = reflector.snapshot();
  EXPECT_EQ(Keys(*last), (std::set<std::string>{"team/a", "team/c"}));
  EXPECT_EQ(Value(*last, "team/a"), "30");
  EXPECT_EQ(last->resource_version, std::to_string(fake_.ResourceVersion()));

  // Every published state is one the server went through: values of "a" never go back.
  int previous = 0;
  std::uint64_t generation = 0;
  for (const auto& snapshot : log_.all()) {
    EXPECT_GT(snapshot->generation, generation);
    generation = snapshot->generation;
    const int value = std::stoi(Value(*snapshot, "team/a"));
    EXPECT_GE(value, previous);
    previous = value;
  }
  EXPECT_EQ(reflector.stats().lists, 1u);
}

TEST_F(ReflectorTest, PagedInitialList) {
  for (int i = 0; i < 7; ++i) fake_.PutConfigMap("team", "cm-" + std::to_string(i), "v");
  ReflectorOptions options = Options();
  options.page_size = 2;
  fake_.Requests(true);
  Reflector reflector(client_.get(), configmaps_, options);
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  EXPECT_EQ(reflector.snapshot()->objects.size(), 7u);
  const auto log = fake_.Requests();
  EXPECT_EQ(fake_.RequestsTo(log, configmaps_, false).size(), 4u);
}

TEST_F(ReflectorTest, ResumesAfterADroppedStreamWithoutRelisting) {
  fake_.PutConfigMap("team", "a", "1");
  Reflector reflector(client_.get(), configmaps_, Options());
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  fake_.PutConfigMap("team", "a", "2");
  ASSERT_TRUE(log_.WaitFor([](const Snapshot& s) { return Value(s, "team/a") == "2"; }));
  const std::string seen = reflector.resource_version();

  fake_.Op("drop_watches");
  fake_.PutConfigMap("team", "a", "3");  // while the stream is down, or just after
  ASSERT_TRUE(log_.WaitFor([](const Snapshot& s) { return Value(s, "team/a") == "3"; }));

  const auto log = fake_.Requests();
  EXPECT_EQ(fake_.RequestsTo(log, configmaps_, false).size(), 1u);  // one list, ever
  const auto watches = fake_.RequestsTo(log, configmaps_, true);
  ASSERT_GE(watches.size(), 2u);
  EXPECT_STREQ((*watches[1])["query"]["resourceVersion"].GetString(), seen.c_str());
  EXPECT_STREQ((*watches[1])["query"]["allowWatchBookmarks"].GetString(), "true");
  EXPECT_EQ(reflector.stats().lists, 1u);
}

TEST_F(ReflectorTest, BookmarksAdvanceTheResourceVersion) {
  fake_.PutConfigMap("team", "a", "1");
  std::atomic<int> syncs{0};
  ReflectorOptions options = Options();
  options.on_sync = [&](std::chrono::system_clock::time_point) { ++syncs; };
  Reflector reflector(client_.get(), configmaps_, std::move(options));
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  ASSERT_TRUE(test::Eventually([&] {
    return fake_.Control(R"({"op":"state"})").find(R"("open_watches": 1)") != std::string::npos;
  }));
  // Elsewhere the cluster moves on; our collection does not change.
  for (int i = 0; i < 5; ++i) fake_.PutNamespace("other-" + std::to_string(i));
  const std::string now = std::to_string(fake_.ResourceVersion());
  ASSERT_NE(reflector.resource_version(), now);
  const int syncs_before = syncs.load();  // the list's
  EXPECT_GE(syncs_before, 1);
  const auto synced_before = reflector.health().last_sync;
  fake_.Op("bookmark");
  ASSERT_TRUE(test::Eventually([&] { return reflector.resource_version() == now; }))
      << reflector.resource_version() << " != " << now;
  EXPECT_EQ(reflector.stats().bookmarks, 1u);
  // A bookmark proves the watch is current: the sync time advances though nothing changed.
  EXPECT_EQ(syncs.load(), syncs_before + 1);
  EXPECT_GT(reflector.health().last_sync, synced_before);

  // After compaction only the bookmark's version is still good: the resume needs no relist.
  fake_.Op("compact");
  fake_.Op("drop_watches");
  fake_.PutConfigMap("team", "a", "2");
  ASSERT_TRUE(log_.WaitFor([](const Snapshot& s) { return Value(s, "team/a") == "2"; }));
  const auto log = fake_.Requests();
  const auto watches = fake_.RequestsTo(log, configmaps_, true);
  ASSERT_GE(watches.size(), 2u);
  EXPECT_STREQ((*watches[1])["query"]["resourceVersion"].GetString(), now.c_str());
  EXPECT_EQ(reflector.stats().lists, 1u);
  EXPECT_EQ(reflector.stats().gone, 0u);
}

// A reflector misses a deletion while its watch cannot reconnect; the history is compacted; its
// next watch gets 410 (as `mode` says) and the relist replaces the whole state.
void RelistAfterGone(ReflectorTest* test, FakeApiServer& fake, KubeClient* client,
                     const std::string& configmaps, SnapshotLog& log, ReflectorOptions options,
                     const std::string& mode) {
  fake.Settings(R"("gone_as":")" + mode + R"(")");
  fake.PutConfigMap("team", "keep", "1");
  fake.PutConfigMap("team", "doomed", "1");
  Reflector reflector(client, configmaps, options);
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  ASSERT_EQ(reflector.snapshot()->objects.size(), 2u);

  fake.Fail(R"("status":500,"watch":true,"count":100000)");
  fake.Op("drop_watches");
  fake.Delete(configmaps, "team", "doomed");
  fake.PutConfigMap("team", "added", "1");
  fake.Op("compact");
  fake.Op("clear_failures");
  ASSERT_TRUE(log.WaitFor([](const Snapshot& s) {
    return s.Find("team/added") != nullptr && s.Find("team/doomed") == nullptr;
  }));
  EXPECT_EQ(Keys(*reflector.snapshot()), (std::set<std::string>{"team/added", "team/keep"}));
  EXPECT_EQ(reflector.stats().lists, 2u);
  EXPECT_EQ(reflector.stats().gone, 1u);
  (void)test;
}

TEST_F(ReflectorTest, RelistOn410ErrorEvent) {
  RelistAfterGone(this, fake_, client_.get(), configmaps_, log_, Options(), "event");
}

TEST_F(ReflectorTest, RelistOn410Status) {
  RelistAfterGone(this, fake_, client_.get(), configmaps_, log_, Options(), "status");
}

TEST_F(ReflectorTest, MetadataOnlyWatch) {
  fake_.PutConfigMap("team", "a", "secret-ish");
  ReflectorOptions options = Options();
  options.metadata_only = true;
  fake_.Requests(true);
  Reflector reflector(client_.get(), configmaps_, options);
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  fake_.Put(configmaps_, R"({"metadata":{"name":"b","namespace":"team","labels":{"l":"1"}},)"
                         R"("data":{"value":"x"}})");
  ASSERT_TRUE(log_.WaitFor([](const Snapshot& s) { return s.Find("team/b") != nullptr; }));
  const auto snapshot = reflector.snapshot();
  for (const auto& [key, object] : snapshot->objects) {
    EXPECT_STREQ((*object.json)["kind"].GetString(), "PartialObjectMetadata") << key;
    EXPECT_FALSE(object.json->HasMember("data")) << key;
  }
  EXPECT_EQ(snapshot->Find("team/b")->meta.labels.at("l"), "1");
  const auto log = fake_.Requests();
  const auto lists = fake_.RequestsTo(log, configmaps_, false);
  const auto watches = fake_.RequestsTo(log, configmaps_, true);
  ASSERT_FALSE(lists.empty());
  ASSERT_FALSE(watches.empty());
  EXPECT_STREQ((*lists[0])["accept"].GetString(),
               "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
  EXPECT_STREQ((*watches[0])["accept"].GetString(),
               "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json");
}

TEST_F(ReflectorTest, ChunksCutAnywhere) {
  for (int split : {1, 7, 64}) {
    SCOPED_TRACE("chunks of " + std::to_string(split) + " bytes");
    fake_.Settings(R"("split_chunks":)" + std::to_string(split));
    const std::string name = "cm-" + std::to_string(split);
    SnapshotLog log;
    ReflectorOptions options = Options();
    options.on_change = [&log](std::shared_ptr<const Snapshot> s) { log.Add(std::move(s)); };
    Reflector reflector(client_.get(), configmaps_, options);
    reflector.Start();
    ASSERT_TRUE(reflector.WaitForSync(kDeadline));
    for (int i = 0; i < 10; ++i) {
      fake_.PutConfigMap("team", name, "v\\u00e9\\\"{" + std::to_string(i));
    }
    fake_.Op("bookmark");
    ASSERT_TRUE(
        log.WaitFor([&](const Snapshot& s) { return Value(s, "team/" + name) == "vé\"{9"; }));
    EXPECT_EQ(reflector.stats().gone, 0u);
    EXPECT_EQ(reflector.stats().watch_failures, 0u);
    EXPECT_EQ(reflector.stats().lists, 1u);
  }
}

TEST_F(ReflectorTest, HealthChangesAreReported) {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<ReflectorHealth> reports;
  ReflectorOptions options = Options();
  options.on_health = [&](const ReflectorHealth& health) {
    std::lock_guard<std::mutex> lock(mutex);
    reports.push_back(health);
    changed.notify_all();
  };
  fake_.Fail(R"("status":500,"watch":false,"count":2,"reason":"InternalError","message":"down")");
  Reflector reflector(client_.get(), configmaps_, options);
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kDeadline, [&] { return reports.size() >= 2; }));
    // One report per change: unhealthy (with why), then healthy and synced.
    EXPECT_FALSE(reports[0].healthy);
    EXPECT_FALSE(reports[0].synced);
    EXPECT_NE(reports[0].last_error.find("500 InternalError: down"), std::string::npos)
        << reports[0].last_error;
    EXPECT_TRUE(reports[1].healthy);
    EXPECT_TRUE(reports[1].synced);
    EXPECT_EQ(reports.size(), 2u);
  }
  EXPECT_EQ(reflector.stats().list_failures, 2u);

  // The API goes away: unhealthy, still synced, the last state keeps serving.
  fake_.Fail(R"("status":503,"watch":true,"count":100000,"message":"gone fishing")");
  fake_.Op("drop_watches");
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kDeadline, [&] { return reports.size() >= 3; }));
    EXPECT_FALSE(reports[2].healthy);
    EXPECT_TRUE(reports[2].synced);
  }
  EXPECT_EQ(reflector.snapshot()->generation, 1u);
  fake_.Op("clear_failures");
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kDeadline, [&] { return reports.size() >= 4; }));
    EXPECT_TRUE(reports[3].healthy);
  }
}

TEST_F(ReflectorTest, StopEndsAWatchInFlight) {
  Reflector reflector(client_.get(), configmaps_, Options());
  reflector.Start();
  ASSERT_TRUE(reflector.WaitForSync(kDeadline));
  ASSERT_TRUE(test::Eventually([&] {
    return fake_.Control(R"({"op":"state"})").find(R"("open_watches": 1)") != std::string::npos;
  }));
  reflector.Stop();  // returns: the stream in flight was cancelled
  EXPECT_TRUE(reflector.synced());
}

}  // namespace
}  // namespace palisade::kube
