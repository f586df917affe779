// The pure parts of kube/: watch stream framing, back-off, metadata views and paths.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kube/backoff.h"
#include "kube/json_stream.h"
#include "kube/object.h"

namespace palisade::kube {
namespace {

// Three events with what makes framing hard: braces and quotes inside strings, escapes, an
// escaped backslash before a closing quote, multi-byte UTF-8, no newline between two of them.
const std::vector<std::string> kEvents = {
    R"({"type":"ADDED","object":{"metadata":{"name":"a}{","labels":{"q":"\"}\""}}}})",
    R"({"type":"MODIFIED","object":{"metadata":{"name":"b\\"},"data":{"x":"[{\\\"]","u":"héllo ✓"}}})",
    R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"42"},"list":[1,[2,{"c":3}]]}})",
};

std::string Stream() { return kEvents[0] + "\n" + kEvents[1] + kEvents[2] + "\r\n  "; }

TEST(JsonObjectFramerTest, WholeStreamAtOnce) {
  JsonObjectFramer framer;
  std::vector<std::string> objects;
  ASSERT_TRUE(framer.Feed(Stream(), [&](std::string_view o) { objects.emplace_back(o); }));
  EXPECT_EQ(objects, kEvents);
  EXPECT_EQ(framer.pending(), 0u);
}

TEST(JsonObjectFramerTest, SplitAtEveryPairOfPoints) {
  const std::string stream = Stream();
  for (size_t first = 0; first <= stream.size(); ++first) {
    for (size_t second = first; second <= stream.size(); second += 7) {
      JsonObjectFramer framer;
      std::vector<std::string> objects;
      const auto collect = [&](std::string_view o) { objects.emplace_back(o); };
      ASSERT_TRUE(framer.Feed(std::string_view(stream).substr(0, first), collect));
      ASSERT_TRUE(framer.Feed(std::string_view(stream).substr(first, second - first), collect));
      ASSERT_TRUE(framer.Feed(std::string_view(stream).substr(second), collect));
      ASSERT_EQ(objects, kEvents) << "split at " << first << " and " << second;
    }
  }
}

TEST(JsonObjectFramerTest, OneByteAtATime) {
  const std::string stream = Stream();
  JsonObjectFramer framer;
  std::vector<std::string> objects;
  for (char c : stream) {
    ASSERT_TRUE(
        framer.Feed(std::string_view(&c, 1), [&](std::string_view o) { objects.emplace_back(o); }));
  }
  EXPECT_EQ(objects, kEvents);
}

TEST(JsonObjectFramerTest, RefusesWhatIsNotAnObjectStream) {
  for (const std::string bad : {"[1,2]", "x{}", "{}}", "\"text\""}) {
    JsonObjectFramer framer;
    EXPECT_FALSE(framer.Feed(bad, [](std::string_view) {})) << bad;
    EXPECT_TRUE(framer.failed()) << bad;
    EXPECT_FALSE(framer.Feed("{}", [](std::string_view) {})) << "stays failed after " << bad;
  }
}

TEST(JsonObjectFramerTest, UnfinishedObjectIsPending) {
  JsonObjectFramer framer;
  int count = 0;
  ASSERT_TRUE(framer.Feed(R"({"type":"ADDED","object":{"metadata":{)", [&](auto) { ++count; }));
  EXPECT_EQ(count, 0);
  EXPECT_GT(framer.pending(), 0u);
}

TEST(BackoffTest, GrowsWithJitterWithinBoundsAndCaps) {
  BackoffOptions options;
  options.initial = std::chrono::milliseconds(100);
  options.max = std::chrono::milliseconds(1000);
  options.factor = 2.0;
  options.jitter = 0.5;
  Backoff backoff(options, 7);
  auto now = std::chrono::steady_clock::now();
  const std::vector<long> bases = {100, 200, 400, 800, 1000, 1000, 1000, 1000};
  for (size_t i = 0; i < bases.size(); ++i) {
    now += std::chrono::seconds(1);
    const long delay = backoff.Next(now).count();
    EXPECT_GE(delay, bases[i] / 2) << "failure " << i;
    EXPECT_LE(delay, bases[i]) << "failure " << i;
  }
}

TEST(BackoffTest, JitterSpreadsReplicas) {
  BackoffOptions options;
  options.initial = std::chrono::milliseconds(1000);
  std::vector<long> first_delays;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Backoff backoff(options, seed);
    first_delays.push_back(backoff.Next(std::chrono::steady_clock::now()).count());
  }
  std::sort(first_delays.begin(), first_delays.end());
  EXPECT_LT(first_delays.front(), first_delays.back());  // not all replicas retry together
  EXPECT_GE(first_delays.front(), 500);
  EXPECT_LE(first_delays.back(), 1000);
}

TEST(BackoffTest, ResetsAfterAHealthyPeriod) {
  BackoffOptions options;
  options.initial = std::chrono::milliseconds(100);
  options.max = std::chrono::milliseconds(10'000);
  options.jitter = 0.0;
  options.reset_after = std::chrono::seconds(60);
  Backoff backoff(options, 1);
  auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(backoff.Next(now).count(), 100);
  EXPECT_EQ(backoff.Next(now += std::chrono::seconds(1)).count(), 200);
  EXPECT_EQ(backoff.Next(now += std::chrono::seconds(1)).count(), 400);
  // Quiet for a minute: starting over.
  EXPECT_EQ(backoff.Next(now += std::chrono::seconds(61)).count(), 100);
  EXPECT_EQ(backoff.Next(now += std::chrono::seconds(1)).count(), 200);
  backoff.Reset();
  EXPECT_EQ(backoff.Next(now).count(), 100);
}

TEST(ObjectTest, MetadataViewAndKey) {
  rapidjson::Document object;
  object.Parse(R"({"kind":"ConfigMap","metadata":{"name":"p","namespace":"ns","uid":"u-1",
      "resourceVersion":"17","generation":3,"creationTimestamp":"2024-01-01T00:00:00Z",
      "deletionTimestamp":"2024-01-02T00:00:00Z","labels":{"a":"1","b":"2"},
      "annotations":{"palisade.dev/reason":"why"}}})");
  const ObjectMeta meta = ReadObjectMeta(object);
  EXPECT_EQ(meta.name, "p");
  EXPECT_EQ(meta.namespace_, "ns");
  EXPECT_EQ(meta.uid, "u-1");
  EXPECT_EQ(meta.resource_version, "17");
  EXPECT_EQ(meta.generation, 3);
  EXPECT_TRUE(meta.being_deleted);
  EXPECT_EQ(meta.labels, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(meta.annotations.at("palisade.dev/reason"), "why");
  EXPECT_EQ(ObjectKey(meta), "ns/p");
  ObjectMeta cluster_scoped;
  cluster_scoped.name = "kube-system";
  EXPECT_EQ(ObjectKey(cluster_scoped), "kube-system");
}

TEST(ObjectTest, StatusIsRead) {
  const auto status =
      ParseStatus(R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict",)"
                  R"("message":"the object has been modified","code":409})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 409);
  EXPECT_EQ(status->reason, "Conflict");
  EXPECT_EQ(status->status, "Failure");
  EXPECT_EQ(status->message, "the object has been modified");
  EXPECT_FALSE(ParseStatus(R"({"kind":"ConfigMap"})"));
  EXPECT_FALSE(ParseStatus("not json"));
}

TEST(ObjectTest, Paths) {
  EXPECT_EQ(CollectionPath("v1", "namespaces"), "/api/v1/namespaces");
  EXPECT_EQ(CollectionPath("v1", "configmaps", "ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(CollectionPath("apps/v1", "deployments"), "/apis/apps/v1/deployments");
  EXPECT_EQ(ObjectPath("apps/v1", "deployments", "ns", "web"),
            "/apis/apps/v1/namespaces/ns/deployments/web");
  EXPECT_EQ(EscapeQueryValue("app in (a, b),!x"), "app%20in%20%28a%2C%20b%29%2C%21x");
}

}  // namespace
}  // namespace palisade::kube
