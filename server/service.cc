#include "server/service.h"

#include <filesystem>
#include <thread>

#include "server/logging.h"
#include "server/policy_loader.h"

namespace palisade::server {

ServeOptions AdmissionService::Prepare(ServeOptions options) {
  if (options.cluster && !options.cluster->policy_namespace.empty()) {
    options.watcher.configmap_source = true;
  }
  // ConfigMaps labelled palisade.dev/policy=true are judged by the same validation as lint.
  options.admission.lint_policy_files = [this](const std::vector<policy::PolicyFileText>& files) {
    return LintConfigMap(files);
  };
  return options;
}

std::vector<policy::PolicyError> AdmissionService::LintConfigMap(
    const std::vector<policy::PolicyFileText>& files) const {
  PolicySource source;
  for (const auto& [name, text] : files) source.files.push_back({name, text, ""});
  PolicyLoadResult result = BuildPolicies(source, nullptr);
  const std::shared_ptr<const policy::PolicySet> loaded = policies_.Get();
  if (files.empty() || result.set == nullptr || loaded == nullptr) return result.errors;
  // Files are named `<configmap>/<key>`: what the served set has from this ConfigMap is the old
  // revision of this very object (an UPDATE), not a clash. The directory's files are named
  // `<policy-dir>/<file>`, which may look alike ("policies/a.yaml"); they are never its own.
  const std::string own = files.front().first.substr(0, files.front().first.find('/') + 1);
  const auto from_directory = [&](const std::string& file) {
    return !options_.policy_dir.empty() &&
           (std::filesystem::path(options_.policy_dir) / std::filesystem::path(file).filename())
                   .string() == file;
  };
  std::vector<const policy::NamespacePolicy*> others;
  for (const policy::NamespacePolicy& policy : loaded->policies()) {
    if (!policy.file.starts_with(own) || from_directory(policy.file)) others.push_back(&policy);
  }
  if (others.empty()) return result.errors;
  // Each of this ConfigMap's policies after the loaded ones: a clash is reported on it (the later),
  // naming where the loaded one lives. Clashes among the loaded ones are not this ConfigMap's.
  std::vector<const policy::NamespacePolicy*> added;
  for (const policy::NamespacePolicy& policy : result.set->policies()) added.push_back(&policy);
  policy::ReportConflictsWith(others, added, &result.errors);
  return result.errors;
}

AdmissionService::AdmissionService(ServeOptions options, Logger& logger)
    : options_(Prepare(std::move(options))),
      logger_(logger),
      tls_(options_.tls, &metrics_, &logger_),
      watcher_(options_.policy_dir, policies_, metrics_, logger_, options_.watcher),
      cluster_(options_.cluster ? std::make_unique<ClusterSources>(*options_.cluster, watcher_,
                                                                   metrics_, logger_)
                                : nullptr),
      readiness_(tls_, policies_),
      admission_router_(policies_, options_.admission, metrics_, logger_),
      probe_router_(readiness_, metrics_),
      server_(
          options_.server, tls_, metrics_, logger_,
          [this](const HttpRequest& request) { return admission_router_.Handle(request); },
          [this](const HttpRequest& request) { return probe_router_.Handle(request); }) {}

AdmissionService::~AdmissionService() {
  if (cluster_) cluster_->Stop();
  watcher_.Stop();
  server_.Stop();
}

bool AdmissionService::Start(std::string* error) {
  tls_.ReloadIfChanged();
  if (cluster_) {
    readiness_.SetSourcesCheck([this](std::string* reason) { return cluster_->Ready(reason); });
  }
  if (!watcher_.LoadNow() && !options_.watcher.configmap_source) {
    logger_.Warn("starting without policies: the source cannot be read; /readyz fails until it can",
                 {{"directory", options_.policy_dir}});
  }
  if (!server_.Start(error)) return false;
  if (!watcher_.Start(error)) {
    server_.Stop();
    return false;
  }
  if (cluster_ && !cluster_->Start(error)) {
    watcher_.Stop();
    server_.Stop();
    return false;
  }
  started_ = true;
  logger_.Info("serving", {{"listen", options_.server.listen},
                           {"port", static_cast<int>(server_.port())},
                           {"metrics_listen", options_.server.metrics_listen},
                           {"metrics_port", static_cast<int>(server_.metrics_port())},
                           {"threads", options_.server.threads},
                           {"kubernetes_minor", options_.admission.kubernetes_minor}});
  return true;
}

bool AdmissionService::Shutdown() {
  if (!started_ || stopped_) return true;
  stopped_ = true;
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_grace;
  readiness_.BeginShutdown();
  server_.CloseConnectionsAfterResponse();
  logger_.Info("shutting down: readiness failed, draining",
               {{"delay_ms", static_cast<std::int64_t>(options_.shutdown_delay.count())},
                {"grace_ms", static_cast<std::int64_t>(options_.shutdown_grace.count())}});
  // Deliberate pause: kube-proxy and the API server need time to see the pod unready.
  std::this_thread::sleep_until(
      std::min(deadline, std::chrono::steady_clock::now() + options_.shutdown_delay));
  server_.StopAccepting();
  const bool drained = server_.WaitForConnectionsClosed(deadline);
  if (cluster_) cluster_->Stop();
  watcher_.Stop();
  server_.Stop();
  if (drained) {
    logger_.Info("stopped: every connection closed");
  } else {
    logger_.Warn("stopped at the end of the grace period with connections still open");
  }
  return drained;
}

}  // namespace palisade::server
