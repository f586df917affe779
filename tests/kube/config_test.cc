#include "kube/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "tests/support/test_files.h"

namespace palisade::kube {
namespace {

using test::TempDir;

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

std::string Base64(const std::string& text) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i + 1 == text.size()) {
    const unsigned n = static_cast<unsigned char>(text[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    const unsigned n = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() + "/ca.crt") << kCaPem;
    std::ofstream(dir_.path() + "/client.crt") << kCertPem;
    std::ofstream(dir_.path() + "/client.key") << kKeyPem;
    std::ofstream(dir_.path() + "/token") << "file-token\n";
  }

  // A kubeconfig with one cluster, one user and one context, from their YAML bodies.
  std::string Write(const std::string& cluster, const std::string& user,
                    const std::string& extra = "current-context: main\n") {
    const std::string path = dir_.path() + "/kubeconfig";
    std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                        << cluster << "users:\n- name: u\n  user:\n"
                        << user
                        << "contexts:\n- name: main\n  context: {cluster: c, user: u, "
                           "namespace: team}\n- name: other\n  context: {cluster: c, user: u}\n"
                        << extra;
    return path;
  }

  TempDir dir_;
};

TEST_F(KubeconfigTest, TokenAndCaFileRelativeToTheKubeconfig) {
  std::string error;
  const auto config =
      LoadKubeconfig(Write("    server: https://10.0.0.1:6443\n    certificate-authority: ca.crt\n",
                           "    token: abc\n"),
                     &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->host, "10.0.0.1");
  EXPECT_EQ(config->port, "6443");
  EXPECT_EQ(config->path_prefix, "");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->token, "abc");
  EXPECT_EQ(config->token_file, "");
  EXPECT_EQ(config->default_namespace, "team");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, TokenFileIsKeptAsAPathToReRead) {
  std::string error;
  const auto config = LoadKubeconfig(
      Write("    server: https://api.example.com\n", "    tokenFile: token\n"), &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->token_file, dir_.path() + "/token");
  EXPECT_EQ(config->port, "443");
  EXPECT_EQ(config->ca_pem, "");  // the system's roots
}

TEST_F(KubeconfigTest, ClientCertificateFiles) {
  std::string error;
  const auto config = LoadKubeconfig(
      Write("    server: https://h:1\n    certificate-authority: " + dir_.path() + "/ca.crt\n",
            "    client-certificate: client.crt\n    client-key: " + dir_.path() + "/client.key\n"),
      &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
  EXPECT_EQ(config->token, "");
}

TEST_F(KubeconfigTest, InlineDataFields) {
  std::string error;
  const auto config = LoadKubeconfig(
      Write("    server: https://h:1\n    certificate-authority-data: " + Base64(kCaPem) + "\n",
            "    client-certificate-data: " + Base64(kCertPem) +
                "\n    client-key-data: " + Base64(kKeyPem) + "\n"),
      &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
}

TEST_F(KubeconfigTest, InsecureAndPathPrefixAndNamedContext) {
  std::string error;
  const auto config =
      LoadKubeconfig(Write("    server: https://[fd00::1]:8443/k8s/clusters/c-1/\n"
                           "    insecure-skip-tls-verify: true\n    tls-server-name: api\n",
                           "    token: t\n"),
                     &error, "other");
  ASSERT_TRUE(config) << error;
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->host, "fd00::1");
  EXPECT_EQ(config->port, "8443");
  EXPECT_EQ(config->path_prefix, "/k8s/clusters/c-1");
  EXPECT_EQ(config->tls_server_name, "api");
  EXPECT_EQ(config->default_namespace, "default");  // context "other" names none
}

struct BadKubeconfig {
  const char* name;
  std::string cluster;
  std::string user;
  std::string extra;
  std::string error;  // a part of the message
};

TEST_F(KubeconfigTest, ErrorsSayWhatIsWrong) {
  const std::string ok_cluster = "    server: https://h:1\n";
  const std::vector<BadKubeconfig> cases = {
      {"no current context", ok_cluster, "    token: t\n", "\n", "current-context is not set"},
      {"unknown context", ok_cluster, "    token: t\n", "current-context: nope\n",
       "context \"nope\" not found"},
      {"no server", "    insecure-skip-tls-verify: true\n", "    token: t\n",
       "current-context: main\n", "cluster \"c\" has no server"},
      {"plain http", "    server: http://h:1\n", "    token: t\n", "current-context: main\n",
       "must be an https:// URL"},
      {"bad port", "    server: https://h:99999\n", "    token: t\n", "current-context: main\n",
       "port between 1 and 65535"},
      {"missing CA file", "    server: https://h:1\n    certificate-authority: none.crt\n",
       "    token: t\n", "current-context: main\n", "certificate-authority: cannot read"},
      {"bad base64", "    server: https://h:1\n    certificate-authority-data: '@@@'\n",
       "    token: t\n", "current-context: main\n",
       "certificate-authority-data is not valid base64"},
      {"CA and insecure",
       "    server: https://h:1\n    certificate-authority: ca.crt\n"
       "    insecure-skip-tls-verify: true\n",
       "    token: t\n", "current-context: main\n", "insecure-skip-tls-verify together"},
      {"certificate without key", ok_cluster, "    client-certificate: client.crt\n",
       "current-context: main\n", "client-certificate and client-key go together"},
      {"exec plugin", ok_cluster, "    exec: {command: aws, apiVersion: v1}\n",
       "current-context: main\n", "exec and auth-provider plugins are not supported"},
      {"missing token file", ok_cluster, "    tokenFile: /nonexistent/token\n",
       "current-context: main\n", "tokenFile: cannot read /nonexistent/token"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(LoadKubeconfig(Write(c.cluster, c.user, c.extra), &error)) << c.name;
    EXPECT_NE(error.find(c.error), std::string::npos) << c.name << ": " << error;
    EXPECT_NE(error.find("kubeconfig " + dir_.path()), std::string::npos)
        << c.name << ": " << error;
  }
}

TEST_F(KubeconfigTest, MissingFileAndBrokenYaml) {
  std::string error;
  EXPECT_FALSE(LoadKubeconfig(dir_.path() + "/absent", &error));
  EXPECT_NE(error.find("kubeconfig " + dir_.path() + "/absent"), std::string::npos) << error;
  std::ofstream(dir_.path() + "/broken") << "clusters: [\n";
  EXPECT_FALSE(LoadKubeconfig(dir_.path() + "/broken", &error));
  EXPECT_NE(error.find("broken"), std::string::npos) << error;
}

class InClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    paths_.token_file = dir_.path() + "/token";
    paths_.ca_file = dir_.path() + "/ca.crt";
    paths_.namespace_file = dir_.path() + "/namespace";
    std::ofstream(paths_.token_file) << "sa-token";
    std::ofstream(paths_.ca_file) << kCaPem;
    std::ofstream(paths_.namespace_file) << "palisade-system";
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  }
  void TearDown() override {
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
  }
  TempDir dir_;
  InClusterPaths paths_;
};

TEST_F(InClusterTest, ServiceAccountFilesAndEnvironment) {
  std::string error;
  const auto config = InClusterConfig(&error, paths_);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->host, "10.96.0.1");
  EXPECT_EQ(config->port, "443");
  EXPECT_EQ(config->token_file, paths_.token_file);
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->default_namespace, "palisade-system");
}

TEST_F(InClusterTest, Ipv6ServiceHost) {
  setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
  std::string error;
  const auto config = InClusterConfig(&error, paths_);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->server, "https://[fd00:10:96::1]:443");
  EXPECT_EQ(config->host, "fd00:10:96::1");
}

TEST_F(InClusterTest, NotInACluster) {
  unsetenv("KUBERNETES_SERVICE_HOST");
  std::string error;
  EXPECT_FALSE(InClusterConfig(&error, paths_));
  EXPECT_NE(error.find("KUBERNETES_SERVICE_HOST"), std::string::npos) << error;
}

TEST_F(InClusterTest, MissingTokenOrCa) {
  std::string error;
  InClusterPaths no_token = paths_;
  no_token.token_file = dir_.path() + "/absent";
  EXPECT_FALSE(InClusterConfig(&error, no_token));
  EXPECT_NE(error.find("service account token"), std::string::npos) << error;
  InClusterPaths no_ca = paths_;
  no_ca.ca_file = dir_.path() + "/absent";
  EXPECT_FALSE(InClusterConfig(&error, no_ca));
  EXPECT_NE(error.find("service account CA"), std::string::npos) << error;
}

}  // namespace
}  // namespace palisade::kube
