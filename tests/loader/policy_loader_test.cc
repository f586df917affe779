// LoadPolicyDirectory on real directories: plain, kubelet ConfigMap layout with an atomic swap,
// broken files.

#include "server/policy_loader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policy/policy_changes.h"

namespace palisade::server {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "palisade-loader-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

void Write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string PolicyYaml(const std::string& name, const std::string& namespaces,
                       const std::string& enforce = "baseline") {
  return "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: " + name +
         "\nspec:\n  namespaces: " + namespaces + "\n  podSecurity:\n    enforce: " + enforce +
         "\n";
}

std::vector<std::string> Messages(const PolicyLoadResult& result) {
  std::vector<std::string> messages;
  for (const auto& error : result.errors) messages.push_back(error.ToString());
  return messages;
}

std::vector<std::string> Names(const PolicyLoadResult& result) {
  std::vector<std::string> names;
  if (result.set == nullptr) return names;
  for (const auto& policy : result.set->policies()) names.push_back(policy.name);
  return names;
}

TEST(LoadPolicyDirectory, ExamplePoliciesAreValid) {
  const std::string directory = std::string(PALISADE_SOURCE_DIR) + "/deploy/policies";
  const PolicyLoadResult result = LoadPolicyDirectory(directory);
  EXPECT_EQ(Messages(result), std::vector<std::string>{});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(Names(result), (std::vector<std::string>{"cluster-default", "team-a", "payments"}));

  const auto payments = result.set->ForNamespace("payments-eu");
  EXPECT_EQ(payments->matched, (std::vector<std::string>{"cluster-default", "payments"}));
  EXPECT_EQ(payments->enforce->ToString(), "restricted:v1.37");
  EXPECT_EQ(payments->default_run_as_non_root, true);
  const auto team = result.set->ForNamespace("team-a");
  EXPECT_EQ(team->enforce->ToString(), "baseline:v1.30");
  EXPECT_EQ(team->audit->ToString(), "restricted:v1.37");  // from the cluster default
  EXPECT_EQ(team->allowed_capabilities, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(team->exempt_images, std::vector<std::string>{"registry.example.com/debug/*"});
  const auto other = result.set->ForNamespace("default");
  EXPECT_EQ(other->default_seccomp_profile->type, "RuntimeDefault");
  EXPECT_EQ(other->default_capabilities_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(other->default_allow_privilege_escalation, false);
}

TEST(LoadPolicyDirectory, ReadsPolicyFilesInNameOrderAndSkipsTheRest) {
  TempDir dir;
  Write(dir.path() / "b.yml",
        PolicyYaml("b", "[b]") + "---\n" + PolicyYaml("b2", "[b2]") + "---\n");
  Write(dir.path() / "a.json",
        R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":"a"},)"
        R"("spec":{"namespaces":["a"]}})");
  Write(dir.path() / "README.md", "not a policy");
  Write(dir.path() / ".hidden.yaml", "garbage: [");
  fs::create_directory(dir.path() / "sub.yaml");
  Write(dir.path() / "sub.yaml" / "c.yaml", PolicyYaml("c", "[c]"));
  Write(dir.path() / "target.txt", PolicyYaml("linked", "[linked]"));
  fs::create_symlink("target.txt", dir.path() / "linked.yaml");

  const PolicyLoadResult result = LoadPolicyDirectory(dir.str());
  EXPECT_EQ(Messages(result), std::vector<std::string>{});
  EXPECT_EQ(Names(result), (std::vector<std::string>{"a", "b", "b2", "linked"}));
  EXPECT_EQ(result.files, (std::vector<std::string>{(dir.path() / "a.json").string(),
                                                    (dir.path() / "b.yml").string(),
                                                    (dir.path() / "linked.yaml").string()}));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.set->policies()[2].document_index, 1);
  EXPECT_EQ(result.set->policies()[2].file, (dir.path() / "b.yml").string());
}

TEST(LoadPolicyDirectory, EveryErrorWithFileDocumentAndField) {
  TempDir dir;
  Write(dir.path() / "good.yaml", PolicyYaml("good", "[good]"));
  Write(dir.path() / "bad.yaml", PolicyYaml("fine", "[fine]") + "---\n" +
                                     PolicyYaml("broken", "[broken]", "strict") +
                                     "  defaults:\n    runAsNonRot: true\n");
  Write(dir.path() / "syntax.yaml", PolicyYaml("ok", "[ok]") + "---\nspec: [unclosed\n");
  const PolicyLoadResult result = LoadPolicyDirectory(dir.str());
  EXPECT_FALSE(result.ok());
  const std::string bad = (dir.path() / "bad.yaml").string();
  const std::string syntax = (dir.path() / "syntax.yaml").string();
  EXPECT_EQ(Messages(result),
            (std::vector<std::string>{
                bad + ": document 2: spec.podSecurity.enforce: unknown level \"strict\" (want "
                      "privileged, baseline or restricted)",
                bad + ": document 2: spec.defaults.runAsNonRot: unknown field (did you mean "
                      "runAsNonRoot?)",
                // Lines count from the start of the file, not of the document.
                syntax + ": document 2: line 11, column 1: end of sequence flow not found",
            }));
  EXPECT_EQ(result.files.size(), 3u);
}

TEST(LoadPolicyDirectory, DuplicatesAcrossFilesNameBoth) {
  TempDir dir;
  Write(dir.path() / "one.yaml", PolicyYaml("team", "[team-a]"));
  Write(dir.path() / "two.yaml",
        PolicyYaml("other", "[\"*\"]") + "---\n" + PolicyYaml("team", "[team-b]"));
  Write(dir.path() / "three.yaml", PolicyYaml("third", "[team-a]"));
  const PolicyLoadResult result = LoadPolicyDirectory(dir.str());
  EXPECT_FALSE(result.ok());
  const std::string one = (dir.path() / "one.yaml").string();
  EXPECT_EQ(Messages(result),
            (std::vector<std::string>{
                (dir.path() / "three.yaml").string() +
                    ": document 1: spec.namespaces[0]: namespace pattern \"team-a\" is also in "
                    "policy \"team\" (" +
                    one + " document 1)",
                (dir.path() / "two.yaml").string() +
                    ": document 2: metadata.name: duplicate name \"team\" (also in " + one +
                    " document 1)",
            }));
}

TEST(LoadPolicyDirectory, LintSeesParseErrorsAndDuplicatesTogether) {
  TempDir dir;
  Write(dir.path() / "a.yaml", PolicyYaml("team", "[team]"));
  Write(dir.path() / "b.yaml", PolicyYaml("team", "[other]") + "---\n" +
                                   PolicyYaml("broken", "[broken]", "restricted:v2.0"));
  const PolicyLoadResult result = LoadPolicyDirectory(dir.str());
  EXPECT_FALSE(result.ok());
  const std::string b = (dir.path() / "b.yaml").string();
  EXPECT_EQ(Messages(result),
            (std::vector<std::string>{
                b + ": document 2: spec.podSecurity.enforce: invalid version \"v2.0\" (want v1.N "
                    "or latest)",
                b + ": document 1: metadata.name: duplicate name \"team\" (also in " +
                    (dir.path() / "a.yaml").string() + " document 1)",
            }));
}

TEST(LoadPolicyDirectory, MissingDirectoryDanglingLinkAndEmptyDirectory) {
  TempDir dir;
  const std::string missing = (dir.path() / "nope").string();
  EXPECT_EQ(
      Messages(LoadPolicyDirectory(missing)),
      std::vector<std::string>{missing + ": cannot read directory: No such file or directory"});

  fs::create_directory(dir.path() / "empty");
  const PolicyLoadResult empty = LoadPolicyDirectory((dir.path() / "empty").string());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.set->policies().empty());

  fs::create_directory(dir.path() / "dangling");
  fs::create_symlink("gone.yaml", dir.path() / "dangling" / "policy.yaml");
  const std::string link = (dir.path() / "dangling" / "policy.yaml").string();
  EXPECT_EQ(Messages(LoadPolicyDirectory((dir.path() / "dangling").string())),
            std::vector<std::string>{link + ": cannot read: dangling symbolic link"});
}

// The kubelet mounts a ConfigMap as <dir>/..<timestamp>/<key>, <dir>/..data -> ..<timestamp>,
// <dir>/<key> -> ..data/<key>, and updates it by renaming a new ..data link over the old one.
TEST(LoadPolicyDirectory, KubeletConfigMapLayoutAndAtomicSwap) {
  TempDir dir;
  const fs::path first = dir.path() / "..2026_11_28_10_00_00.000000001";
  fs::create_directory(first);
  Write(first / "cluster.yaml", PolicyYaml("cluster-default", "[\"*\"]", "baseline"));
  Write(first / "payments.yaml", PolicyYaml("payments", "[payments]", "restricted"));
  fs::create_symlink(first.filename(), dir.path() / "..data");
  fs::create_symlink("..data/cluster.yaml", dir.path() / "cluster.yaml");
  fs::create_symlink("..data/payments.yaml", dir.path() / "payments.yaml");

  const PolicyLoadResult before = LoadPolicyDirectory(dir.str());
  EXPECT_EQ(Messages(before), std::vector<std::string>{});
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(Names(before), (std::vector<std::string>{"cluster-default", "payments"}));
  EXPECT_EQ(before.files, (std::vector<std::string>{(dir.path() / "cluster.yaml").string(),
                                                    (dir.path() / "payments.yaml").string()}));
  EXPECT_EQ(before.set->ForNamespace("payments")->enforce->ToString(), "restricted:v1.37");

  // A new version: payments relaxed to baseline, a team policy added, the old data removed.
  const fs::path second = dir.path() / "..2026_11_28_10_05_00.000000002";
  fs::create_directory(second);
  Write(second / "cluster.yaml", PolicyYaml("cluster-default", "[\"*\"]", "baseline"));
  Write(second / "payments.yaml", PolicyYaml("payments", "[payments]", "baseline:v1.29"));
  Write(second / "team.yaml", PolicyYaml("team", "[team]", "restricted"));
  fs::create_symlink(second.filename(), dir.path() / "..data_tmp");
  fs::rename(dir.path() / "..data_tmp", dir.path() / "..data");
  fs::create_symlink("..data/team.yaml", dir.path() / "team.yaml");
  fs::remove_all(first);

  const PolicyLoadResult after = LoadPolicyDirectory(dir.str());
  EXPECT_EQ(Messages(after), std::vector<std::string>{});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.set->ForNamespace("payments")->enforce->ToString(), "baseline:v1.29");
  EXPECT_EQ(after.set->ForNamespace("team")->enforce->ToString(), "restricted:v1.37");

  const auto changes = policy::DiffPolicySets(before.set.get(), after.set.get());
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind, policy::PolicyChange::Kind::kChanged);
  EXPECT_EQ(changes[0].policy, "payments");
  EXPECT_EQ(changes[0].old_revision, before.set->policies()[1].revision);
  EXPECT_EQ(changes[0].new_revision, after.set->policies()[1].revision);
  EXPECT_NE(changes[0].old_revision, changes[0].new_revision);
  EXPECT_EQ(changes[1].ToString(),
            "policy \"team\" added (rev " + after.set->policies()[2].revision + ")");
}

TEST(ParsePolicyText, SkipsEmptyDocumentsButCountsThem) {
  std::vector<policy::PolicyError> errors;
  const auto policies = ParsePolicyText("---\n# nothing\n---\n" + PolicyYaml("a", "[a]") + "---\n",
                                        "inline.yaml", &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(policies.size(), 1u);
  EXPECT_EQ(policies[0].document_index, 1);

  ParsePolicyText("- not\n- a mapping\n", "list.yaml", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(), "list.yaml: document 1: expected a mapping, got list");
}

// A text of more flow marks (',', '[' and '{', counted anywhere, comments too) than a policy file
// may have is refused before yaml-cpp scans it, with its file and a hint; one at the limit is read.
TEST(ParsePolicyText, RefusesMoreFlowMarksThanAPolicyFileMayHave) {
  const std::string policy = PolicyYaml("a", "[a, b]");  // 2 marks
  const std::string at_limit = policy + "# " + std::string(100'000 - 2, ',') + "\n";
  std::vector<policy::PolicyError> errors;
  EXPECT_EQ(ParsePolicyText(at_limit, "p.yaml", &errors).size(), 1u);
  EXPECT_TRUE(errors.empty());

  const std::string over = "a: [" + std::string(100'000, ',') + "]\n" + policy;
  EXPECT_TRUE(ParsePolicyText(over, "p.yaml", &errors).empty());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(),
            "p.yaml: document 1: 100003 of ',', '[' and '{', more than the 100000 a text may "
            "have: write long lists as block lists (\"- item\" lines)");

  // The same in a directory: reported with the file, and the other files' policies still load.
  TempDir dir;
  Write(dir.path() / "big.yaml", over);
  Write(dir.path() / "ok.yaml", PolicyYaml("b", "[b]"));
  const PolicyLoadResult result = BuildPolicies(ReadPolicyDirectory(dir.str()), nullptr);
  EXPECT_EQ(Messages(result),
            std::vector<std::string>{
                (dir.path() / "big.yaml").string() +
                ": document 1: 100003 of ',', '[' and '{', more than the 100000 a text may have: "
                "write long lists as block lists (\"- item\" lines)"});
  EXPECT_EQ(Names(result), std::vector<std::string>{"b"});
}

TEST(ParsePolicyText, ReadsAtMostTenThousandDocumentsOfAText) {
  std::string at_limit = PolicyYaml("a", "[a]");
  for (int i = 1; i < 10'000; ++i) at_limit += "--- ~\n";  // empty documents
  std::vector<policy::PolicyError> errors;
  EXPECT_EQ(ParsePolicyText(at_limit, "p.yaml", &errors).size(), 1u);
  EXPECT_TRUE(errors.empty());

  // One more document: it carries the error, and nothing from it on is read.
  const std::string over = at_limit + "---\n" + PolicyYaml("b", "[b]");
  const auto policies = ParsePolicyText(over, "p.yaml", &errors);
  ASSERT_EQ(policies.size(), 1u);
  EXPECT_EQ(policies[0].name, "a");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].document_index, 10'000);
  EXPECT_NE(errors[0].reason.find("more than 10000 documents in one text: the rest is not read"),
            std::string::npos)
      << errors[0].ToString();
}

TEST(ParsePolicyText, ListsAHundredProblemsOfADocument) {
  std::string policy = PolicyYaml("a", "[a]");
  for (int i = 0; i < 150; ++i) policy += "x" + std::to_string(i) + ": 1\n";
  std::vector<policy::PolicyError> errors;
  EXPECT_TRUE(ParsePolicyText(policy, "p.yaml", &errors).empty());
  ASSERT_EQ(errors.size(), 101u);
  EXPECT_EQ(errors[99].ToString(), "p.yaml: document 1: x99: unknown field");
  EXPECT_EQ(errors[100].ToString(),
            "p.yaml: document 1: more than 100 problems; the rest are not listed");
  EXPECT_FALSE(errors[100].warning);
}

TEST(BuildPolicies, TheFilesOfALoadShareTwoMillionNodes) {
  // 150,153 nodes each once aliases are expanded, from 2.6 KB of text.
  std::string bomb = "a: &a [x";
  for (int i = 1; i < 1000; ++i) bomb += ",x";
  bomb += "]\nb: [*a";
  for (int i = 1; i < 149; ++i) bomb += ",*a";
  bomb += "]\n";
  TempDir dir;
  for (int i = 0; i < 14; ++i) {
    Write(dir.path() / ("f" + std::to_string(10 + i) + ".yaml"), bomb);
  }
  Write(dir.path() / "z.yaml", PolicyYaml("z", "[z]"));
  const PolicyLoadResult result = BuildPolicies(ReadPolicyDirectory(dir.str()), nullptr);
  const std::string budget =
      "more than 2000000 nodes (after expanding aliases) in the texts read together: the rest is "
      "not read";
  std::vector<std::string> over;
  for (const auto& error : result.errors) {
    if (error.reason.find(budget) != std::string::npos) {
      over.push_back(fs::path(error.file).filename().string());
    }
  }
  // 13 files fit (1,951,989 nodes); the 14th and what follows it are not read.
  EXPECT_EQ(over, (std::vector<std::string>{"f23.yaml", "z.yaml"}))
      << ::testing::PrintToString(Messages(result));
  EXPECT_TRUE(Names(result).empty());
}

}  // namespace
}  // namespace palisade::server
