#pragma once

// Where the API server is and how to prove who we are: from a kubeconfig file (its current
// context, or a named one) or from the pod's service account (in-cluster). Files named by a
// kubeconfig are read here, except the token file, which the client re-reads as it rotates.

#include <optional>
#include <string>

namespace palisade::kube {

struct ClusterConfig {
  std::string server;           // as given: https://host[:port][/prefix]
  std::string host;             // parsed from `server` (brackets removed from IPv6 addresses)
  std::string port;             // "443" when the URL has none
  std::string path_prefix;      // "" or "/prefix" (no trailing slash), put before every API path
  std::string tls_server_name;  // SNI and name to verify; "" means `host`
  std::string ca_pem;           // trusted CAs; "" means the system's roots
  std::string client_cert_pem;  // client certificate chain and key, both or neither
  std::string client_key_pem;
  std::string token;       // a fixed bearer token
  std::string token_file;  // a bearer token re-read as it rotates (wins over `token`)
  bool insecure_skip_tls_verify = false;
  std::string default_namespace;  // the context's namespace, or the pod's; "default" otherwise
};

// Fills host, port and path_prefix from `server`; false with `*error` on a malformed URL (only
// https, since credentials travel with every request).
bool ParseServerUrl(ClusterConfig* config, std::string* error);

// A kubeconfig file: the given context, or `current-context`. Relative file paths in it are
// resolved against the kubeconfig's folder, as kubectl does. Exec and auth-provider plugins are
// refused with a clear error (not supported).
std::optional<ClusterConfig> LoadKubeconfig(const std::string& path, std::string* error,
                                            const std::string& context = "");

// The files a pod's service account mount holds; overridable for tests.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// The in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT from the
// environment, the CA and namespace read now, the token file re-read by the client.
std::optional<ClusterConfig> InClusterConfig(std::string* error, const InClusterPaths& paths = {});

}  // namespace palisade::kube
