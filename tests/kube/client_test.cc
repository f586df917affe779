// KubeClient against the fake API server: auth forms, keep-alive, CRUD with optimistic
// concurrency, paging, Retry-After, token rotation, metadata-only lists, watch streams.

#include "kube/client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "tests/support/fake_apiserver.h"

namespace palisade::kube {
namespace {

using test::FakeApiServer;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fake_.started()); }

  std::unique_ptr<KubeClient> Client(const ClusterConfig& config) {
    std::string error;
    auto client = KubeClient::Create(config, &error);
    EXPECT_NE(client, nullptr) << error;
    return client;
  }

  FakeApiServer fake_;
};

TEST_F(ClientTest, BearerTokenAndStatusOfA401) {
  fake_.PutNamespace("a");
  auto client = Client(fake_.Config());
  const Response ok = client->Get("/api/v1/namespaces/a");
  ASSERT_EQ(ok.status, 200) << ok.Describe();
  EXPECT_NE(ok.body.find(R"("name": "a")"), std::string::npos) << ok.body;

  auto stranger = Client(fake_.Config("wrong-token"));
  const Response denied = stranger->Get("/api/v1/namespaces/a");
  EXPECT_EQ(denied.status, 401);
  ASSERT_TRUE(denied.error_status);
  EXPECT_EQ(denied.error_status->reason, "Unauthorized");
  EXPECT_EQ(denied.error_status->code, 401);
  EXPECT_EQ(denied.Describe(), "401 Unauthorized: Unauthorized");
}

TEST_F(ClientTest, ClientCertificate) {
  ClusterConfig config = fake_.Config("");
  config.client_cert_pem = test::ReadText(fake_.file("client.crt"));
  config.client_key_pem = test::ReadText(fake_.file("client.key"));
  EXPECT_EQ(Client(config)->Get("/api/v1/namespaces").status, 200);
  const auto log = fake_.Requests();
  EXPECT_STREQ(log[log.Size() - 1]["auth"].GetString(), "cert");

  // A certificate from a CA the server does not trust proves nothing.
  config.client_cert_pem = test::ReadText(fake_.file("other-client.crt"));
  config.client_key_pem = test::ReadText(fake_.file("other-client.key"));
  const Response response = Client(config)->Get("/api/v1/namespaces");
  EXPECT_TRUE(response.status == 401 || response.status == 0) << response.Describe();
}

TEST_F(ClientTest, MismatchedClientKeyIsRefusedAtCreate) {
  ClusterConfig config = fake_.Config("");
  config.client_cert_pem = test::ReadText(fake_.file("client.crt"));
  config.client_key_pem = test::ReadText(fake_.file("other-client.key"));
  std::string error;
  EXPECT_EQ(KubeClient::Create(config, &error), nullptr);
  EXPECT_NE(error.find("mismatch"), std::string::npos) << error;
}

TEST_F(ClientTest, ServerCertificateIsVerified) {
  ClusterConfig config = fake_.Config();
  config.ca_pem = test::ReadText(fake_.file("other-ca.crt"));
  const Response wrong_ca = Client(config)->Get("/api/v1/namespaces");
  EXPECT_EQ(wrong_ca.status, 0);
  EXPECT_NE(wrong_ca.error.find("TLS handshake"), std::string::npos) << wrong_ca.error;

  config.tls_server_name = "someone-else.example.com";  // not in the certificate
  config.ca_pem = fake_.ca_pem();
  EXPECT_EQ(Client(config)->Get("/api/v1/namespaces").status, 0);

  config.ca_pem.clear();  // nothing to verify with, but told not to
  config.tls_server_name.clear();
  config.insecure_skip_tls_verify = true;
  EXPECT_EQ(Client(config)->Get("/api/v1/namespaces").status, 200);
}

TEST_F(ClientTest, ServerUrlPathPrefix) {
  fake_.Settings(R"("path_prefix":"/k8s/clusters/c-1")");
  ClusterConfig config = fake_.Config();
  config.server = fake_.url() + "/k8s/clusters/c-1/";
  config.host.clear();  // parsed again by Create
  const Response response = Client(config)->Get("/api/v1/namespaces");
  EXPECT_EQ(response.status, 200) << response.Describe();
  EXPECT_EQ(Client(fake_.Config())->Get("/api/v1/namespaces").status, 404);
}

TEST_F(ClientTest, KeepAliveReusesOneConnection) {
  auto client = Client(fake_.Config());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client->Get("/api/v1/namespaces").status, 200);
  EXPECT_EQ(client->connections_opened(), 1u);
}

TEST_F(ClientTest, CreateGetUpdateConflictPatchDelete) {
  fake_.PutNamespace("team");
  auto client = Client(fake_.Config());
  const std::string collection = CollectionPath("v1", "configmaps", "team");
  const std::string path = ObjectPath("v1", "configmaps", "team", "settings");

  const Response created =
      client->Create(collection, R"({"metadata":{"name":"settings"},"data":{"a":"1"}})");
  ASSERT_EQ(created.status, 201) << created.Describe();
  rapidjson::Document object;
  object.Parse(created.body.c_str());
  const std::string version = ReadObjectMeta(object).resource_version;
  EXPECT_EQ(ReadObjectMeta(object).namespace_, "team");

  const Response again = client->Create(collection, R"({"metadata":{"name":"settings"}})");
  EXPECT_EQ(again.status, 409);
  ASSERT_TRUE(again.error_status);
  EXPECT_EQ(again.error_status->reason, "AlreadyExists");

  const std::string update =
      R"({"metadata":{"name":"settings","resourceVersion":")" + version + R"("},"data":{"a":"2"}})";
  const Response updated = client->Update(path, update);
  ASSERT_EQ(updated.status, 200) << updated.Describe();
  // The same resourceVersion again is stale now: optimistic concurrency says 409 Conflict.
  const Response stale = client->Update(path, update);
  EXPECT_EQ(stale.status, 409);
  EXPECT_TRUE(stale.conflict());
  ASSERT_TRUE(stale.error_status);
  EXPECT_EQ(stale.error_status->reason, "Conflict");
  EXPECT_NE(stale.error_status->message.find("the object has been modified"), std::string::npos);

  const Response patched = client->Patch(path, R"({"data":{"b":"3"}})", PatchType::kMerge);
  ASSERT_EQ(patched.status, 200) << patched.Describe();
  const Response got = client->Get(path);
  object.Parse(got.body.c_str());
  EXPECT_STREQ(object["data"]["a"].GetString(), "2");
  EXPECT_STREQ(object["data"]["b"].GetString(), "3");

  EXPECT_EQ(client->Delete(path).status, 200);
  const Response missing = client->Get(path);
  EXPECT_TRUE(missing.not_found());
  ASSERT_TRUE(missing.error_status);
  EXPECT_EQ(missing.error_status->reason, "NotFound");
}

TEST_F(ClientTest, PagedListFollowsContinueTokens) {
  for (int i = 0; i < 7; ++i) fake_.PutNamespace("ns-" + std::to_string(i));
  auto client = Client(fake_.Config());
  fake_.Requests(true);
  ListOptions options;
  options.limit = 3;
  std::vector<std::string> names;
  int pages = 0;
  const Response response =
      client->ListAll("/api/v1/namespaces", options, [&](const ListPage& page) {
        ++pages;
        EXPECT_EQ(page.first, pages == 1);
        for (const auto& item : page.items) names.push_back(ReadObjectMeta(*item).name);
      });
  ASSERT_TRUE(response.ok()) << response.Describe();
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names,
            (std::vector<std::string>{"ns-0", "ns-1", "ns-2", "ns-3", "ns-4", "ns-5", "ns-6"}));
  const auto log = fake_.Requests();
  const auto lists = fake_.RequestsTo(log, "/api/v1/namespaces", false);
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_STREQ((*lists[0])["query"]["limit"].GetString(), "3");
  EXPECT_FALSE((*lists[0])["query"].HasMember("continue"));
  EXPECT_TRUE((*lists[1])["query"].HasMember("continue"));
}

TEST_F(ClientTest, ExpiredContinueTokenStartsTheListAgain) {
  for (int i = 0; i < 5; ++i) fake_.PutNamespace("ns-" + std::to_string(i));
  auto client = Client(fake_.Config());
  ListOptions options;
  options.limit = 2;
  std::vector<std::string> names;
  int firsts = 0;
  bool compacted = false;
  const Response response =
      client->ListAll("/api/v1/namespaces", options, [&](const ListPage& page) {
        if (page.first) {
          ++firsts;
          names.clear();
        }
        for (const auto& item : page.items) names.push_back(ReadObjectMeta(*item).name);
        if (!compacted) {
          // Between pages the history is compacted and the world changes: the token expires.
          compacted = true;
          fake_.Delete("/api/v1/namespaces", "", "ns-4");
          fake_.Op("compact");
        }
      });
  ASSERT_TRUE(response.ok()) << response.Describe();
  EXPECT_EQ(firsts, 2);
  EXPECT_EQ(names, (std::vector<std::string>{"ns-0", "ns-1", "ns-2", "ns-3"}));

  // The same 410 to a single page is the caller's to handle.
  ListPage page;
  const Response first = client->ListPage("/api/v1/namespaces", options, "", &page);
  ASSERT_TRUE(first.ok());
  fake_.PutNamespace("later");
  fake_.Op("compact");
  const Response gone = client->ListPage("/api/v1/namespaces", options, page.continue_token, &page);
  EXPECT_TRUE(gone.gone());
  ASSERT_TRUE(gone.error_status);
  EXPECT_EQ(gone.error_status->reason, "Expired");
}

TEST_F(ClientTest, LabelAndFieldSelectors) {
  fake_.PutNamespace("a", R"({"team":"x","tier":"web"})");
  fake_.PutNamespace("b", R"({"team":"y"})");
  fake_.PutNamespace("c", R"({"team":"x"})");
  auto client = Client(fake_.Config());
  const auto names = [&](const ListOptions& options) {
    std::vector<std::string> found;
    client->ListAll("/api/v1/namespaces", options, [&](const ListPage& page) {
      for (const auto& item : page.items) found.push_back(ReadObjectMeta(*item).name);
    });
    return found;
  };
  ListOptions options;
  options.label_selector = "team in (x),!tier";
  EXPECT_EQ(names(options), std::vector<std::string>{"c"});
  options.label_selector = "team=x";
  options.field_selector = "metadata.name=a";
  EXPECT_EQ(names(options), std::vector<std::string>{"a"});
}

TEST_F(ClientTest, RetryAfterOn429IsHonoured) {
  auto client = Client(fake_.Config());
  fake_.Requests(true);
  fake_.Fail(R"("status":429,"retry_after":1,"count":1,"reason":"TooManyRequests")");
  const Response response = client->Get("/api/v1/namespaces");
  EXPECT_EQ(response.status, 200) << response.Describe();
  EXPECT_EQ(response.retries, 1);
  const auto log = fake_.Requests();
  ASSERT_EQ(log.Size(), 2u);
  // The second request came no sooner than the server asked.
  EXPECT_GE(log[1]["time"].GetDouble() - log[0]["time"].GetDouble(), 0.95);
}

TEST_F(ClientTest, RetryAfterOn503ButNot500) {
  auto client = Client(fake_.Config());
  fake_.Fail(R"("status":503,"retry_after":0,"count":2,"reason":"ServiceUnavailable")");
  const Response recovered = client->Get("/api/v1/namespaces");
  EXPECT_EQ(recovered.status, 200);
  EXPECT_EQ(recovered.retries, 2);
  fake_.Fail(R"("status":500,"count":1,"reason":"InternalError","message":"boom")");
  const Response failed = client->Get("/api/v1/namespaces");
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.retries, 0);
  EXPECT_EQ(failed.Describe(), "500 InternalError: boom");
}

TEST_F(ClientTest, RetriesGiveUpAfterTheLimit) {
  ClientOptions options;
  options.max_retries = 2;
  std::string error;
  auto client = KubeClient::Create(fake_.Config(), &error, options);
  fake_.Fail(R"("status":429,"retry_after":0,"count":10)");
  const Response response = client->Get("/api/v1/namespaces");
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.retries, 2);
  fake_.Op("clear_failures");
}

class TokenFileTest : public ClientTest {
 protected:
  void WriteToken(const std::string& token) { test::WriteFile(token_file(), token + "\n"); }
  std::string token_file() const { return dir_.path() + "/token"; }
  test::TempDir dir_;
};

TEST_F(TokenFileTest, RotatedTokenFileIsReadAgain) {
  fake_.Settings(R"("tokens":["token-1"])");
  WriteToken("token-1");
  ClusterConfig config = fake_.Config("");
  config.token_file = token_file();
  auto client = Client(config);
  ASSERT_EQ(client->Get("/api/v1/namespaces").status, 200);

  // The kubelet projects a new token; the server stops taking the old one.
  fake_.Settings(R"("tokens":["token-2"])");
  WriteToken("token-2");
  const Response response = client->Get("/api/v1/namespaces");
  EXPECT_EQ(response.status, 200) << response.Describe();
  EXPECT_EQ(response.retries, 0);  // the changed file was noticed before sending
}

TEST_F(TokenFileTest, A401ReReadsTheTokenEvenWhenTheFileLooksUnchanged) {
  fake_.Settings(R"("tokens":["token-A"])");
  WriteToken("token-A");
  ClusterConfig config = fake_.Config("");
  config.token_file = token_file();
  auto client = Client(config);
  ASSERT_EQ(client->Get("/api/v1/namespaces").status, 200);

  // Same inode, same size, same modification time: only the 401 can tell.
  struct stat before {};
  ASSERT_EQ(stat(token_file().c_str(), &before), 0);
  {
    std::fstream file(token_file(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(0);
    file << "token-B\n";
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, token_file().c_str(), times, 0), 0);
  fake_.Settings(R"("tokens":["token-B"])");

  const Response response = client->Get("/api/v1/namespaces");
  EXPECT_EQ(response.status, 200) << response.Describe();
  EXPECT_EQ(response.retries, 1);
  // A token that is simply wrong is not repeated forever: one 401 back.
  fake_.Settings(R"("tokens":["token-C"])");
  const Response denied = client->Get("/api/v1/namespaces");
  EXPECT_EQ(denied.status, 401);
}

TEST_F(ClientTest, MetadataOnlyListCarriesOnlyMetadata) {
  fake_.PutNamespace("team");
  fake_.PutConfigMap("team", "big", "lots of data");
  auto client = Client(fake_.Config());
  fake_.Requests(true);
  ListOptions options;
  options.metadata_only = true;
  ListPage page;
  ASSERT_TRUE(
      client->ListPage(CollectionPath("v1", "configmaps", "team"), options, "", &page).ok());
  ASSERT_EQ(page.items.size(), 1u);
  const rapidjson::Value& item = *page.items[0];
  EXPECT_STREQ(item["kind"].GetString(), "PartialObjectMetadata");
  EXPECT_FALSE(item.HasMember("data"));
  EXPECT_EQ(ReadObjectMeta(item).name, "big");
  EXPECT_STREQ((*page.document)["kind"].GetString(), "PartialObjectMetadataList");
  const auto log = fake_.Requests();
  EXPECT_STREQ(log[0]["accept"].GetString(),
               "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
}

TEST_F(ClientTest, WatchDeliversEventsInOrderAndEndsAtTheTimeout) {
  fake_.PutNamespace("team");
  auto client = Client(fake_.Config());
  ListPage page;
  ASSERT_TRUE(client->ListPage("/api/v1/namespaces", {}, "", &page).ok());
  for (int i = 0; i < 5; ++i) fake_.PutNamespace("n" + std::to_string(i));
  fake_.Delete("/api/v1/namespaces", "", "n0");
  WatchOptions options;
  options.resource_version = page.resource_version;
  options.timeout_seconds = 1;
  std::vector<std::string> seen;
  const WatchResult result = client->Watch("/api/v1/namespaces", options, [&](const WatchEvent& e) {
    const char* type = e.type == WatchEvent::Type::kAdded      ? "ADDED "
                       : e.type == WatchEvent::Type::kDeleted  ? "DELETED "
                       : e.type == WatchEvent::Type::kModified ? "MODIFIED "
                                                               : "OTHER ";
    seen.push_back(type + ReadObjectMeta(*e.object).name);
    return true;
  });
  EXPECT_EQ(result.end, WatchResult::End::kClosed) << result.error;
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED n0", "ADDED n1", "ADDED n2", "ADDED n3",
                                            "ADDED n4", "DELETED n0"}));
}

TEST_F(ClientTest, WatchStopsOnCancel) {
  auto client = Client(fake_.Config());
  Cancellation cancel;
  std::atomic<bool> opened{false};
  std::thread canceller([&] {
    test::Eventually([&] {
      return fake_.Control(R"({"op":"state"})").find(R"("open_watches": 1)") != std::string::npos;
    });
    opened = true;
    cancel.Cancel();
  });
  WatchOptions options;
  options.timeout_seconds = 600;
  const WatchResult result = client->Watch(
      "/api/v1/namespaces", options, [](const WatchEvent&) { return true; }, nullptr, &cancel);
  canceller.join();
  EXPECT_TRUE(opened);
  EXPECT_EQ(result.end, WatchResult::End::kCancelled);
}

TEST_F(ClientTest, WatchRefusedWithStatus) {
  auto client = Client(fake_.Config());
  fake_.Settings(R"("gone_as":"status")");
  fake_.PutNamespace("x");
  fake_.Op("compact");
  WatchOptions options;
  options.resource_version = "1";
  const WatchResult result =
      client->Watch("/api/v1/namespaces", options, [](const WatchEvent&) { return true; });
  EXPECT_EQ(result.end, WatchResult::End::kRefused);
  EXPECT_TRUE(result.response.gone());
  ASSERT_TRUE(result.response.error_status);
  EXPECT_EQ(result.response.error_status->code, 410);
}

}  // namespace
}  // namespace palisade::kube
