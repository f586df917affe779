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

bool IsPolicyFileName(const std::string& name) {
  if (name.starts_with("..")) return false;  // kubelet's ..data and timestamped dirs
  for (const char* ext : {".yaml", ".yml", ".json"}) {
    if (name.ends_with(ext)) return true;
  }
  return false;
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

// Names and contents of the policy files (symlinks followed): equal fingerprints mean nothing to
// reload, so repeated events and re-scans stay quiet.
std::string PolicyWatcher::Fingerprint() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (IsPolicyFileName(name)) names.push_back(name);
  }
  if (ec) return "error:" + ec.message();
  std::sort(names.begin(), names.end());
  std::string fingerprint;
  for (const std::string& name : names) {
    std::ifstream in(directory_ + "/" + name, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    const std::string bytes = content.str();
    fingerprint += name + ":" + std::to_string(bytes.size()) + ":" +
                   std::to_string(std::hash<std::string>{}(bytes)) + "\n";
  }
  return fingerprint;
}

bool PolicyWatcher::LoadNow() {
  std::lock_guard<std::mutex> lock(load_mutex_);
  const std::string fingerprint = Fingerprint();
  if (loaded_once_ && fingerprint == last_fingerprint_) return store_.Get() != nullptr;
  loaded_once_ = true;
  last_fingerprint_ = fingerprint;

  auto result = LoadPolicyDirectory(directory_);
  const std::shared_ptr<const policy::PolicySet> old_set = store_.Get();
  if (result.set != nullptr) {
    const std::vector<policy::PolicyChange> changes =
        policy::DiffPolicySets(old_set.get(), result.set.get());
    store_.Set(result.set);
    metrics_.RecordPolicyReload(true);
    std::map<std::string, std::string> revisions;
    for (const policy::NamespacePolicy& p : result.set->policies()) revisions[p.name] = p.revision;
    metrics_.SetPolicyInfo(revisions);
    for (const policy::PolicyChange& change : changes) {
      logger_.Info(change.ToString(),
                   {{"event", "policy_change"},
                    {"change", std::string(policy::PolicyChangeKindName(change.kind))},
                    {"policy", change.policy},
                    {"old_revision", change.old_revision},
                    {"new_revision", change.new_revision}});
    }
    logger_.Info("policies loaded", {{"directory", directory_},
                                     {"policies", static_cast<std::int64_t>(revisions.size())},
                                     {"changes", static_cast<std::int64_t>(changes.size())}});
  } else {
    metrics_.RecordPolicyReload(false);
    for (const policy::PolicyError& error : result.errors) {
      logger_.Error(error.ToString(), {{"event", "policy_error"},
                                       {"file", error.file},
                                       {"document", error.document_index},
                                       {"field", error.field},
                                       {"reason", error.reason}});
    }
    logger_.Error(
        old_set != nullptr ? "policy reload failed; keeping the last good set"
                           : "no valid policy set; not ready",
        {{"directory", directory_}, {"errors", static_cast<std::int64_t>(result.errors.size())}});
  }
  {
    std::lock_guard<std::mutex> count_lock(count_mutex_);
    ++loads_;
  }
  count_changed_.notify_all();
  return store_.Get() != nullptr;
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
