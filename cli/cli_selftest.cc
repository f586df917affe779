// `palisade selftest`: what the chart's `helm test` pod runs against the Service. Two reviews
// over TLS verified with the webhooks' CA: a privileged pod to /validate (must be denied with 403)
// and a bare pod to /mutate (must be allowed with a JSONPatch). kube::KubeClient is the HTTPS
// client, so cli/ stays free of Beast.

#include <rapidjson/document.h>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "cli/cli.h"
#include "kube/client.h"
#include "kube/config.h"

namespace palisade::cli {
namespace {

struct SelftestFlags {
  std::string url;
  std::string ca_file;
  std::string ns = "default";
  std::string tls_server_name;
  int timeout_seconds = 10;
};

std::string RandomUid() {
  std::random_device random;
  std::uniform_int_distribution<int> nibble(0, 15);
  std::string uid;
  for (const int group : {8, 4, 4, 4, 12}) {
    if (!uid.empty()) uid += '-';
    for (int i = 0; i < group; ++i) uid += "0123456789abcdef"[nibble(random)];
  }
  return uid;
}

std::string Review(const std::string& uid, const std::string& ns, const std::string& pod_name,
                   const std::string& spec) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":")" +
         uid +
         R"(","kind":{"group":"","version":"v1","kind":"Pod"},)"
         R"("resource":{"group":"","version":"v1","resource":"pods"},"namespace":")" +
         ns + R"(","name":")" + pod_name +
         R"(","operation":"CREATE","userInfo":{"username":"palisade-selftest"},"dryRun":true,)"
         R"("object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":")" +
         pod_name + R"(","namespace":")" + ns + R"("},"spec":)" + spec + "}}}";
}

std::string DecodeBase64(const std::string& text) {
  std::string out;
  int bits = 0;
  std::uint32_t buffer = 0;
  for (const char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else {
      continue;  // padding
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

// One check: sends `review`, reads the AdmissionReview answer. False with *detail on failure.
bool Send(kube::KubeClient& client, const std::string& path, const std::string& uid,
          const std::string& review, rapidjson::Document* answer, std::string* detail) {
  const kube::Response response =
      client.Request("POST", path, review, "application/json", "application/json");
  if (response.status == 0) {
    *detail = "no answer: " + response.error;
    return false;
  }
  if (response.status != 200) {
    *detail = "HTTP " + std::to_string(response.status) + ": " + response.body;
    return false;
  }
  answer->Parse(response.body.c_str());
  if (answer->HasParseError() || !answer->IsObject() || !answer->HasMember("response") ||
      !(*answer)["response"].IsObject()) {
    *detail = "the answer is not an AdmissionReview";
    return false;
  }
  const rapidjson::Value& body = (*answer)["response"];
  if (!body.HasMember("uid") || !body["uid"].IsString() || body["uid"].GetString() != uid) {
    *detail = "the answer's uid is not the request's";
    return false;
  }
  if (!body.HasMember("allowed") || !body["allowed"].IsBool()) {
    *detail = "the answer has no `allowed`";
    return false;
  }
  return true;
}

bool CheckValidate(kube::KubeClient& client, const SelftestFlags& flags) {
  const std::string uid = RandomUid();
  const std::string review =
      Review(uid, flags.ns, "palisade-selftest-privileged",
             R"({"containers":[{"name":"main","image":"registry.k8s.io/pause:3.9",)"
             R"("securityContext":{"privileged":true}}]})");
  rapidjson::Document answer;
  std::string detail;
  bool pass = Send(client, "/validate", uid, review, &answer, &detail);
  if (pass) {
    const rapidjson::Value& response = answer["response"];
    const bool allowed = response["allowed"].GetBool();
    int code = 0;
    std::string message;
    if (response.HasMember("status") && response["status"].IsObject()) {
      const rapidjson::Value& status = response["status"];
      if (status.HasMember("code") && status["code"].IsInt()) code = status["code"].GetInt();
      if (status.HasMember("message") && status["message"].IsString()) {
        message = status["message"].GetString();
      }
    }
    pass = !allowed && code == 403;
    detail = allowed ? "a privileged pod was allowed (is namespace " + flags.ns + " privileged?)"
                     : "denied with " + std::to_string(code) + ": " + message;
  }
  std::cout << "validate: " << (pass ? "PASS" : "FAIL") << " (" << detail << ")\n";
  return pass;
}

bool CheckMutate(kube::KubeClient& client, const SelftestFlags& flags) {
  const std::string uid = RandomUid();
  const std::string review = Review(uid, flags.ns, "palisade-selftest-bare",
                                    R"({"containers":[{"name":"main",)"
                                    R"("image":"registry.k8s.io/pause:3.9"}]})");
  rapidjson::Document answer;
  std::string detail;
  bool pass = Send(client, "/mutate", uid, review, &answer, &detail);
  if (pass) {
    const rapidjson::Value& response = answer["response"];
    rapidjson::Document patch;
    if (response.HasMember("patch") && response["patch"].IsString()) {
      patch.Parse(DecodeBase64(response["patch"].GetString()).c_str());
    }
    const bool patched = !patch.HasParseError() && patch.IsArray() && !patch.Empty();
    pass = response["allowed"].GetBool() && patched;
    if (!response["allowed"].GetBool()) {
      detail = "a bare pod was not allowed";
    } else if (!patched) {
      detail = "allowed without a JSONPatch (does namespace " + flags.ns + " set defaults?)";
    } else {
      detail = "allowed with " + std::to_string(patch.Size()) + " patch operation" +
               (patch.Size() == 1 ? "" : "s");
    }
  }
  std::cout << "mutate: " << (pass ? "PASS" : "FAIL") << " (" << detail << ")\n";
  return pass;
}

int Selftest(const SelftestFlags& flags) {
  kube::ClusterConfig config;
  config.server = flags.url;
  config.tls_server_name = flags.tls_server_name;
  std::string error;
  if (!kube::ParseServerUrl(&config, &error)) {
    std::cerr << "palisade selftest: --url: " << error << "\n";
    return 2;
  }
  std::ifstream ca(flags.ca_file, std::ios::binary);
  std::ostringstream pem;
  pem << ca.rdbuf();
  config.ca_pem = pem.str();
  if (!ca || config.ca_pem.empty()) {
    std::cerr << "palisade selftest: cannot read --ca-file " << flags.ca_file << "\n";
    return 2;
  }
  kube::ClientOptions options;
  options.user_agent = "palisade-selftest";
  options.connect_timeout = std::chrono::seconds(flags.timeout_seconds);
  options.request_timeout = std::chrono::seconds(flags.timeout_seconds);
  options.max_retries = 0;
  std::unique_ptr<kube::KubeClient> client = kube::KubeClient::Create(config, &error, options);
  if (client == nullptr) {
    std::cerr << "palisade selftest: " << error << "\n";
    return 2;
  }
  std::cout << "palisade selftest against " << flags.url << " (namespace " << flags.ns << ")\n";
  const bool validate = CheckValidate(*client, flags);
  const bool mutate = CheckMutate(*client, flags);
  return validate && mutate ? 0 : 1;
}

}  // namespace

void RegisterSelftestCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<SelftestFlags>();
  CLI::App* command = app.add_subcommand(
      "selftest",
      "Check a running server: a privileged pod must be denied by /validate and a bare pod "
      "patched by /mutate (exit 0 pass, 1 fail, 2 usage)");
  command->add_option("--url", flags->url, "The server's base URL (https://host:port)")->required();
  command->add_option("--ca-file", flags->ca_file, "PEM CA that signed the serving certificate")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--namespace", flags->ns, "Namespace named in the reviews")
      ->capture_default_str();
  command->add_option("--tls-server-name", flags->tls_server_name,
                      "Name to verify in the certificate (default: the URL's host)");
  command->add_option("--timeout-seconds", flags->timeout_seconds, "Per request")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  command->callback([flags, exit_code] { *exit_code = Selftest(*flags); });
}

}  // namespace palisade::cli
