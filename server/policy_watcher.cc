#include "server/policy_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "policy/policy_changes.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/policy_loader.h"
#include "server/policy_store.h"

namespace palisade::server {
namespace {

constexpr std::uint32_t kWatchMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                     IN_CLOSE_WRITE | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF |
                                     IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR;

// Names and contents of the policy files: equal fingerprints mean nothing to reload, so repeated
// events and re-scans stay quiet.
std::string Fingerprint(const PolicySource& source) {
  std::string fingerprint = source.error;
  for (const PolicyFile& file : source.files) {
    fingerprint += file.name + ":" + std::to_string(file.text.size()) + ":" +
                   std::to_string(std::hash<std::string>{}(file.text)) + ":" + file.error + "\n";
  }
  return fingerprint;
}

}  // namespace

PolicyWatcher::PolicyWatcher(std::string directory, PolicyStore& store, Metrics& metrics,
                             Logger& logger, PolicyWatcherOptions options)
    : directory_(std::move(directory)),
      store_(store),
      metrics_(metrics),
      logger_(logger),
      options_(options) {}

PolicyWatcher::~PolicyWatcher() { Stop(); }

bool PolicyWatcher::LoadNow() {
  std::lock_guard<std::mutex> lock(load_mutex_);
  LoadLocked();
  return store_.Get() != nullptr;
}

std::vector<policy::PolicyError> PolicyWatcher::SetConfigMapSource(PolicySource source) {
  std::lock_guard<std::mutex> lock(load_mutex_);
  configmaps_ = std::move(source);
  std::optional<PolicyLoadResult> result = LoadLocked();
  return result ? std::move(result->errors) : std::vector<policy::PolicyError>{};
}

void PolicyWatcher::SetNamespaceLabels(std::shared_ptr<const policy::NamespaceLabelTable> labels) {
  std::lock_guard<std::mutex> lock(load_mutex_);
  labels_ = std::move(labels);
  PublishLocked();
}

void PolicyWatcher::PublishLocked() {
  if (base_ == nullptr) return;
  store_.Set(labels_ ? base_->WithNamespaceLabels(labels_) : base_);
}

std::optional<PolicyLoadResult> PolicyWatcher::LoadLocked() {
  // Until the ConfigMaps are listed, the directory alone would serve a set missing policies.
  if (options_.configmap_source && !configmaps_) return std::nullopt;
  PolicySource source;
  if (!directory_.empty()) {
    source = ReadPolicyDirectory(directory_);
    if (!source.error.empty()) source.error = directory_ + ": " + source.error;
  }
  if (configmaps_ && source.error.empty()) {
    source.files.insert(source.files.end(), configmaps_->files.begin(), configmaps_->files.end());
  }
  const std::string fingerprint = Fingerprint(source);
  if (loaded_once_ && fingerprint == last_fingerprint_) return std::nullopt;
  loaded_once_ = true;
  last_fingerprint_ = fingerprint;
  const std::string where = directory_.empty() ? std::string("configmaps") : directory_;

  const std::shared_ptr<const policy::PolicySet> old_set = base_;
  PolicyLoadResult result = BuildPolicies(source, old_set.get());
  for (const policy::PolicyError& error : result.errors) {
    // Documents count from 1 here as in the text (PolicyError::ToString).
    std::vector<LogField> fields = {{"event", "policy_error"}, {"file", error.file}};
    if (error.document_index >= 0) fields.emplace_back("document", error.document_index + 1);
    fields.emplace_back("field", error.field);
    fields.emplace_back("reason", error.reason);
    if (error.warning) {
      logger_.Warn(error.ToString(), fields);
    } else {
      logger_.Error(error.ToString(), fields);
    }
  }
  metrics_.RecordPolicyReload(result.ok());
  if (result.set == nullptr) {
    logger_.Error(old_set != nullptr ? "policy source unreadable; keeping the last set"
                                     : "policy source unreadable; not ready",
                  {{"directory", where}});
  } else {
    const std::vector<policy::PolicyChange> changes =
        policy::DiffPolicySets(old_set.get(), result.set.get());
    base_ = result.set;
    PublishLocked();
    std::map<std::string, std::string> revisions;
    for (const policy::NamespacePolicy& p : result.set->policies()) revisions[p.name] = p.revision;
    metrics_.SetPolicyInfo(revisions);
    metrics_.SetExceptionExpiry(ExceptionExpiry(*result.set));
    metrics_.SetPolicyDocumentsInvalid(result.failing.size());
    metrics_.SetPolicySourceEmpty(result.empty_source());
    // Where each policy is (or was) written: a path, or `<configmap>/<key>`.
    std::map<std::string, std::string> files;
    if (old_set != nullptr) {
      for (const policy::NamespacePolicy& p : old_set->policies()) files[p.name] = p.file;
    }
    for (const policy::NamespacePolicy& p : result.set->policies()) files[p.name] = p.file;
    for (const policy::PolicyChange& change : changes) {
      logger_.Info(change.ToString(),
                   {{"event", "policy_change"},
                    {"change", std::string(policy::PolicyChangeKindName(change.kind))},
                    {"policy", change.policy},
                    {"file", files[change.policy]},
                    {"old_revision", change.old_revision},
                    {"new_revision", change.new_revision}});
    }
    for (const policy::FailingDocument& failing : result.failing) {
      logger_.Error(failing.ToString(), {{"event", "policy_invalid"},
                                         {"file", failing.file},
                                         {"document", failing.index + 1},
                                         {"policy", failing.name},
                                         {"kept", failing.kept},
                                         {"refused", failing.refused}});
    }
    if (result.empty_source()) {
      logger_.Warn("no policy documents: every namespace is privileged with no defaults",
                   {{"directory", where}});
    }
    std::vector<LogField> fields = {{"directory", where}};
    if (configmaps_) {
      fields.emplace_back("configmap_files", static_cast<std::int64_t>(configmaps_->files.size()));
    }
    fields.emplace_back("documents", static_cast<std::int64_t>(result.documents));
    fields.emplace_back("policies", static_cast<std::int64_t>(revisions.size()));
    fields.emplace_back("invalid", static_cast<std::int64_t>(result.failing.size()));
    fields.emplace_back("changes", static_cast<std::int64_t>(changes.size()));
    logger_.Info("policies loaded", fields);
  }
  {
    std::lock_guard<std::mutex> count_lock(count_mutex_);
    ++loads_;
  }
  count_changed_.notify_all();
  return result;
}

std::uint64_t PolicyWatcher::loads() const {
  std::lock_guard<std::mutex> lock(count_mutex_);
  return loads_;
}

std::uint64_t PolicyWatcher::WaitForLoad(std::uint64_t seen,
                                         std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(count_mutex_);
  count_changed_.wait_until(lock, deadline, [&] { return loads_ > seen; });
  return loads_;
}

bool PolicyWatcher::Start(std::string* error) {
  if (thread_.joinable()) return true;
  if (directory_.empty()) return true;  // nothing to watch: ConfigMaps come through their watch
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    *error = std::string("policy watcher: eventfd: ") + std::strerror(errno);
    return false;
  }
  // Watch before the thread runs and load once more after: no change can slip in between.
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  watch_ = inotify_fd_ >= 0 ? inotify_add_watch(inotify_fd_, directory_.c_str(), kWatchMask) : -1;
  if (watch_ < 0) {
    logger_.Warn("cannot watch the policy directory; relying on periodic re-scans",
                 {{"directory", directory_}});
  }
  LoadNow();
  thread_ = std::thread([this] { Run(); });
  return true;
}

void PolicyWatcher::Stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) {
    logger_.Warn("cannot wake the policy watcher");
  }
  thread_.join();
  close(stop_fd_);
  stop_fd_ = -1;
}

void PolicyWatcher::Run() {
  using Clock = std::chrono::steady_clock;
  const int inotify_fd = inotify_fd_;
  int& watch = watch_;
  auto add_watch = [&] {
    if (inotify_fd >= 0 && watch < 0) {
      watch = inotify_add_watch(inotify_fd, directory_.c_str(), kWatchMask);
    }
  };
  Clock::time_point next_rescan = Clock::now() + options_.rescan_interval;
  bool pending = false;  // an event arrived; reload at pending_deadline
  Clock::time_point pending_deadline = next_rescan;
  alignas(inotify_event) char events[8192];
  for (;;) {
    const Clock::time_point wake = pending ? std::min(pending_deadline, next_rescan) : next_rescan;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {inotify_fd, POLLIN, 0}};
    const int ready = poll(fds, inotify_fd >= 0 ? 2 : 1,
                           static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) break;
    if (ready > 0 && inotify_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      ssize_t n;
      while ((n = read(inotify_fd, events, sizeof events)) > 0) {
        for (char* p = events; p < events + n;) {
          const auto* event = reinterpret_cast<const inotify_event*>(p);
          if ((event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) watch = -1;
          p += sizeof(inotify_event) + event->len;
        }
      }
      pending = true;
      pending_deadline = Clock::now() + options_.debounce;
      continue;
    }
    const Clock::time_point now = Clock::now();
    if (pending && now >= pending_deadline) {
      pending = false;
      add_watch();
      LoadNow();
    }
    if (now >= next_rescan) {
      next_rescan = now + options_.rescan_interval;
      add_watch();  // the directory may have been replaced
      LoadNow();
    }
  }
  if (inotify_fd >= 0) close(inotify_fd);
  inotify_fd_ = -1;
  watch_ = -1;
}

}  // namespace palisade::server
