#include "server/cluster_sources.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>

#include "kube/object.h"
#include "policy/admission.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/policy_watcher.h"

namespace palisade::server {
namespace {

constexpr std::size_t kMaxEventMessage = 1024;

// FNV-1a: a hash defined by its algorithm, so every replica (any build) derives the same name.
std::uint64_t Fnv1a(std::string_view text, std::uint64_t hash = 14695981039346656037ull) {
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

double UnixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

std::string EventMessage(const PolicyEventInput& input) {
  std::string message = "invalid policy: ";
  for (std::size_t i = 0; i < input.errors.size(); ++i) {
    if (i > 0) message += "; ";
    message += input.errors[i].ToString();
  }
  if (!input.reason_annotation.empty()) message += " (reason: " + input.reason_annotation + ")";
  if (message.size() > kMaxEventMessage) {
    message.resize(kMaxEventMessage - 3);
    message += "...";
  }
  return message;
}

}  // namespace

std::string PolicyEventName(const PolicyEventInput& input) {
  std::vector<std::string> errors;
  for (const policy::PolicyError& error : input.errors) errors.push_back(error.ToString());
  std::sort(errors.begin(), errors.end());
  std::uint64_t hash = Fnv1a(input.uid + "\n" + input.resource_version + "\n");
  for (const std::string& error : errors) hash = Fnv1a(error + "\n", hash);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  // A ConfigMap name is a DNS subdomain of at most 253 characters; keep room for the suffix.
  return input.configmap.substr(0, 200) + ".palisade-" + hex;
}

std::string PolicyEventJson(const PolicyEventInput& input, const std::string& instance,
                            std::chrono::system_clock::time_point now) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const std::string time = Rfc3339(now);
  w.StartObject();
  w.Key("apiVersion");
  w.String("v1");
  w.Key("kind");
  w.String("Event");
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  w.String(PolicyEventName(input));
  w.Key("namespace");
  w.String(input.namespace_);
  w.EndObject();
  w.Key("involvedObject");
  w.StartObject();
  w.Key("apiVersion");
  w.String("v1");
  w.Key("kind");
  w.String("ConfigMap");
  w.Key("namespace");
  w.String(input.namespace_);
  w.Key("name");
  w.String(input.configmap);
  w.Key("uid");
  w.String(input.uid);
  w.Key("resourceVersion");
  w.String(input.resource_version);
  w.EndObject();
  w.Key("type");
  w.String("Warning");
  w.Key("reason");
  w.String("InvalidPolicy");
  w.Key("message");
  w.String(EventMessage(input));
  w.Key("source");
  w.StartObject();
  w.Key("component");
  w.String("palisade");
  if (!instance.empty()) {
    w.Key("host");
    w.String(instance);
  }
  w.EndObject();
  w.Key("firstTimestamp");
  w.String(time);
  w.Key("lastTimestamp");
  w.String(time);
  w.Key("count");
  w.Int(1);
  w.EndObject();
  return buffer.GetString();
}

PolicySource ConfigMapPolicySource(const kube::Snapshot& snapshot) {
  PolicySource source;
  for (const auto& [key, object] : snapshot.objects) {  // one namespace: in name order
    if (object.json == nullptr || !object.json->IsObject()) continue;
    const auto data = object.json->FindMember("data");
    if (data == object.json->MemberEnd() || !data->value.IsObject()) continue;
    std::vector<PolicyFile> files;
    for (const auto& member : data->value.GetObject()) {
      const std::string name(member.name.GetString(), member.name.GetStringLength());
      if (!IsPolicyFileName(name) || !member.value.IsString()) continue;
      files.push_back({object.meta.name + "/" + name,
                       std::string(member.value.GetString(), member.value.GetStringLength()), ""});
    }
    std::sort(files.begin(), files.end(),
              [](const PolicyFile& a, const PolicyFile& b) { return a.name < b.name; });
    for (PolicyFile& file : files) source.files.push_back(std::move(file));
  }
  return source;
}

NamespaceLabelStore::NamespaceLabelStore(OnChange on_change) : on_change_(std::move(on_change)) {
  table_.store(policy::NamespaceLabelTable::Builder().Build());
}

void NamespaceLabelStore::StartList() {
  listing_ = std::make_unique<policy::NamespaceLabelTable::Builder>();
}

void NamespaceLabelStore::Listed(kube::ObjectMeta meta, std::shared_ptr<const rapidjson::Value>) {
  listing_->Set(meta.name, meta.labels);
}

void NamespaceLabelStore::EndList() {
  listed_ = std::move(listing_);
  changes_.clear();  // the list replaces everything
}

bool NamespaceLabelStore::Apply(kube::WatchEvent::Type type, kube::ObjectMeta meta,
                                std::shared_ptr<const rapidjson::Value>) {
  // What the namespace has now, with the changes not yet published.
  std::optional<std::map<std::string, std::string>> now;
  if (const auto change = changes_.find(meta.name); change != changes_.end()) {
    now = change->second;
  } else if (const auto labels = table()->LabelsOf(meta.name)) {
    now.emplace(labels->begin(), labels->end());
  }
  if (type == kube::WatchEvent::Type::kDeleted) {
    if (!now) return false;
    changes_.insert_or_assign(meta.name, std::nullopt);
    return true;
  }
  // A MODIFIED Namespace whose labels stayed (an annotation, a finalizer) changes nothing here.
  if (now && *now == meta.labels) return false;
  changes_.insert_or_assign(meta.name, std::move(meta.labels));
  return true;
}

void NamespaceLabelStore::Publish(const std::string&, std::uint64_t) {
  std::unique_ptr<policy::NamespaceLabelTable::Builder> builder = std::move(listed_);
  if (builder == nullptr)
    builder = std::make_unique<policy::NamespaceLabelTable::Builder>(*table());
  for (const auto& [name, labels] : changes_) {
    if (labels) {
      builder->Set(name, *labels);
    } else {
      builder->Erase(name);
    }
  }
  changes_.clear();
  std::shared_ptr<const policy::NamespaceLabelTable> table = builder->Build();
  builder.reset();  // the working copy goes before anyone resolves the new table
  table_.store(table);
  if (on_change_) on_change_(std::move(table));
}

ClusterSources::ClusterSources(ClusterSourceOptions options, PolicyWatcher& watcher,
                               Metrics& metrics, Logger& logger)
    : options_(std::move(options)), watcher_(watcher), metrics_(metrics), logger_(logger) {}

ClusterSources::~ClusterSources() { Stop(); }

bool ClusterSources::Start(std::string* error) {
  if (client_ != nullptr) return true;
  std::string why;
  client_ = kube::KubeClient::Create(options_.cluster, &why);
  if (client_ == nullptr) {
    *error = "kubernetes client: " + why;
    return false;
  }
  auto reflector_options = [&](const std::string& resource) {
    kube::ReflectorOptions reflector;
    reflector.backoff = options_.backoff;
    reflector.watch_timeout_seconds = options_.watch_timeout_seconds;
    reflector.on_health = [this, resource](const kube::ReflectorHealth& health) {
      OnHealth(resource, health);
    };
    reflector.on_sync = [this, resource](std::chrono::system_clock::time_point when) {
      metrics_.SetKubeLastSync(resource, UnixSeconds(when));
    };
    return reflector;
  };
  if (!options_.policy_namespace.empty()) {
    kube::ReflectorOptions reflector = reflector_options("configmaps");
    reflector.label_selector = std::string(policy::kPolicyConfigMapLabel) + "=true";
    reflector.on_change = [this](std::shared_ptr<const kube::Snapshot> snapshot) {
      OnConfigMaps(snapshot);
    };
    configmaps_ = std::make_unique<kube::Reflector>(
        client_.get(), kube::CollectionPath("v1", "configmaps", options_.policy_namespace),
        std::move(reflector));
  }
  if (options_.watch_namespaces) {
    kube::ReflectorOptions reflector = reflector_options("namespaces");
    reflector.metadata_only = true;  // labels are all that is read: 10k namespaces cost little
    namespace_labels_ = std::make_shared<NamespaceLabelStore>(
        [this](std::shared_ptr<const policy::NamespaceLabelTable> labels) {
          OnNamespaces(std::move(labels));
        });
    reflector.store = namespace_labels_;
    namespaces_ = std::make_unique<kube::Reflector>(
        client_.get(), kube::CollectionPath("v1", "namespaces"), std::move(reflector));
  }
  logger_.Info("connecting to the Kubernetes API",
               {{"server", options_.cluster.server},
                {"policy_configmaps", options_.policy_namespace},
                {"watch_namespaces", options_.watch_namespaces}});
  if (configmaps_) event_sender_ = std::thread([this] { SendEvents(); });
  if (configmaps_) configmaps_->Start();
  if (namespaces_) namespaces_->Start();
  started_.store(true, std::memory_order_release);
  return true;
}

void ClusterSources::Stop() {
  if (configmaps_) configmaps_->Stop();
  if (namespaces_) namespaces_->Stop();
  {
    std::lock_guard<std::mutex> lock(told_mutex_);
    events_cancel_.Cancel();
  }
  event_queued_.notify_all();
  if (event_sender_.joinable()) event_sender_.join();
}

bool ClusterSources::Ready(std::string* reason) const {
  if (!started_.load(std::memory_order_acquire)) {
    *reason = "kubernetes sources not started yet";
    return false;
  }
  if (configmaps_ && !configmaps_->synced()) {
    *reason = "policy ConfigMaps in " + options_.policy_namespace + " not listed yet";
    return false;
  }
  if (namespaces_ && !namespaces_->synced()) {
    *reason = "namespaces not listed yet";
    return false;
  }
  return true;
}

void ClusterSources::OnHealth(const std::string& resource, const kube::ReflectorHealth& health) {
  metrics_.SetKubeWatchHealthy(resource, health.healthy);
  if (health.healthy) {
    logger_.Info("kubernetes watch healthy", {{"event", "kube_watch"},
                                              {"resource", resource},
                                              {"healthy", true},
                                              {"synced", health.synced}});
  } else {
    logger_.Warn(health.synced ? "kubernetes watch failing; the last known state keeps serving"
                               : "kubernetes watch failing; not ready until the first list",
                 {{"event", "kube_watch"},
                  {"resource", resource},
                  {"healthy", false},
                  {"synced", health.synced},
                  {"error", health.last_error}});
  }
}

void ClusterSources::OnConfigMaps(const std::shared_ptr<const kube::Snapshot>& snapshot) {
  const std::vector<policy::PolicyError> errors =
      watcher_.SetConfigMapSource(ConfigMapPolicySource(*snapshot));
  ReportInvalid(*snapshot, errors);
}

void ClusterSources::OnNamespaces(std::shared_ptr<const policy::NamespaceLabelTable> labels) {
  watcher_.SetNamespaceLabels(std::move(labels));
}

void ClusterSources::ReportInvalid(const kube::Snapshot& snapshot,
                                   const std::vector<policy::PolicyError>& errors) {
  // Which ConfigMap each policy file came from.
  std::map<std::string, const kube::Object*> owner;
  for (const PolicyFile& file : ConfigMapPolicySource(snapshot).files) {
    const std::string configmap = file.name.substr(0, file.name.find('/'));
    owner[file.name] = snapshot.Find(options_.policy_namespace + "/" + configmap);
  }
  std::map<const kube::Object*, std::vector<policy::PolicyError>> by_configmap;
  for (const policy::PolicyError& error : errors) {
    const auto it = owner.find(error.file);
    if (error.warning || it == owner.end() || it->second == nullptr) continue;
    by_configmap[it->second].push_back(error);
  }
  for (auto& [object, found] : by_configmap) {
    PolicyEventInput input{object->meta.name, options_.policy_namespace,
                           object->meta.uid,  object->meta.resource_version,
                           std::move(found),  ""};
    if (const auto reason = object->meta.annotations.find("palisade.dev/reason");
        reason != object->meta.annotations.end()) {
      input.reason_annotation = reason->second;
    }
    std::string name = PolicyEventName(input);
    std::string json = PolicyEventJson(input, options_.instance, std::chrono::system_clock::now());
    {
      std::lock_guard<std::mutex> lock(told_mutex_);
      if (!told_.insert(name).second) continue;  // queued or told already
      pending_.push_back({object->meta.name, std::move(name), std::move(json)});
    }
    event_queued_.notify_one();
  }
}

void ClusterSources::SendEvents() {
  while (true) {
    PendingEvent event;
    {
      std::unique_lock<std::mutex> lock(told_mutex_);
      event_queued_.wait(lock, [this] { return events_cancel_.cancelled() || !pending_.empty(); });
      if (events_cancel_.cancelled()) return;
      event = std::move(pending_.front());
      pending_.pop_front();
    }
    SendEvent(event.configmap, event.name, event.json);
  }
}

void ClusterSources::SendEvent(const std::string& configmap, const std::string& name,
                               const std::string& json) {
  kube::Backoff backoff(options_.event_backoff);
  const std::string events = kube::CollectionPath("v1", "events", options_.policy_namespace);
  for (int attempt = 1;; ++attempt) {
    const kube::Response response = client_->Create(events, json, &events_cancel_);
    if (events_cancel_.cancelled()) return;
    // 409 AlreadyExists: another replica told it first (the name is the same everywhere), or an
    // earlier try of ours landed though its answer was lost. Either way the one Event exists.
    if (response.ok() || response.conflict()) {
      const std::string_view result = response.ok() ? "created" : "exists";
      metrics_.RecordPolicyEvent(result);
      logger_.Info("told on the ConfigMap: its policies are invalid", {{"event", "policy_event"},
                                                                       {"configmap", configmap},
                                                                       {"event_name", name},
                                                                       {"result", result},
                                                                       {"attempts", attempt}});
      return;
    }
    // No answer, a server error or too many requests may pass; any other refusal (403, 422) will
    // not.
    const bool transient = response.status == 0 || response.status == 429 || response.status >= 500;
    if (!transient || attempt >= options_.event_attempts) {
      metrics_.RecordPolicyEvent("error");
      logger_.Warn("cannot create the Event about an invalid policy ConfigMap",
                   {{"event", "policy_event"},
                    {"configmap", configmap},
                    {"event_name", name},
                    {"attempts", attempt},
                    {"error", response.Describe()}});
      // Not told: the next change of the ConfigMaps tries again.
      std::lock_guard<std::mutex> lock(told_mutex_);
      told_.erase(name);
      return;
    }
    metrics_.RecordPolicyEvent("retried");
    if (events_cancel_.WaitFor(backoff.Next(std::chrono::steady_clock::now()))) return;
  }
}

}  // namespace palisade::server
