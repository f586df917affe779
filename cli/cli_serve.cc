#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.h"
#include "cli/dev_mode.h"
#include "kube/config.h"
#include "server/http_message.h"
#include "server/https_server.h"
#include "server/logging.h"
#include "server/service.h"

namespace palisade::cli {
using namespace palisade::server;  // NOLINT: the commands are built on the server library

namespace {

struct ServeFlags {
  std::string policy_dir;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;
  std::string listen = "0.0.0.0:8443";
  std::string metrics_listen = "0.0.0.0:9090";
  std::string kubernetes_version = "1.31";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string log_level = "info";
  std::string log_format = "json";
  std::string shutdown_grace = "25s";
  std::string shutdown_delay = "2s";
  std::string max_buffered_request_bytes = "64Mi";
  std::vector<std::string> label_guard_admins;  // set (even empty): the guard is on
  bool label_guard = false;
  bool dev = false;
  std::string kubeconfig;
  std::string policy_configmaps;
  std::string watch_namespaces;  // "true", "false" or "" (true when connected)
};

// The cluster connection the flags ask for: none without --kubeconfig, --policy-configmaps or
// --watch-namespaces=true; the in-cluster config without --kubeconfig.
std::optional<ClusterSourceOptions> ClusterFlags(const ServeFlags& flags, std::string* error) {
  const bool connected = !flags.kubeconfig.empty() || !flags.policy_configmaps.empty() ||
                         flags.watch_namespaces == "true";
  if (!connected) return std::nullopt;
  ClusterSourceOptions options;
  std::optional<kube::ClusterConfig> config = flags.kubeconfig.empty()
                                                  ? kube::InClusterConfig(error)
                                                  : kube::LoadKubeconfig(flags.kubeconfig, error);
  if (!config) {
    *error = (flags.kubeconfig.empty() ? "in-cluster config: " : "--kubeconfig: ") + *error;
    return std::nullopt;
  }
  options.cluster = std::move(*config);
  options.policy_namespace = flags.policy_configmaps;
  options.watch_namespaces = flags.watch_namespaces != "false";
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) options.instance = host;
  return options;
}

// "67108864", "65536Ki", "64Mi", "1Gi" (Kubernetes quantity suffixes, binary only).
std::optional<std::size_t> ParseByteSize(const std::string& text) {
  std::size_t digits = 0;
  std::uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (value > (std::uint64_t{1} << 40)) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  const std::string suffix = text.substr(digits);
  int shift = 0;
  if (suffix == "Ki") {
    shift = 10;
  } else if (suffix == "Mi") {
    shift = 20;
  } else if (suffix == "Gi") {
    shift = 30;
  } else if (!suffix.empty()) {
    return std::nullopt;
  }
  if (value > (std::uint64_t{1} << (50 - shift))) return std::nullopt;
  return static_cast<std::size_t>(value << shift);
}

// Every connection is a file descriptor: use all the hard limit allows (the soft limit is often
// 1024, below the connection cap plus the probe port's and the process's own).
void RaiseOpenFileLimit(Logger& logger) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    logger.Debug("raised the open-files limit",
                 {{"from", static_cast<std::int64_t>(before)},
                  {"to", static_cast<std::int64_t>(limit.rlim_max)}});
  }
}

std::optional<std::chrono::milliseconds> ParseFlagDuration(const std::string& text) {
  const auto duration = ParseGoDuration(text);
  if (!duration) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

int Serve(const ServeFlags& flags) {
  const std::optional<LogLevel> level = ParseLogLevel(flags.log_level);
  const std::optional<LogFormat> format = ParseLogFormat(flags.log_format);
  std::string error;
  auto fail = [](const std::string& message) {
    std::cerr << "palisade serve: " << message << "\n";
    return 2;
  };
  if (!level) return fail("--log-level must be debug, info, warn or error");
  if (!format) return fail("--log-format must be json or text");
  const std::optional<int> minor = ParseKubernetesMinor(flags.kubernetes_version);
  if (!minor)
    return fail("--kubernetes-version must look like 1.31, got \"" + flags.kubernetes_version +
                "\"");
  const auto grace = ParseFlagDuration(flags.shutdown_grace);
  if (!grace) return fail("--shutdown-grace must be a duration like 25s");
  const auto delay = ParseFlagDuration(flags.shutdown_delay);
  if (!delay) return fail("--shutdown-delay must be a duration like 2s");
  if (!ParseHostPort(flags.listen, &error)) return fail("--listen " + error);
  if (!ParseHostPort(flags.metrics_listen, &error)) return fail("--metrics-listen " + error);
  if (flags.threads < 1 || flags.threads > 256) return fail("--threads must be from 1 to 256");
  const auto buffered = ParseByteSize(flags.max_buffered_request_bytes);
  // Below the body limit the largest allowed review could never be read.
  if (!buffered || *buffered < ServerOptions{}.body_limit) {
    return fail("--max-buffered-request-bytes must be a size like 64Mi, at least 8Mi");
  }

  ServeOptions options;
  std::optional<DevEnvironment> dev;
  if (flags.dev) {
    if (!flags.policy_dir.empty() || !flags.tls_cert_file.empty() || !flags.tls_key_file.empty()) {
      return fail("--dev makes its own certificate and policies; drop --policy-dir and --tls-*");
    }
    dev = PrepareDevEnvironment(&error);
    if (!dev) return fail("--dev: " + error);
    options.policy_dir = dev->policy_dir;
    options.tls.cert_file = dev->cert_file;
    options.tls.key_file = dev->key_file;
  } else {
    if (flags.policy_dir.empty() && flags.policy_configmaps.empty()) {
      return fail("--policy-dir or --policy-configmaps is required (or use --dev)");
    }
    if (flags.tls_cert_file.empty() || flags.tls_key_file.empty()) {
      return fail("--tls-cert-file and --tls-key-file are required (or use --dev)");
    }
    options.policy_dir = flags.policy_dir;
    options.tls.cert_file = flags.tls_cert_file;
    options.tls.key_file = flags.tls_key_file;
  }
  error.clear();
  options.cluster = ClusterFlags(flags, &error);
  if (!options.cluster && !error.empty()) return fail(error);
  options.tls.client_ca_file = flags.client_ca_file;
  options.server.listen = flags.listen;
  options.server.metrics_listen = flags.metrics_listen;
  options.server.threads = flags.threads;
  options.server.max_buffered_request_bytes = *buffered;
  options.admission.kubernetes_minor = *minor;
  options.admission.label_guard.enabled = flags.label_guard;
  options.admission.label_guard.admins = flags.label_guard_admins;
  options.shutdown_grace = *grace;
  options.shutdown_delay = std::min(*delay, *grace);

  // Signals are taken synchronously by this thread; every other thread inherits the block.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Logger logger(*level, *format);
  logger.HoldLines(true);  // an event loop writes its burst's info lines in one write
  RaiseOpenFileLimit(logger);
  int exit_code = 0;
  {
    AdmissionService service(options, logger);
    if (!service.Start(&error)) {
      if (dev) RemoveDevEnvironment(*dev);
      return fail(error);
    }
    if (dev) {
      std::cout << "palisade is serving the example policies (" << dev->policy_dir
                << ") with a self-signed certificate.\nTry a pod the cluster default denies:\n\n"
                << DevRequestExample(service.port()) << "\n"
                << "Metrics: curl -s http://127.0.0.1:" << service.metrics_port() << "/metrics\n"
                << std::flush;
    }
    int received = 0;
    sigwait(&signals, &received);
    logger.Info("signal received", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
    service.Shutdown();
  }
  if (dev) RemoveDevEnvironment(*dev);
  return exit_code;
}

}  // namespace

std::optional<int> ParseKubernetesMinor(const std::string& text) {
  if (!text.starts_with("1.") || text.size() < 3 || text.size() > 5) return std::nullopt;
  int minor = 0;
  for (char c : text.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    minor = minor * 10 + (c - '0');
  }
  return minor;
}

void RegisterServeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* command = app.add_subcommand("serve", "Serve /validate and /mutate over HTTPS");
  command
      ->add_option("--policy-dir", flags->policy_dir,
                   "Directory of NamespacePolicy YAML/JSON files (a ConfigMap mount works)")
      ->check(CLI::ExistingDirectory);
  command
      ->add_option("--tls-cert-file", flags->tls_cert_file,
                   "PEM certificate chain; reloaded when it changes")
      ->check(CLI::ExistingFile);
  command
      ->add_option("--tls-key-file", flags->tls_key_file,
                   "PEM private key; reloaded with the certificate")
      ->check(CLI::ExistingFile);
  command
      ->add_option("--client-ca-file", flags->client_ca_file,
                   "Require client certificates signed by this CA (PEM)")
      ->check(CLI::ExistingFile);
  command->add_option("--listen", flags->listen, "HTTPS address for /validate and /mutate")
      ->capture_default_str();
  command
      ->add_option("--metrics-listen", flags->metrics_listen,
                   "Plain HTTP address for /metrics, /healthz and /readyz")
      ->capture_default_str();
  command
      ->add_option("--kubernetes-version", flags->kubernetes_version,
                   "The cluster's version X.Y (1.30+ uses the appArmorProfile field)")
      ->capture_default_str();
  command->add_option("--threads", flags->threads, "Event loop threads")->capture_default_str();
  command->add_option("--log-level", flags->log_level, "debug, info, warn or error")
      ->capture_default_str();
  command->add_option("--log-format", flags->log_format, "json or text")->capture_default_str();
  command
      ->add_option("--shutdown-grace", flags->shutdown_grace,
                   "On SIGTERM, the most time given to in-flight requests")
      ->capture_default_str();
  command
      ->add_option("--shutdown-delay", flags->shutdown_delay,
                   "On SIGTERM, how long /readyz fails before the listener closes")
      ->capture_default_str();
  command
      ->add_option("--max-buffered-request-bytes", flags->max_buffered_request_bytes,
                   "Request body bytes held in memory across all connections; a request that "
                   "would go over is answered 503 (suffixes Ki, Mi, Gi)")
      ->capture_default_str();
  command
      ->add_option("--kubeconfig", flags->kubeconfig,
                   "Kubeconfig for the Kubernetes API (its current context); in a pod the "
                   "in-cluster config is used when a flag below needs the API")
      ->check(CLI::ExistingFile);
  command->add_option("--policy-configmaps", flags->policy_configmaps,
                      "Also read policies from ConfigMaps labelled palisade.dev/policy=true in "
                      "this namespace (watched; every .yaml/.yml/.json key is a policy file)");
  command
      ->add_option("--watch-namespaces", flags->watch_namespaces,
                   "Watch Namespaces for their labels (true or false; default: true when "
                   "connected to the API)")
      ->check(CLI::IsMember({"true", "false"}));
  CLI::Option* guard =
      command
          ->add_option("--label-guard-admins", flags->label_guard_admins,
                       "Users and groups (comma-separated) who alone may change a Namespace's "
                       "pod-security.kubernetes.io/* and palisade.dev/* labels; /validate denies "
                       "anyone else's change")
          ->delimiter(',');
  command->add_flag("--dev", flags->dev,
                    "Self-signed certificate for localhost and the example policies; prints a "
                    "request to try");
  command->callback([flags, exit_code, guard] {
    flags->label_guard = guard->count() > 0;
    std::erase(flags->label_guard_admins, std::string());
    *exit_code = Serve(*flags);
  });
}

}  // namespace palisade::cli
