// PolicyWatcher::LoadNow on real directories, with the real store, metrics and log: what serves,
// what is refused, whether the server is ready, and what the metrics and log lines say.

#include "server/policy_watcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "server/cluster_sources.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/policy_store.h"

namespace palisade::server {
namespace {

namespace fs = std::filesystem;

std::string PolicyYaml(const std::string& name, const std::string& namespaces,
                       const std::string& enforce) {
  return "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: " + name +
         "\nspec:\n  namespaces: " + namespaces + "\n  podSecurity:\n    enforce: " + enforce +
         "\n";
}

class WatcherTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "palisade-watcher-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  std::string Enforce(const std::string& ns) const {
    const auto effective = store_.Get()->ForNamespace(ns);
    if (!effective->refused.empty()) return "refused: " + effective->refused;
    return effective->enforce ? effective->enforce->ToString() : "none";
  }
  bool HasMetric(const std::string& line) const {
    return metrics_.Serialize().find(line + "\n") != std::string::npos;
  }

  fs::path dir_;
  PolicyStore store_;
  Metrics metrics_;
  std::ostringstream log_;
  Logger logger_{LogLevel::kInfo, LogFormat::kJson, &log_};
};

TEST_F(WatcherTest, StartsReadyWithABadDocumentAndRefusesOnlyWhatItCovers) {
  Write("cluster.yaml", PolicyYaml("cluster-default", "[\"*\"]", "baseline"));
  Write("payments.yaml", PolicyYaml("payments", "[payments]", "strict"));
  PolicyWatcher watcher(dir_.string(), store_, metrics_, logger_);
  EXPECT_TRUE(watcher.LoadNow());  // ready
  EXPECT_EQ(Enforce("other"), "baseline:v1.37");
  EXPECT_EQ(Enforce("payments").rfind("refused: policy \"payments\" (", 0), 0u)
      << Enforce("payments");
  EXPECT_TRUE(HasMetric("palisade_policy_documents_invalid 1"));
  EXPECT_TRUE(HasMetric("palisade_policy_reloads_total{result=\"error\"} 1"));
  EXPECT_NE(log_.str().find("\"event\":\"policy_invalid\""), std::string::npos) << log_.str();
  // Documents count from 1 in the JSON fields as in the message.
  EXPECT_NE(log_.str().find("payments.yaml: document 1: spec.podSecurity.enforce: unknown level "
                            "\\\"strict\\\" (want privileged, baseline or restricted)\","
                            "\"event\":\"policy_error\",\"file\":\"" +
                            (dir_ / "payments.yaml").string() + "\",\"document\":1,"),
            std::string::npos)
      << log_.str();

  // Fixed: served, nothing failing.
  Write("payments.yaml", PolicyYaml("payments", "[payments]", "restricted"));
  EXPECT_TRUE(watcher.LoadNow());
  EXPECT_EQ(Enforce("payments"), "restricted:v1.37");
  EXPECT_TRUE(HasMetric("palisade_policy_documents_invalid 0"));
}

TEST_F(WatcherTest, RunTimeBadEditKeepsThatDocumentWhileAnotherChanges) {
  Write("a.yaml", PolicyYaml("team-a", "[team-a]", "baseline"));
  Write("b.yaml", PolicyYaml("team-b", "[team-b]", "baseline"));
  PolicyWatcher watcher(dir_.string(), store_, metrics_, logger_);
  ASSERT_TRUE(watcher.LoadNow());
  const std::string team_a = store_.Get()->policies()[0].revision;

  Write("a.yaml", PolicyYaml("team-a", "[team-a]", "restricted:v9"));
  Write("b.yaml", PolicyYaml("team-b", "[team-b]", "restricted"));
  EXPECT_TRUE(watcher.LoadNow());
  EXPECT_EQ(Enforce("team-a"), "baseline:v1.37");
  EXPECT_EQ(Enforce("team-b"), "restricted:v1.37");
  EXPECT_NE(log_.str().find("\"msg\":\"policy \\\"team-b\\\" changed (rev "), std::string::npos)
      << log_.str();
  EXPECT_EQ(log_.str().find("\\\"team-a\\\" changed"), std::string::npos) << log_.str();
  EXPECT_NE(log_.str().find("\"msg\":\"policy \\\"team-a\\\" (" + (dir_ / "a.yaml").string() +
                            ": document 1) is invalid; rev " + team_a + " keeps serving\""),
            std::string::npos)
      << log_.str();
  EXPECT_TRUE(HasMetric("palisade_policy_documents_invalid 1"));
  EXPECT_TRUE(HasMetric("palisade_policy_info{policy=\"team-a\",revision=\"" + team_a + "\"} 1"));
}

TEST_F(WatcherTest, EmptySourceWarnsAndSetsAMetric) {
  PolicyWatcher watcher(dir_.string(), store_, metrics_, logger_);
  EXPECT_TRUE(watcher.LoadNow());
  EXPECT_EQ(Enforce("anything"), "none");
  EXPECT_TRUE(HasMetric("palisade_policy_source_empty 1"));
  EXPECT_NE(log_.str().find("\"level\":\"warn\",\"msg\":\"no policy documents: every namespace is "
                            "privileged with no defaults\""),
            std::string::npos)
      << log_.str();
  Write("cluster.yaml", PolicyYaml("cluster-default", "[\"*\"]", "baseline"));
  EXPECT_TRUE(watcher.LoadNow());
  EXPECT_TRUE(HasMetric("palisade_policy_source_empty 0"));
}

TEST_F(WatcherTest, UnreadableSourceIsNotReadyUnparseableFileIsReadyButRefusesAll) {
  PolicyWatcher missing((dir_ / "missing").string(), store_, metrics_, logger_);
  EXPECT_FALSE(missing.LoadNow());
  EXPECT_EQ(store_.Get(), nullptr);

  Write("cluster.yaml", PolicyYaml("cluster-default", "[\"*\"]", "baseline"));
  Write("broken.yaml", "spec: [unclosed\n");
  PolicyWatcher watcher(dir_.string(), store_, metrics_, logger_);
  EXPECT_TRUE(watcher.LoadNow());
  EXPECT_EQ(Enforce("x").rfind("refused: policy file \"" + (dir_ / "broken.yaml").string() +
                                   "\" cannot be read and nothing from it was served before",
                               0),
            0u)
      << Enforce("x");
}

// The probe listener opens before the cluster sources start: in that moment /readyz must already
// say no, rather than yes until the namespaces' first list begins.
TEST_F(WatcherTest, ClusterSourcesAreNotReadyBeforeTheyStart) {
  PolicyWatcher watcher(dir_.string(), store_, metrics_, logger_);
  ClusterSourceOptions options;
  options.policy_namespace = "palisade";
  options.watch_namespaces = true;
  ClusterSources sources(options, watcher, metrics_, logger_);
  std::string reason;
  EXPECT_FALSE(sources.Ready(&reason));
  EXPECT_EQ(reason, "kubernetes sources not started yet");
}

}  // namespace
}  // namespace palisade::server
