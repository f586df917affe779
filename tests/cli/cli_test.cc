// The real `palisade` binary on real files (tests/cli/testdata): whole stdout, whole stderr and
// exit codes compared with files in testdata/expected, and `check` compared with the webhook's
// own entry point (policy::Review) on the same objects.
//
// To rewrite the expected files after an intended change (then read the diff!):
//   PALISADE_UPDATE_EXPECTED=1 build/tests/cli/cli_test

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policy/admission.h"
#include "policy/mutator.h"
#include "server/policy_loader.h"
#include "server/yaml_json.h"
#include "tests/support/run_binary.h"

namespace palisade {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = CLI_TESTDATA_DIR;

using test::RunResult;

std::string ReadFile(const fs::path& path) { return test::ReadText(path.string()); }

// Runs the binary in testdata/ (so file names in its output are short and stable), with stdin
// from `stdin_file` (relative to testdata/) or /dev/null.
RunResult RunPalisade(const std::vector<std::string>& args, const std::string& stdin_file = "") {
  test::RunOptions options;
  options.directory = kTestdata.string();
  options.stdin_file = stdin_file;
  return test::RunBinary(PALISADE_BINARY, args, options);
}

// Compares `actual` with testdata/expected/<name>, or rewrites it when asked to.
void ExpectFile(const std::string& name, const std::string& actual) {
  const fs::path path = kTestdata / "expected" / name;
  if (std::getenv("PALISADE_UPDATE_EXPECTED") != nullptr) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing";
  EXPECT_EQ(ReadFile(path), actual) << "differs from " << path;
}

struct Case {
  std::string name;  // expected/<name>.out (stdout) and expected/<name>.err (stderr)
  std::vector<std::string> args;
  std::string stdin_file;
  int exit_code;
};

class CliCase : public testing::TestWithParam<Case> {};

TEST_P(CliCase, WholeOutputAndExitCode) {
  const Case& c = GetParam();
  const RunResult result = RunPalisade(c.args, c.stdin_file);
  EXPECT_EQ(result.exit_code, c.exit_code) << "stderr: " << result.err;
  ExpectFile(c.name + ".out", result.out);
  ExpectFile(c.name + ".err", result.err);
}

const Case kCases[] = {
    // check against a policy directory: Deployment (anchors, merge keys), Service skipped,
    // CronJob with warnings, a Pod, and a v1 List.
    {"check_policies_text",
     {"check", "--policy-dir", "policies", "workloads.yaml", "cluster-pods.yaml"},
     "",
     1},
    {"check_policies_json",
     {"check", "--policy-dir", "policies", "-o", "json", "workloads.yaml"},
     "",
     1},
    // "What breaks if we tighten?": the cluster's pods from stdin against restricted.
    {"check_level_stdin", {"check", "--level", "restricted", "-"}, "cluster-pods.yaml", 1},
    {"check_level_version", {"check", "--level", "baseline:v1.30", "cluster-pods.yaml"}, "", 1},
    // Manifests are judged as the API server stores them (API server defaults first).
    {"check_as_stored", {"check", "--level", "restricted", "as-stored.yaml"}, "", 1},
    // --level replaces the policies' enforce level; warn and audit still come from the policies.
    {"check_level_overrides_policy",
     {"check", "--policy-dir", "policies", "--level", "privileged", "workloads.yaml"},
     "",
     0},
    {"check_namespace_flag",
     {"check", "--policy-dir", "policies", "--namespace", "payments", "cluster-pods.yaml"},
     "",
     1},
    {"check_generated_names", {"check", "--policy-dir", "policies", "generated.yaml"}, "", 1},
    {"check_json_input_allowed", {"check", "--policy-dir", "policies", "pod.json"}, "", 0},
    {"check_mutate_yaml",
     {"check", "--policy-dir", "policies", "--mutate", "workloads.yaml", "cluster-pods.yaml"},
     "",
     1},
    {"check_mutate_json",
     {"check", "--policy-dir", "policies", "--mutate", "-o", "json", "cluster-pods.yaml"},
     "",
     1},
    {"check_input_errors",
     {"check", "--level", "baseline", "broken.yaml", "missing.yaml", "odd.yaml"},
     "",
     2},
    {"check_input_errors_json",
     {"check", "--level", "baseline", "-o", "json", "broken.yaml", "odd.yaml"},
     "",
     2},
    {"check_needs_policy_or_level", {"check", "workloads.yaml"}, "", 2},
    {"check_bad_level", {"check", "--level", "strict", "workloads.yaml"}, "", 2},
    {"check_bad_output", {"check", "--level", "baseline", "-o", "yaml", "workloads.yaml"}, "", 2},
    {"check_no_input", {"check", "--level", "baseline"}, "", 2},
    // What-if: only what changes between two policy sets; exit 1 when something becomes denied.
    {"check_compare_text",
     {"check", "--compare-policy-dir", "policies", "--policy-dir", "policies-proposed",
      "workloads.yaml", "cluster-pods.yaml"},
     "",
     1},
    {"check_compare_json",
     {"check", "--compare-policy-dir", "policies", "--policy-dir", "policies-proposed", "-o",
      "json", "workloads.yaml", "cluster-pods.yaml"},
     "",
     1},
    // Nothing newly denied (for these objects the reverse change only allows): exit 0.
    {"check_compare_reverse",
     {"check", "--compare-policy-dir", "policies-proposed", "--policy-dir", "policies",
      "workloads.yaml"},
     "",
     0},
    // A policy edit that changes revisions but no verdict or warning text reports nothing.
    {"check_compare_revision_only",
     {"check", "--compare-policy-dir", "policies", "--policy-dir", "policies-revised",
      "workloads.yaml", "cluster-pods.yaml"},
     "",
     0},
    {"check_compare_unchanged",
     {"check", "--compare-policy-dir", "policies", "--policy-dir", "policies", "workloads.yaml"},
     "",
     0},
    {"check_compare_needs_policy_dir",
     {"check", "--compare-policy-dir", "policies", "--level", "baseline", "workloads.yaml"},
     "",
     2},
    {"check_mutate_apparmor_annotation_before_1_30",
     {"check", "--policy-dir", "apparmor-policies", "--kubernetes-version", "1.29", "--mutate",
      "apparmor-pod.yaml"},
     "",
     0},
    {"check_mutate_apparmor_field_from_1_30",
     {"check", "--policy-dir", "apparmor-policies", "--kubernetes-version", "1.30", "--mutate",
      "apparmor-pod.yaml"},
     "",
     0},
    {"check_bad_kubernetes_version",
     {"check", "--level", "baseline", "--kubernetes-version", "2.0", "apparmor-pod.yaml"},
     "",
     2},
    {"check_unknown_flag", {"check", "--bogus", "apparmor-pod.yaml"}, "", 2},
    {"check_bad_policies", {"check", "--policy-dir", "bad-policies", "workloads.yaml"}, "", 2},
    {"lint_ok", {"policy", "lint", "policies"}, "", 0},
    // spec.exceptions: waived before expiry (with the last-14-days warning), not after; lint
    // warns about the expired one (exit 0); explain lists each with its reason and expiry.
    {"check_exception_in_force",
     {"check", "--policy-dir", "exception-policies", "--today", "2027-03-25", "mesh-pod.yaml"},
     "",
     0},
    {"check_exception_expired",
     {"check", "--policy-dir", "exception-policies", "--today", "2027-04-01", "mesh-pod.yaml"},
     "",
     1},
    {"lint_expired_exception",
     {"policy", "lint", "exception-policies", "--today", "2027-03-20"},
     "",
     0},
    {"explain_exceptions",
     {"policy", "explain", "--policy-dir", "exception-policies", "--namespace", "mesh"},
     "",
     0},
    {"lint_ok_json", {"policy", "lint", "-o", "json", "policies"}, "", 0},
    {"lint_problems", {"policy", "lint", "bad-policies"}, "", 1},
    {"lint_problems_json", {"policy", "lint", "bad-policies", "-o", "json"}, "", 1},
    {"lint_no_policies", {"policy", "lint", "empty-policies"}, "", 1},
    // --policy-dir like every other command; the positional form stays.
    {"lint_policy_dir_flag", {"policy", "lint", "--policy-dir", "policies"}, "", 0},
    {"lint_directory_twice", {"policy", "lint", "--policy-dir", "policies", "bad-policies"}, "", 2},
    // A version newer than the binary knows is a warning, not a problem.
    {"lint_newer_version", {"policy", "lint", "newer-policies"}, "", 0},
    {"lint_newer_version_json", {"policy", "lint", "-o", "json", "newer-policies"}, "", 0},
    // Every problem: a duplicate name across files while one of them has an error too.
    {"lint_duplicates_and_errors", {"policy", "lint", "duplicate-policies"}, "", 1},
    {"policy_schema_spec", {"policy", "schema", "--spec"}, "", 0},
    {"lint_not_a_directory", {"policy", "lint", "missing"}, "", 2},
    {"explain_glob",
     {"policy", "explain", "--policy-dir", "policies", "--namespace", "payments-eu"},
     "",
     0},
    {"explain_exact_json",
     {"policy", "explain", "--policy-dir", "policies", "--namespace", "tools", "-o", "json"},
     "",
     0},
    {"explain_cluster_default",
     {"policy", "explain", "--policy-dir", "policies", "-n", "other"},
     "",
     0},
    {"explain_no_policy",
     {"policy", "explain", "--policy-dir", "empty-policies", "-n", "x"},
     "",
     0},
    // Namespace labels: selectors, PSA labels and the layer that set each field.
    {"explain_labels",
     {"policy", "explain", "--policy-dir", "label-policies", "-n", "shop", "--namespace-labels",
      "compliance=pci,pod-security.kubernetes.io/enforce=restricted,pod-security.kubernetes.io/"
      "warn=strict"},
     "",
     0},
    {"explain_labels_json",
     {"policy", "explain", "--policy-dir", "label-policies", "-n", "billing", "--namespace-labels",
      "team=billing", "-o", "json"},
     "",
     0},
    {"explain_bad_labels",
     {"policy", "explain", "--policy-dir", "label-policies", "-n", "x", "--namespace-labels",
      "team"},
     "",
     2},
    {"check_namespace_objects",
     {"check", "--policy-dir", "label-policies", "labelled-namespaces.yaml"},
     "",
     1},
    {"check_namespace_labels_flag",
     {"check", "--policy-dir", "label-policies", "--namespace-labels",
      "pod-security.kubernetes.io/enforce=privileged,team=payments", "labelled-namespaces.yaml"},
     "",
     1},
    {"explain_bad_policies",
     {"policy", "explain", "--policy-dir", "bad-policies", "-n", "x"},
     "",
     2},
};

INSTANTIATE_TEST_SUITE_P(Cli, CliCase, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// ---- check agrees with /validate and /mutate ----

struct Resource {
  std::string_view kind, group, version, resource;
};
constexpr Resource kResources[] = {
    {"Pod", "", "v1", "pods"},
    {"Deployment", "apps", "v1", "deployments"},
    {"ReplicaSet", "apps", "v1", "replicasets"},
    {"StatefulSet", "apps", "v1", "statefulsets"},
    {"DaemonSet", "apps", "v1", "daemonsets"},
    {"Job", "batch", "v1", "jobs"},
    {"CronJob", "batch", "v1", "cronjobs"},
    {"ReplicationController", "", "v1", "replicationcontrollers"},
    {"PodTemplate", "", "v1", "podtemplates"},
};

std::string Compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

std::string StringOr(const rapidjson::Value& object, const char* key, std::string fallback) {
  const auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : fallback;
}

// The objects of a manifest file as check sees them: documents, and the items of List documents.
std::vector<rapidjson::Document> ManifestObjects(const std::string& file) {
  std::vector<rapidjson::Document> objects;
  for (server::YamlDocument& document : server::ParseYamlDocuments(ReadFile(kTestdata / file))) {
    EXPECT_TRUE(document.ok()) << document.ErrorString();
    if (document.empty) continue;
    if (StringOr(document.json, "kind", "") == "List") {
      for (const rapidjson::Value& item : document.json["items"].GetArray()) {
        objects.emplace_back().CopyFrom(item, objects.back().GetAllocator());
      }
    } else {
      objects.push_back(std::move(document.json));
    }
  }
  return objects;
}

// The AdmissionReview the API server would send for creating `object`.
std::string ReviewFor(const rapidjson::Value& object, const Resource& resource) {
  const rapidjson::Value* metadata = object.HasMember("metadata") ? &object["metadata"] : nullptr;
  const std::string ns = metadata ? StringOr(*metadata, "namespace", "default") : "default";
  const std::string name = metadata ? StringOr(*metadata, "name", "") : "";
  return std::string(
             R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{)") +
         R"("uid":"7d9c2b1e-0000-4000-8000-000000000001","kind":{"group":")" +
         std::string(resource.group) + R"(","version":")" + std::string(resource.version) +
         R"(","kind":")" + std::string(resource.kind) + R"("},"resource":{"group":")" +
         std::string(resource.group) + R"(","version":")" + std::string(resource.version) +
         R"(","resource":")" + std::string(resource.resource) + R"("},"namespace":")" + ns +
         R"(","name":")" + name +
         R"(","operation":"CREATE","userInfo":{"username":"alice"},"object":)" + Compact(object) +
         "}}";
}

const Resource* ResourceOf(const rapidjson::Value& object) {
  const std::string kind = StringOr(object, "kind", "");
  for (const Resource& resource : kResources) {
    if (resource.kind == kind) return &resource;
  }
  return nullptr;
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str(), text.size());
  EXPECT_FALSE(document.HasParseError()) << text;
  return document;
}

std::string Base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  int bits = 0, buffer = 0;
  for (const char c : text) {
    const int v = value(c);
    if (v < 0) break;  // '=' padding
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

class CheckAgreesWithWebhook : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server::PolicyLoadResult loaded =
        server::LoadPolicyDirectory((kTestdata / "policies").string());
    ASSERT_TRUE(loaded.ok());
    policies_ = loaded.set;
  }
  std::shared_ptr<const policy::PolicySet> policies_;
};

// Same objects, same policies: check's verdict, message and warnings are /validate's.
TEST_P(CheckAgreesWithWebhook, Validate) {
  const std::string file = GetParam();
  const RunResult result = RunPalisade({"check", "--policy-dir", "policies", "-o", "json", file});
  ASSERT_NE(result.exit_code, 2) << result.err;
  const rapidjson::Document report = ParseJson(result.out);
  const rapidjson::Value& checked = report["objects"];
  std::vector<rapidjson::Document> objects = ManifestObjects(file);
  ASSERT_EQ(checked.Size(), objects.size());
  int judged = 0;
  for (rapidjson::SizeType i = 0; i < objects.size(); ++i) {
    const rapidjson::Value& entry = checked[i];
    const Resource* resource = ResourceOf(objects[i]);
    if (resource == nullptr) {
      EXPECT_STREQ(entry["verdict"].GetString(), "skipped");
      continue;
    }
    ++judged;
    const policy::AdmissionResult webhook = policy::Review(
        policy::Endpoint::kValidate, ReviewFor(objects[i], *resource), *policies_, {});
    ASSERT_EQ(webhook.http_status, 200) << webhook.body;
    const rapidjson::Document response = ParseJson(webhook.body);
    const rapidjson::Value& answer = response["response"];
    SCOPED_TRACE(file + " object " + std::to_string(i + 1));
    EXPECT_EQ(entry["allowed"].GetBool(), answer["allowed"].GetBool());
    const std::string message =
        answer.HasMember("status") ? StringOr(answer["status"], "message", "") : "";
    EXPECT_EQ(entry["message"].GetString(), message);
    const std::string no_warnings = "[]";
    EXPECT_EQ(Compact(entry["warnings"]),
              answer.HasMember("warnings") ? Compact(answer["warnings"]) : no_warnings);
    if (answer.HasMember("auditAnnotations")) {
      EXPECT_EQ(Compact(entry["auditAnnotations"]), Compact(answer["auditAnnotations"]));
    }
  }
  EXPECT_GT(judged, 0);
}

// `check --mutate` prints each Pod exactly as /mutate's patch makes it, and judging that output
// gives /validate's verdict on the mutated pod.
TEST_P(CheckAgreesWithWebhook, Mutate) {
  const std::string file = GetParam();
  const RunResult mutated =
      RunPalisade({"check", "--policy-dir", "policies", "--mutate", "-o", "json", file});
  ASSERT_NE(mutated.exit_code, 2) << mutated.err;
  const rapidjson::Document list = ParseJson(mutated.out);
  const rapidjson::Value& items = list["items"];
  std::vector<rapidjson::Document> objects = ManifestObjects(file);
  ASSERT_EQ(items.Size(), objects.size());
  int pods = 0;
  for (rapidjson::SizeType i = 0; i < objects.size(); ++i) {
    if (StringOr(objects[i], "kind", "") != "Pod") continue;
    ++pods;
    SCOPED_TRACE(file + " object " + std::to_string(i + 1));
    const std::string review = ReviewFor(objects[i], kResources[0]);
    const policy::AdmissionResult webhook =
        policy::Review(policy::Endpoint::kMutate, review, *policies_, {});
    const rapidjson::Document response = ParseJson(webhook.body);
    rapidjson::Document expected;
    expected.CopyFrom(objects[i], expected.GetAllocator());
    if (response["response"].HasMember("patch")) {
      const rapidjson::Document patch =
          ParseJson(Base64Decode(response["response"]["patch"].GetString()));
      policy::ApplyPatch(patch, expected);
    }
    EXPECT_EQ(Compact(items[i]), Compact(expected));

    const policy::AdmissionResult validated = policy::Review(
        policy::Endpoint::kValidate, ReviewFor(expected, kResources[0]), *policies_, {});
    const rapidjson::Document answer = ParseJson(validated.body);
    const rapidjson::Value& status = answer["response"];
    // Judge check's own output (already defaulted) without --mutate.
    fs::path scratch =
        fs::path(testing::TempDir()) / ("palisade_cli_item_" + std::to_string(getpid()) + ".json");
    std::ofstream(scratch) << Compact(items[i]);
    const RunResult rejudged =
        RunPalisade({"check", "--policy-dir", "policies", "-o", "json", scratch.string()});
    const rapidjson::Document report = ParseJson(rejudged.out);
    fs::remove(scratch);
    EXPECT_EQ(report["objects"][0]["allowed"].GetBool(), status["allowed"].GetBool());
    EXPECT_EQ(report["objects"][0]["message"].GetString(),
              status.HasMember("status") ? StringOr(status["status"], "message", "") : "");
  }
  EXPECT_GT(pods, 0);
}

INSTANTIATE_TEST_SUITE_P(Files, CheckAgreesWithWebhook,
                         testing::Values("workloads.yaml", "cluster-pods.yaml", "pod.json",
                                         "generated.yaml"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.' || c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace palisade
