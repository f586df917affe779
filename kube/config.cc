#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace palisade::kube {
namespace {

bool ReadWholeFile(const std::string& path, std::string* content, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *content = text.str();
  return true;
}

// Standard base64 as kubeconfig -data fields hold it; whitespace is skipped.
bool DecodeBase64(const std::string& text, std::string* out) {
  out->clear();
  unsigned value = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : text) {
    int digit;
    if (c >= 'A' && c <= 'Z') {
      digit = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      digit = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      digit = c - '0' + 52;
    } else if (c == '+') {
      digit = 62;
    } else if (c == '/') {
      digit = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return false;
    }
    if (padding > 0) return false;  // data after padding
    value = (value << 6) | static_cast<unsigned>(digit);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((value >> bits) & 0xff));
    }
  }
  return padding <= 2 && bits < 6;
}

std::string Text(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  if (!value || !value.IsScalar()) return "";
  return value.as<std::string>();
}

// The entry of `list` (clusters, users, contexts) named `name`, and its `field` map.
YAML::Node Named(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const YAML::Node& entry : list) {
    if (entry.IsMap() && Text(entry, "name") == name) return entry[field];
  }
  return YAML::Node();
}

std::string Resolve(const std::string& path, const std::filesystem::path& base) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (base / path).string();
}

// A PEM from `<key>-data` (base64) or the file `<key>`; "" when neither is set.
bool PemField(const YAML::Node& node, const std::string& key, const std::filesystem::path& base,
              const std::string& what, std::string* pem, std::string* error) {
  const std::string data = Text(node, (key + "-data").c_str());
  if (!data.empty()) {
    if (!DecodeBase64(data, pem)) {
      *error = what + ": " + key + "-data is not valid base64";
      return false;
    }
    return true;
  }
  const std::string file = Text(node, key.c_str());
  if (file.empty()) return true;
  if (!ReadWholeFile(Resolve(file, base), pem, error)) {
    *error = what + ": " + key + ": " + *error;
    return false;
  }
  return true;
}

}  // namespace

bool ParseServerUrl(ClusterConfig* config, std::string* error) {
  const std::string& url = config->server;
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) {
    *error = "server \"" + url + "\" must be an https:// URL";
    return false;
  }
  std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.find_first_of("?#") != std::string::npos) {
    *error = "server \"" + url + "\" must not have a query or fragment";
    return false;
  }
  std::string host, port = "443";
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = "server \"" + url + "\": unclosed [ in the IPv6 address";
      return false;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        *error = "server \"" + url + "\": unexpected text after the IPv6 address";
        return false;
      }
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      port.size() > 5 || std::stoi(port) == 0 || std::stoi(port) > 65535) {
    *error = "server \"" + url + "\" needs a host and a port between 1 and 65535";
    return false;
  }
  config->host = host;
  config->port = port;
  config->path_prefix = prefix;
  return true;
}

std::optional<ClusterConfig> LoadKubeconfig(const std::string& path, std::string* error,
                                            const std::string& context_name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    *error = "kubeconfig " + path + ": " + e.what();
    return std::nullopt;
  }
  const std::string where = "kubeconfig " + path;
  if (!root.IsMap()) {
    *error = where + ": not a kubeconfig (expected a mapping)";
    return std::nullopt;
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  const std::string name = context_name.empty() ? Text(root, "current-context") : context_name;
  if (name.empty()) {
    *error = where + ": current-context is not set";
    return std::nullopt;
  }
  const YAML::Node context = Named(root["contexts"], name, "context");
  if (!context || !context.IsMap()) {
    *error = where + ": context \"" + name + "\" not found";
    return std::nullopt;
  }
  const std::string cluster_name = Text(context, "cluster");
  const std::string user_name = Text(context, "user");
  const YAML::Node cluster = Named(root["clusters"], cluster_name, "cluster");
  if (!cluster || !cluster.IsMap()) {
    *error = where + ": cluster \"" + cluster_name + "\" of context \"" + name + "\" not found";
    return std::nullopt;
  }

  ClusterConfig config;
  config.default_namespace = Text(context, "namespace");
  if (config.default_namespace.empty()) config.default_namespace = "default";
  const std::string cluster_what = where + ": cluster \"" + cluster_name + "\"";
  config.server = Text(cluster, "server");
  if (config.server.empty()) {
    *error = cluster_what + " has no server";
    return std::nullopt;
  }
  std::string url_error;
  if (!ParseServerUrl(&config, &url_error)) {
    *error = cluster_what + ": " + url_error;
    return std::nullopt;
  }
  config.tls_server_name = Text(cluster, "tls-server-name");
  config.insecure_skip_tls_verify = Text(cluster, "insecure-skip-tls-verify") == "true";
  if (!PemField(cluster, "certificate-authority", base, cluster_what, &config.ca_pem, error)) {
    return std::nullopt;
  }
  if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
    *error = cluster_what + ": certificate-authority and insecure-skip-tls-verify together";
    return std::nullopt;
  }
  if (!Text(cluster, "proxy-url").empty()) {
    *error = cluster_what + ": proxy-url is not supported";
    return std::nullopt;
  }

  if (user_name.empty()) return config;  // anonymous
  const YAML::Node user = Named(root["users"], user_name, "user");
  const std::string user_what = where + ": user \"" + user_name + "\"";
  if (!user || !user.IsMap()) {
    *error = user_what + " of context \"" + name + "\" not found";
    return std::nullopt;
  }
  if (user["exec"] || user["auth-provider"]) {
    *error = user_what + ": exec and auth-provider plugins are not supported; use token, " +
             "tokenFile or client-certificate";
    return std::nullopt;
  }
  if (!Text(user, "username").empty() || !Text(user, "password").empty()) {
    *error = user_what + ": basic authentication is not supported";
    return std::nullopt;
  }
  config.token = Text(user, "token");
  config.token_file = Resolve(Text(user, "tokenFile"), base);
  if (!config.token_file.empty()) {
    std::string ignored;
    if (!ReadWholeFile(config.token_file, &ignored, error)) {
      *error = user_what + ": tokenFile: " + *error;
      return std::nullopt;
    }
  }
  if (!PemField(user, "client-certificate", base, user_what, &config.client_cert_pem, error) ||
      !PemField(user, "client-key", base, user_what, &config.client_key_pem, error)) {
    return std::nullopt;
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    *error = user_what + ": client-certificate and client-key go together (one is missing)";
    return std::nullopt;
  }
  return config;
}

std::optional<ClusterConfig> InClusterConfig(std::string* error, const InClusterPaths& paths) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    *error =
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "must be set";
    return std::nullopt;
  }
  ClusterConfig config;
  const std::string host_text = host;
  const bool ipv6 = host_text.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + host_text + "]" : host_text) + ":" + port;
  std::string url_error;
  if (!ParseServerUrl(&config, &url_error)) {
    *error = "in-cluster config: " + url_error;
    return std::nullopt;
  }
  std::string token;
  if (!ReadWholeFile(paths.token_file, &token, error)) {
    *error = "in-cluster config: service account token: " + *error;
    return std::nullopt;
  }
  config.token_file = paths.token_file;
  if (!ReadWholeFile(paths.ca_file, &config.ca_pem, error)) {
    *error = "in-cluster config: service account CA: " + *error;
    return std::nullopt;
  }
  std::string ns;
  if (ReadWholeFile(paths.namespace_file, &ns, error)) {
    while (!ns.empty() && (ns.back() == '\n' || ns.back() == ' ')) ns.pop_back();
  }
  error->clear();
  config.default_namespace = ns.empty() ? "default" : ns;
  return config;
}

}  // namespace palisade::kube
