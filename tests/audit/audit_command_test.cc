// `palisade audit`, the real binary, against the fake API server (real TLS, tokens, paged lists,
// a request log): thousands of pods in hundreds of namespaces, Reports created, updated through a
// 409, capped with the remainder counted, and deleted when stale.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/object.h"
#include "tests/support/fake_apiserver.h"
#include "tests/support/run_binary.h"

namespace palisade {
namespace {

namespace fs = std::filesystem;

using test::RunResult;

RunResult RunPalisade(const std::vector<std::string>& args) {
  test::RunOptions options;
  options.unset_env = {"KUBERNETES_SERVICE_HOST"};
  return test::RunBinary(PALISADE_BINARY, args, options);
}

constexpr char kPolicy[] =
    "apiVersion: palisade.dev/v1\\nkind: NamespacePolicy\\nmetadata: {name: teams}\\nspec:\\n  "
    "namespaces: [\\\"team-*\\\"]\\n  podSecurity: {enforce: baseline, warn: restricted}\\n";

const std::string kPrivileged =
    R"({"name":"app","image":"nginx","securityContext":{"privileged":true}})";
const std::string kRestricted =
    R"({"name":"app","image":"nginx","securityContext":{"allowPrivilegeEscalation":false,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}}})";

std::string Pod(const std::string& ns, const std::string& name, const std::string& container) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
         R"("},"spec":{"containers":[)" + container + "]}}";
}

class AuditCommandTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.started());
    kubeconfig_ = dir_.path() + "/kubeconfig";
    test::WriteFile(kubeconfig_,
                    "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  "
                    "cluster:\n    server: " +
                        server_.url() + "\n    certificate-authority: " + server_.file("ca.crt") +
                        "\nusers:\n- name: u\n  user:\n    token: test-token\n"
                        "contexts:\n- name: c\n  context: {cluster: fake, user: u}\n"
                        "current-context: c\n");
    server_.PutNamespace("palisade-system");
    server_.Put("/api/v1/namespaces/palisade-system/configmaps",
                R"({"metadata":{"name":"palisade-policies","namespace":"palisade-system",)"
                R"("labels":{"palisade.dev/policy":"true"}},"data":{"teams.yaml":")" +
                    std::string(kPolicy) + R"("}})");
  }

  void PutMany(const std::string& collection, const std::vector<std::string>& objects) {
    std::string list;
    for (const std::string& object : objects) list += (list.empty() ? "" : ",") + object;
    const std::string answer = server_.Control(R"({"op":"put_many","collection":")" + collection +
                                               R"(","objects":[)" + list + "]}");
    ASSERT_NE(answer.find("\"count\""), std::string::npos) << answer;
  }

  RunResult Audit(std::vector<std::string> args) {
    args.insert(args.begin(), {"audit", "--kubeconfig", kubeconfig_});
    return RunPalisade(args);
  }

  std::unique_ptr<kube::KubeClient> Client() {
    std::string error;
    auto client = kube::KubeClient::Create(server_.Config(), &error);
    EXPECT_NE(client, nullptr) << error;
    return client;
  }

  rapidjson::Document GetReport(const std::string& ns, int* status) {
    const kube::Response response =
        Client()->Get(kube::ObjectPath("openreports.io/v1alpha1", "reports", ns, "palisade"));
    *status = response.status;
    rapidjson::Document report;
    report.Parse(response.body.c_str());
    return report;
  }

  test::FakeApiServer server_;
  test::TempDir dir_;
  std::string kubeconfig_;
};

TEST_F(AuditCommandTest, ScansThousandsOfPodsInHundredsOfNamespacesInPages) {
  std::vector<std::string> namespaces, pods;
  for (int n = 0; n < 300; ++n) {
    char ns[16];
    std::snprintf(ns, sizeof ns, "team-%03d", n);
    namespaces.push_back(R"({"metadata":{"name":")" + std::string(ns) + R"("}})");
    for (int p = 0; p < 10; ++p) {
      const bool bad = n % 10 == 0 && p == 0;
      pods.push_back(Pod(ns, "pod-" + std::to_string(p), bad ? kPrivileged : kRestricted));
    }
  }
  PutMany("/api/v1/namespaces", namespaces);
  PutMany("/api/v1/pods", pods);
  server_.Requests(/*reset=*/true);

  const RunResult run = Audit({"--policy-configmaps", "palisade-system", "-o", "json"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  rapidjson::Document out;
  out.Parse(run.out.c_str());
  ASSERT_FALSE(out.HasParseError()) << run.out;
  EXPECT_EQ(out["summary"]["resources"]["fail"].GetInt(), 30);
  EXPECT_EQ(out["summary"]["resources"]["pass"].GetInt(), 2970);
  EXPECT_EQ(out["summary"]["namespaces"].GetInt(), 300);
  ASSERT_EQ(out["resources"].Size(), 30u);
  EXPECT_STREQ(out["resources"][0]["namespace"].GetString(), "team-000");
  EXPECT_STREQ(out["resources"][0]["result"].GetString(), "fail");
  EXPECT_STREQ(out["resources"][0]["policy"].GetString(), "teams");

  // 3000 pods in pages of 500: six requests, each after the first with a continue token.
  const rapidjson::Document log = server_.Requests();
  const auto lists = server_.RequestsTo(log, "/api/v1/pods", /*watch=*/false);
  ASSERT_EQ(lists.size(), 6u);
  for (std::size_t i = 0; i < lists.size(); ++i) {
    EXPECT_STREQ((*lists[i])["query"]["limit"].GetString(), "500");
    EXPECT_EQ((*lists[i])["query"].HasMember("continue"), i > 0);
  }
  // Every workload kind was listed too, once (each fits a page).
  for (const char* path :
       {"/apis/apps/v1/deployments", "/apis/apps/v1/replicasets", "/apis/apps/v1/statefulsets",
        "/apis/apps/v1/daemonsets", "/apis/batch/v1/jobs", "/apis/batch/v1/cronjobs",
        "/api/v1/replicationcontrollers", "/api/v1/podtemplates"}) {
    EXPECT_EQ(server_.RequestsTo(log, path, false).size(), 1u) << path;
  }
  // The run's counts, one JSON line on stderr.
  EXPECT_NE(run.err.find("\"msg\":\"audit run\""), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("\"resources_fail\":30"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("\"resources_pass\":2970"), std::string::npos) << run.err;
}

TEST_F(AuditCommandTest, WritesReportsUpdatesThroughConflictsCapsResultsAndDeletesStaleOnes) {
  PutMany("/api/v1/namespaces",
          {R"({"metadata":{"name":"team-a"}})", R"({"metadata":{"name":"team-b"}})",
           R"({"metadata":{"name":"team-gone"}})"});
  std::vector<std::string> pods;
  for (int p = 0; p < 205; ++p)
    pods.push_back(Pod("team-a", "bad-" + std::to_string(p), kPrivileged));
  pods.push_back(Pod("team-b", "good", kRestricted));
  PutMany("/api/v1/pods", pods);
  PutMany(
      "/apis/apps/v1/deployments",
      {R"({"metadata":{"name":"web","namespace":"team-b"},"spec":{"template":{"spec":{"containers":[)" +
       kRestricted + "]}}}}"});
  // An earlier run's reports: team-b's is updated in place, team-gone's has nothing left.
  const std::string earlier =
      R"({"metadata":{"name":"palisade","namespace":"NS"},"source":"palisade","summary":{"fail":9}})";
  for (const std::string ns : {"team-b", "team-gone"}) {
    std::string object = earlier;
    object.replace(object.find("NS"), 2, ns);
    server_.Put("/apis/openreports.io/v1alpha1/namespaces/" + ns + "/reports", object);
  }
  int status = 0;
  const std::string uid_before = GetReport("team-b", &status)["metadata"]["uid"].GetString();
  // Someone else writes team-b's report between our list and our update: one 409.
  server_.Fail(
      R"("status":409,"reason":"Conflict","method":"PUT","path_prefix":"/apis/openreports.io/v1alpha1/namespaces/team-b/reports/palisade")");
  server_.Requests(/*reset=*/true);

  const RunResult run = Audit({"--policy-configmaps", "palisade-system", "--write-reports"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  const rapidjson::Document log = server_.Requests();  // before this test's own reads
  EXPECT_NE(run.out.find("FAIL  Pod team-a/bad-0\n  violates PodSecurity \"baseline:v1.37\""),
            std::string::npos)
      << run.out;
  EXPECT_NE(
      run.out.find("207 resources in 2 namespaces: 2 pass, 205 fail, 0 warn, 0 error, 0 skip"),
      std::string::npos)
      << run.out;

  // team-a: 205 failures, 200 kept (the cap), the 5 others counted, never silently cut.
  const rapidjson::Document a = GetReport("team-a", &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(a["summary"]["fail"].GetInt(), 205);
  EXPECT_EQ(a["results"].Size(), 200u);
  EXPECT_STREQ(a["metadata"]["annotations"]["palisade.dev/results-omitted"].GetString(), "5");
  EXPECT_STREQ(a["metadata"]["annotations"]["palisade.dev/resources"].GetString(),
               R"({"fail":205,"error":0,"warn":0,"pass":0,"skip":0})");
  EXPECT_STREQ(a["results"][0]["result"].GetString(), "fail");
  EXPECT_STREQ(a["results"][0]["rule"].GetString(), "privileged");
  EXPECT_STREQ(a["results"][0]["resources"][0]["name"].GetString(), "bad-0");
  EXPECT_TRUE(a["metadata"]["annotations"].HasMember("palisade.dev/last-run"));

  // team-b: the same object, updated in place after re-reading it.
  const rapidjson::Document b = GetReport("team-b", &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(b["metadata"]["uid"].GetString(), uid_before);
  EXPECT_EQ(b["summary"]["pass"].GetInt(), 2);
  EXPECT_EQ(b["summary"]["fail"].GetInt(), 0);
  EXPECT_EQ(b["results"].Size(), 2u);

  // team-gone: nothing left there, its report is gone.
  GetReport("team-gone", &status);
  EXPECT_EQ(status, 404);

  std::vector<std::string> b_requests;
  for (const auto& request : log.GetArray()) {
    if (std::string(request["path"].GetString()) ==
        "/apis/openreports.io/v1alpha1/namespaces/team-b/reports/palisade") {
      b_requests.push_back(request["method"].GetString());
    }
  }
  EXPECT_EQ(b_requests, (std::vector<std::string>{"PUT", "GET", "PUT"}));
  EXPECT_NE(run.err.find("\"reports_created\":1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("\"reports_updated\":1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("\"reports_deleted\":1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("\"report_conflicts\":1"), std::string::npos) << run.err;

  // Fixed: the next run updates both in place, and exits 0.
  server_.Delete("/api/v1/pods", "team-a", "bad-0");
  for (int p = 1; p < 205; ++p)
    server_.Delete("/api/v1/pods", "team-a", "bad-" + std::to_string(p));
  server_.Put("/api/v1/pods", Pod("team-a", "fixed", kRestricted));
  const RunResult again = Audit({"--policy-configmaps", "palisade-system", "--write-reports"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("\"reports_updated\":2"), std::string::npos) << again.err;
  EXPECT_EQ(GetReport("team-a", &status)["summary"]["fail"].GetInt(), 0);
}

TEST_F(AuditCommandTest, WhatIfWithAPolicyDirectory) {
  PutMany("/api/v1/namespaces", {R"({"metadata":{"name":"team-a"}})"});
  PutMany("/api/v1/pods", {Pod("team-a", "plain", R"({"name":"app","image":"nginx"})")});
  const std::string policies = dir_.path() + "/policies";
  fs::create_directories(policies);
  test::WriteFile(policies + "/strict.yaml",
                  "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata: {name: strict}\n"
                  "spec:\n  namespaces: [\"*\"]\n  podSecurity: {enforce: restricted}\n");
  const RunResult live = Audit({"--policy-configmaps", "palisade-system"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;  // baseline admits it, with warnings
  EXPECT_NE(live.out.find("WARN  Pod team-a/plain\n  warning: would violate PodSecurity"),
            std::string::npos)
      << live.out;
  const RunResult proposed = Audit({"--policy-dir", policies});
  EXPECT_EQ(proposed.exit_code, 1) << proposed.out << proposed.err;
  EXPECT_NE(proposed.out.find("FAIL  Pod team-a/plain\n  violates PodSecurity \"restricted:v1.37\" "
                              "(policy \"strict\" rev "),
            std::string::npos)
      << proposed.out;
}

TEST_F(AuditCommandTest, ErrorsExitTwoAndWriteNoReports) {
  // Without a policy source.
  EXPECT_EQ(Audit({}).exit_code, 2);
  // A list that fails: the scan is incomplete, no report may claim a namespace is clean.
  PutMany("/api/v1/namespaces", {R"({"metadata":{"name":"team-a"}})"});
  server_.Fail(
      R"("status":403,"reason":"Forbidden","method":"GET","path_prefix":"/apis/batch/v1/jobs")");
  const RunResult run = Audit({"--policy-configmaps", "palisade-system", "--write-reports"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("cannot list jobs: 403"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("reports not written"), std::string::npos) << run.err;
  // The API server is not there at all.
  const RunResult unreachable =
      RunPalisade({"audit", "--kubeconfig", dir_.path() + "/missing", "--level", "baseline"});
  EXPECT_EQ(unreachable.exit_code, 2);
}

}  // namespace
}  // namespace palisade
