#include "cli/dev_mode.h"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "server/certificates.h"

namespace palisade::cli {
using namespace palisade::server;  // NOLINT: the commands are built on the server library

namespace {

bool WriteFile(const std::string& path, std::string_view content, std::string* error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace

std::optional<DevEnvironment> PrepareDevEnvironment(std::string* error) {
  if (EmbeddedPolicyFiles().empty()) {
    *error = "this binary was built without example policies (deploy/policies/*.yaml)";
    return std::nullopt;
  }
  std::error_code ec;
  const std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
  std::string pattern =
      (ec ? std::filesystem::path("/tmp") : temp).string() + "/palisade-dev-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    *error = "cannot create a temporary directory from " + pattern;
    return std::nullopt;
  }
  DevEnvironment environment;
  environment.directory = pattern;
  environment.cert_file = pattern + "/tls.crt";
  environment.key_file = pattern + "/tls.key";
  environment.policy_dir = pattern + "/policies";

  CertificateRequest request;
  request.common_name = "localhost";
  request.dns_names = {"localhost"};
  request.ip_addresses = {"127.0.0.1", "::1"};
  request.valid_days = 30;
  request.serial = static_cast<long>(std::time(nullptr));
  const std::optional<IssuedCertificate> issued = IssueCertificate(request, nullptr, error);
  bool ok = issued.has_value() && WriteFile(environment.cert_file, issued->cert_pem, error) &&
            WriteFile(environment.key_file, issued->key_pem, error);
  if (ok) {
    std::filesystem::create_directory(environment.policy_dir, ec);
    if (ec) {
      *error = "cannot create " + environment.policy_dir + ": " + ec.message();
      ok = false;
    }
  }
  for (const auto& [name, content] : EmbeddedPolicyFiles()) {
    if (!ok) break;
    ok = WriteFile(environment.policy_dir + "/" + std::string(name), content, error);
  }
  if (!ok) {
    RemoveDevEnvironment(environment);
    return std::nullopt;
  }
  return environment;
}

void RemoveDevEnvironment(const DevEnvironment& environment) {
  std::error_code ignored;
  if (!environment.directory.empty()) std::filesystem::remove_all(environment.directory, ignored);
}

std::string DevRequestExample(std::uint16_t port) {
  return "curl -sk https://127.0.0.1:" + std::to_string(port) +
         "/validate -H 'Content-Type: application/json' --data-binary @- <<'EOF'\n"
         R"({
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
    "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"},
    "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
    "requestResource": {"group": "", "version": "v1", "resource": "pods"},
    "name": "debug",
    "namespace": "default",
    "operation": "CREATE",
    "userInfo": {"username": "jane@example.com", "groups": ["system:authenticated"]},
    "object": {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {"name": "debug", "namespace": "default"},
      "spec": {
        "hostNetwork": true,
        "containers": [{
          "name": "shell",
          "image": "busybox:1.36",
          "securityContext": {"privileged": true, "allowPrivilegeEscalation": true}
        }]
      }
    },
    "oldObject": null,
    "dryRun": false,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
  }
}
EOF
)";
}

}  // namespace palisade::cli
