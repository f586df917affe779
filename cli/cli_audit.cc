// `palisade audit`: what already runs, judged as enforce would judge it. Pods and workload
// templates are listed cluster-wide in pages, each judged by policy::AuditObject (JudgeObject, as
// /validate), with the live policies (labelled ConfigMaps) or proposed ones (a directory). With
// --write-reports, one OpenReports Report per namespace, updated in place.

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cli/cli.h"
#include "cli/json_output.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/object.h"
#include "policy/audit_report.h"
#include "policy/decision.h"
#include "policy/level_version.h"
#include "policy/namespace_policy.h"
#include "server/logging.h"
#include "server/policy_loader.h"

namespace palisade::cli {
namespace {

using policy::AuditOutcome;
using rapidjson::Value;

constexpr int kExitClean = 0;
constexpr int kExitDenied = 1;
constexpr int kExitError = 2;
constexpr std::string_view kPolicyLabel = "palisade.dev/policy=true";
constexpr std::string_view kReportsGroupVersion = "openreports.io/v1alpha1";
constexpr int kConflictRetries = 5;

struct AuditFlags {
  std::string kubeconfig;
  std::string context;
  std::string policy_dir;
  std::string policy_configmaps;  // the namespace of the labelled policy ConfigMaps
  std::string level;
  std::string output = "text";
  std::string kubernetes_version;  // "" asks the API server
  bool write_reports = false;
  bool exit_zero_on_findings = false;  // a CronJob: failures are findings, not a failed run
  int page_size = 500;
  int max_results = static_cast<int>(policy::kDefaultMaxReportResults);
};

// What is audited, in this order (the order of the text output within a namespace).
struct AuditedResource {
  policy::ObjectType type;
  std::string_view group_version;
  std::string_view resource;
};
constexpr AuditedResource kResources[] = {
    {policy::ObjectType::kPod, "v1", "pods"},
    {policy::ObjectType::kDeployment, "apps/v1", "deployments"},
    {policy::ObjectType::kReplicaSet, "apps/v1", "replicasets"},
    {policy::ObjectType::kStatefulSet, "apps/v1", "statefulsets"},
    {policy::ObjectType::kDaemonSet, "apps/v1", "daemonsets"},
    {policy::ObjectType::kJob, "batch/v1", "jobs"},
    {policy::ObjectType::kCronJob, "batch/v1", "cronjobs"},
    {policy::ObjectType::kReplicationController, "v1", "replicationcontrollers"},
    {policy::ObjectType::kPodTemplate, "v1", "podtemplates"},
};

std::string StringAt(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::string Rfc3339(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string Json(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

class Auditor {
 public:
  Auditor(const AuditFlags& flags, std::optional<policy::LevelVersion> level) : flags_(flags) {
    options_.level_override = level;
  }

  int Run() {
    const auto started_wall = std::chrono::system_clock::now();
    const auto started = std::chrono::steady_clock::now();
    if (!Setup()) return kExitError;
    if (!LoadPolicies()) return kExitError;
    if (!ResolveNamespaces()) return kExitError;
    ResolveKubernetesVersion();
    for (const AuditedResource& resource : kResources) Scan(resource);

    policy::AuditRun run;
    const auto since_epoch = started_wall.time_since_epoch();
    run.started_unix_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    run.started_nanos = static_cast<std::int32_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count() % 1'000'000'000);
    run.started = Rfc3339(started_wall);
    run.duration_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.version = PALISADE_VERSION;

    if (flags_.output == "json") {
      PrintJson(std::cout);
    } else {
      PrintText(std::cout);
    }
    std::cout.flush();
    if (flags_.write_reports) {
      if (!scan_complete_) {
        Error(
            "reports not written: the scan is incomplete (a list failed), and an incomplete "
            "scan would clear reports of what it did not see");
      } else {
        WriteReports(run);
      }
    }
    LogRun(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!errors_.empty()) return kExitError;
    if (flags_.exit_zero_on_findings) return kExitClean;
    return totals_[AuditOutcome::kFail] > 0 || totals_[AuditOutcome::kError] > 0 ? kExitDenied
                                                                                 : kExitClean;
  }

 private:
  void Error(std::string message) {
    std::cerr << "palisade audit: " << message << "\n";
    errors_.push_back(std::move(message));
  }

  bool Setup() {
    std::string error;
    std::optional<kube::ClusterConfig> config;
    std::string kubeconfig = flags_.kubeconfig;
    if (kubeconfig.empty()) {
      const char* env = std::getenv("KUBECONFIG");
      if (env != nullptr && *env != '\0') {
        kubeconfig = env;
        kubeconfig = kubeconfig.substr(0, kubeconfig.find(':'));  // the first file of the list
      }
    }
    if (kubeconfig.empty() && std::getenv("KUBERNETES_SERVICE_HOST") != nullptr) {
      config = kube::InClusterConfig(&error);
      if (!config) Error("in-cluster config: " + error);
    } else {
      if (kubeconfig.empty()) {
        const char* home = std::getenv("HOME");
        kubeconfig = std::string(home != nullptr ? home : "") + "/.kube/config";
      }
      config = kube::LoadKubeconfig(kubeconfig, &error, flags_.context);
      if (!config) Error("kubeconfig " + kubeconfig + ": " + error);
    }
    if (!config) return false;
    client_ = kube::KubeClient::Create(*config, &error);
    if (!client_) Error("cannot set up the API client: " + error);
    return client_ != nullptr;
  }

  bool LoadPolicies() {
    if (flags_.policy_dir.empty() && flags_.policy_configmaps.empty()) return true;  // --level
    server::PolicySource source;
    std::string where;
    if (!flags_.policy_dir.empty()) {
      source = server::ReadPolicyDirectory(flags_.policy_dir);
      where = flags_.policy_dir;
    } else {
      where = "ConfigMaps labelled " + std::string(kPolicyLabel) + " in namespace " +
              flags_.policy_configmaps;
      kube::ListOptions options;
      options.label_selector = kPolicyLabel;
      options.limit = flags_.page_size;
      std::vector<server::PolicyFile> files;
      const kube::Response response = client_->ListAll(
          kube::CollectionPath("v1", "configmaps", flags_.policy_configmaps), options,
          [&](const kube::ListPage& page) {
            if (page.first) files.clear();
            for (const auto& item : page.items) {
              const std::string name = StringAt((*item)["metadata"], "name");
              const auto data = item->FindMember("data");
              if (data == item->MemberEnd() || !data->value.IsObject()) continue;
              for (const auto& entry : data->value.GetObject()) {
                const std::string key(entry.name.GetString(), entry.name.GetStringLength());
                if (!server::IsPolicyFileName(key) || !entry.value.IsString()) continue;
                files.push_back(
                    {name + "/" + key,
                     std::string(entry.value.GetString(), entry.value.GetStringLength()), ""});
              }
            }
          });
      if (!response.ok()) {
        Error("cannot list the policy ConfigMaps in " + flags_.policy_configmaps + ": " +
              response.Describe());
        return false;
      }
      std::sort(files.begin(), files.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
      source.files = std::move(files);
    }
    server::PolicyLoadResult loaded = server::BuildPolicies(source, nullptr);
    if (loaded.set == nullptr) {
      Error("cannot read the policies (" + where + "): " + source.error);
      return false;
    }
    // Judged as the server would serve them at start: a broken document refuses what it covers
    // (those objects are reported as errors); the problems make the run exit 2.
    for (const policy::PolicyError& problem : loaded.errors) {
      if (problem.warning) continue;
      Error("policy error: " + problem.ToString());
    }
    if (loaded.documents == 0) {
      std::cerr << "palisade audit: warning: no policy documents in " << where
                << ": every namespace is privileged\n";
    }
    policies_ = std::move(loaded.set);
    return true;
  }

  // Namespace labels for the policies (namespaceSelector, PSA labels), from one metadata list.
  bool ResolveNamespaces() {
    policy::NamespaceLabelTable::Builder labels;
    kube::ListOptions options;
    options.metadata_only = true;
    options.limit = flags_.page_size;
    const kube::Response response = client_->ListAll(
        kube::CollectionPath("v1", "namespaces"), options, [&](const kube::ListPage& page) {
          if (page.first) labels.Clear();
          for (const auto& item : page.items) {
            const kube::ObjectMeta meta = kube::ReadObjectMeta(*item);
            labels.Set(meta.name, meta.labels);
          }
        });
    if (!response.ok()) {
      Error("cannot list namespaces: " + response.Describe());
      return false;
    }
    if (policies_) policies_ = policies_->WithNamespaceLabels(labels.Build());
    return true;
  }

  void ResolveKubernetesVersion() {
    if (!flags_.kubernetes_version.empty()) {
      options_.kubernetes_minor = *ParseKubernetesMinor(flags_.kubernetes_version);
      return;
    }
    const kube::Response response = client_->Get("/version");
    rapidjson::Document version;
    if (response.ok()) version.Parse(response.body.c_str());
    const std::string minor =
        response.ok() && !version.HasParseError() ? StringAt(version, "minor") : std::string();
    // "31", or "31+" from some providers.
    if (!minor.empty() && std::isdigit(static_cast<unsigned char>(minor[0]))) {
      options_.kubernetes_minor = std::atoi(minor.c_str());
      return;
    }
    std::cerr << "palisade audit: warning: cannot read the cluster's version ("
              << (response.ok() ? "no minor" : response.Describe())
              << "); assuming 1.31 (give --kubernetes-version)\n";
  }

  std::shared_ptr<const policy::EffectivePolicy> PolicyFor(const std::string& ns) {
    if (!policies_) {
      static const auto kNone = std::make_shared<const policy::EffectivePolicy>();
      return kNone;
    }
    auto& cached = effective_[ns];
    if (!cached) cached = policies_->ForNamespace(ns);
    return cached;
  }

  // One resource, cluster-wide, page by page; a list restarted after 410 drops what came before.
  void Scan(const AuditedResource& resource) {
    std::vector<policy::AuditedObject> scanned;
    kube::ListOptions options;
    options.limit = flags_.page_size;
    const kube::Response response = client_->ListAll(
        kube::CollectionPath(resource.group_version, resource.resource), options,
        [&](const kube::ListPage& page) {
          if (page.first) scanned.clear();
          for (const auto& item : page.items) {
            const std::string ns = StringAt((*item)["metadata"], "namespace");
            scanned.push_back(policy::AuditObject(*item, resource.type, *PolicyFor(ns), options_));
          }
        });
    if (!response.ok()) {
      scan_complete_ = false;
      Error("cannot list " + std::string(resource.resource) + ": " + response.Describe());
      return;
    }
    for (policy::AuditedObject& object : scanned) Record(std::move(object));
  }

  void Record(policy::AuditedObject object) {
    const std::string& ns = object.subject.namespace_;
    auto report = reports_.find(ns);
    if (report == reports_.end()) {
      report = reports_
                   .emplace(ns, policy::NamespaceReport(
                                    ns, static_cast<std::size_t>(flags_.max_results)))
                   .first;
    }
    report->second.Add(object);
    ++totals_[object.verdict];
    for (const policy::AuditResult& result : object.results) ++result_totals_[result.outcome];
    // Only what does not pass is listed; passes and skips are counted.
    if (object.verdict == AuditOutcome::kFail || object.verdict == AuditOutcome::kError ||
        object.verdict == AuditOutcome::kWarn) {
      object.results.clear();
      listed_.push_back(std::move(object));
    }
  }

  void SortListed() {
    std::stable_sort(listed_.begin(), listed_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.subject.namespace_, a.verdict, a.subject.kind, a.subject.name) <
             std::tie(b.subject.namespace_, b.verdict, b.subject.kind, b.subject.name);
    });
  }

  std::string SummaryLine() const {
    std::string line = std::to_string(totals_.total()) + " resources in " +
                       std::to_string(reports_.size()) + " namespaces:";
    const char* separator = " ";
    for (const AuditOutcome outcome :
         {AuditOutcome::kPass, AuditOutcome::kFail, AuditOutcome::kWarn, AuditOutcome::kError,
          AuditOutcome::kSkip}) {
      line += separator + std::to_string(totals_[outcome]) + " " +
              std::string(policy::AuditOutcomeName(outcome));
      separator = ", ";
    }
    return line;
  }

  void PrintText(std::ostream& out) {
    SortListed();
    for (const policy::AuditedObject& object : listed_) {
      const std::string_view label = object.verdict == AuditOutcome::kFail    ? "FAIL "
                                     : object.verdict == AuditOutcome::kError ? "ERROR"
                                                                              : "WARN ";
      out << label << " " << object.subject.kind << " " << object.subject.namespace_ << "/"
          << object.subject.name;
      if (!object.subject.owner.empty()) out << "  (owner " << object.subject.owner << ")";
      out << "\n";
      if (!object.message.empty()) out << "  " << object.message << "\n";
      for (const std::string& warning : object.warnings) out << "  warning: " << warning << "\n";
      // Audit-mode findings have no warning text of their own: name the checks.
      if (object.verdict == AuditOutcome::kWarn && object.warnings.empty()) {
        std::string checks;
        for (const std::string& check : object.checks)
          checks += (checks.empty() ? "" : ", ") + check;
        out << "  audit: " << checks << "\n";
      }
    }
    out << SummaryLine();
    if (!errors_.empty()) {
      out << "; " << errors_.size() << (errors_.size() == 1 ? " error" : " errors");
    }
    out << "\n";
  }

  void PrintJson(std::ostream& out) {
    SortListed();
    JsonOutput json;
    auto& writer = json.writer;
    auto string = [&](std::string_view text) { json.String(text); };
    auto strings = [&](const std::vector<std::string>& list) { json.Strings(list); };
    auto counts = [&](const policy::AuditCounts& c) {
      writer.StartObject();
      for (const AuditOutcome outcome :
           {AuditOutcome::kPass, AuditOutcome::kFail, AuditOutcome::kWarn, AuditOutcome::kError,
            AuditOutcome::kSkip}) {
        string(policy::AuditOutcomeName(outcome));
        writer.Int64(c[outcome]);
      }
      writer.EndObject();
    };
    writer.StartObject();
    writer.Key("resources");
    writer.StartArray();
    for (const policy::AuditedObject& object : listed_) {
      writer.StartObject();
      writer.Key("kind");
      string(object.subject.kind);
      writer.Key("namespace");
      string(object.subject.namespace_);
      writer.Key("name");
      string(object.subject.name);
      writer.Key("owner");
      string(object.subject.owner);
      writer.Key("result");
      string(policy::AuditOutcomeName(object.verdict));
      writer.Key("policy");
      string(object.policy);
      writer.Key("message");
      string(object.message);
      writer.Key("warnings");
      strings(object.warnings);
      writer.Key("checks");
      strings(object.checks);
      writer.EndObject();
    }
    writer.EndArray();
    writer.Key("namespaces");
    writer.StartArray();
    for (const auto& [name, report] : reports_) {
      writer.StartObject();
      writer.Key("name");
      string(name);
      writer.Key("resources");
      counts(report.resources());
      writer.Key("results");
      counts(report.summary());
      writer.EndObject();
    }
    writer.EndArray();
    writer.Key("summary");
    writer.StartObject();
    writer.Key("resources");
    counts(totals_);
    writer.Key("results");
    counts(result_totals_);
    writer.Key("namespaces");
    writer.Int64(static_cast<std::int64_t>(reports_.size()));
    writer.EndObject();
    writer.Key("errors");
    strings(errors_);
    writer.EndObject();
    out << json.text() << "\n";
  }

  // One Report per namespace with results, created or updated in place (resourceVersion from the
  // list, a 409 re-reads and retries); `palisade` Reports of namespaces with none are deleted.
  void WriteReports(const policy::AuditRun& run) {
    std::map<std::string, std::string> existing;  // namespace -> resourceVersion
    kube::ListOptions options;
    options.field_selector = "metadata.name=" + std::string(policy::kReportName);
    options.limit = flags_.page_size;
    const kube::Response listed =
        client_->ListAll(kube::CollectionPath(kReportsGroupVersion, "reports"), options,
                         [&](const kube::ListPage& page) {
                           if (page.first) existing.clear();
                           for (const auto& item : page.items) {
                             const kube::ObjectMeta meta = kube::ReadObjectMeta(*item);
                             if (meta.name == policy::kReportName)
                               existing[meta.namespace_] = meta.resource_version;
                           }
                         });
    if (!listed.ok()) {
      Error("cannot list reports.openreports.io" +
            std::string(listed.not_found() ? " (is the Report CRD installed? chart: "
                                             "audit.installCRD)"
                                           : "") +
            ": " + listed.Describe());
      return;
    }
    for (const auto& [ns, report] : reports_) {
      const auto found = existing.find(ns);
      WriteReport(report, run, found == existing.end() ? nullptr : &found->second);
    }
    for (const auto& [ns, version] : existing) {
      if (reports_.count(ns) != 0) continue;
      const kube::Response response = client_->Delete(
          kube::ObjectPath(kReportsGroupVersion, "reports", ns, policy::kReportName));
      if (response.ok() || response.not_found()) {
        ++reports_deleted_;
      } else {
        Error("cannot delete the stale report " + ns + "/" + std::string(policy::kReportName) +
              ": " + response.Describe());
      }
    }
  }

  void WriteReport(const policy::NamespaceReport& report, const policy::AuditRun& run,
                   const std::string* listed_version) {
    const std::string& ns = report.namespace_name();
    const std::string path =
        kube::ObjectPath(kReportsGroupVersion, "reports", ns, policy::kReportName);
    std::optional<std::string> version;
    if (listed_version != nullptr) version = *listed_version;
    kube::Response response;
    for (int attempt = 0; attempt <= kConflictRetries; ++attempt) {
      if (!version) {
        response = client_->Create(kube::CollectionPath(kReportsGroupVersion, "reports", ns),
                                   Json(report.ToReport(run)));
        if (response.ok()) {
          ++reports_created_;
          return;
        }
        if (response.status != 409) break;  // 409 AlreadyExists: someone made it; update it
      } else {
        response = client_->Update(path, Json(report.ToReport(run, *version)));
        if (response.ok()) {
          ++reports_updated_;
          return;
        }
        if (response.not_found()) {  // deleted since the list: create it
          version.reset();
          continue;
        }
        if (!response.conflict()) break;
      }
      ++conflicts_;
      const kube::Response current = client_->Get(path);
      if (current.not_found()) {
        version.reset();
        continue;
      }
      if (!current.ok()) {
        response = current;
        break;
      }
      rapidjson::Document object;
      object.Parse(current.body.c_str());
      version =
          object.HasParseError() ? std::string() : kube::ReadObjectMeta(object).resource_version;
    }
    Error("cannot write the report " + ns + "/" + std::string(policy::kReportName) + ": " +
          response.Describe());
  }

  // One JSON line per run on stderr: a CronJob is not scraped, its log is.
  void LogRun(double duration_seconds) {
    server::Logger logger;
    std::vector<server::LogField> fields;
    for (const AuditOutcome outcome :
         {AuditOutcome::kPass, AuditOutcome::kFail, AuditOutcome::kWarn, AuditOutcome::kError,
          AuditOutcome::kSkip}) {
      fields.emplace_back("resources_" + std::string(policy::AuditOutcomeName(outcome)),
                          totals_[outcome]);
    }
    for (const AuditOutcome outcome :
         {AuditOutcome::kPass, AuditOutcome::kFail, AuditOutcome::kWarn, AuditOutcome::kError,
          AuditOutcome::kSkip}) {
      fields.emplace_back("results_" + std::string(policy::AuditOutcomeName(outcome)),
                          result_totals_[outcome]);
    }
    fields.emplace_back("resources", totals_.total());
    fields.emplace_back("namespaces", static_cast<std::int64_t>(reports_.size()));
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f", duration_seconds);
    fields.emplace_back("duration_seconds", std::string(duration));
    if (flags_.write_reports) {
      fields.emplace_back("reports_created", reports_created_);
      fields.emplace_back("reports_updated", reports_updated_);
      fields.emplace_back("reports_deleted", reports_deleted_);
      fields.emplace_back("report_conflicts", conflicts_);
    }
    fields.emplace_back("errors", static_cast<std::int64_t>(errors_.size()));
    logger.Info("audit run", fields);
  }

  const AuditFlags& flags_;
  policy::AuditOptions options_;
  std::unique_ptr<kube::KubeClient> client_;
  std::shared_ptr<const policy::PolicySet> policies_;
  std::map<std::string, std::shared_ptr<const policy::EffectivePolicy>> effective_;
  std::map<std::string, policy::NamespaceReport> reports_;  // by namespace, sorted
  std::vector<policy::AuditedObject> listed_;               // fail, error, warn
  policy::AuditCounts totals_;                              // resources by verdict
  policy::AuditCounts result_totals_;
  std::vector<std::string> errors_;
  bool scan_complete_ = true;
  int reports_created_ = 0, reports_updated_ = 0, reports_deleted_ = 0, conflicts_ = 0;
};

int Audit(AuditFlags flags) {
  auto usage = [](const std::string& message) {
    std::cerr << "palisade audit: " << message << "\n";
    return kExitError;
  };
  if (flags.output != "text" && flags.output != "json") {
    return usage("-o must be text or json, got \"" + flags.output + "\"");
  }
  if (!flags.policy_dir.empty() && !flags.policy_configmaps.empty()) {
    return usage("give --policy-dir or --policy-configmaps, not both");
  }
  if (flags.policy_dir.empty() && flags.policy_configmaps.empty() && flags.level.empty()) {
    return usage(
        "say what to judge against: --policy-configmaps NS (the live policies), --policy-dir DIR "
        "(proposed ones) or --level LEVEL[:VERSION]");
  }
  if (!flags.kubernetes_version.empty() && !ParseKubernetesMinor(flags.kubernetes_version)) {
    return usage("--kubernetes-version must look like 1.31, got \"" + flags.kubernetes_version +
                 "\"");
  }
  if (flags.page_size < 1) return usage("--page-size must be at least 1");
  if (flags.max_results < 1) return usage("--max-report-results must be at least 1");
  std::optional<policy::LevelVersion> level;
  if (!flags.level.empty()) {
    std::string error;
    level = policy::ParseLevelVersion(flags.level, &error);
    if (!level) return usage("--level: " + error);
  }
  return Auditor(flags, level).Run();
}

}  // namespace

void RegisterAuditCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AuditFlags>();
  CLI::App* command = app.add_subcommand(
      "audit",
      "Judge what runs in the cluster (pods and workload templates) as enforce would (exit 0 "
      "nothing fails, 1 something would be denied, 2 errors)");
  command->add_option("--kubeconfig", flags->kubeconfig,
                      "Kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  command->add_option("--context", flags->context, "Kubeconfig context (default: current)");
  command->add_option("--policy-dir", flags->policy_dir,
                      "Judge with the NamespacePolicy files in this directory (what-if)");
  command->add_option("--policy-configmaps", flags->policy_configmaps,
                      "Judge with the live policies: ConfigMaps labelled palisade.dev/policy=true "
                      "in this namespace");
  command->add_option("--level", flags->level,
                      "LEVEL[:VERSION]: judge against this PSS level (replaces the policies' "
                      "enforce level)");
  command->add_option("-o,--output", flags->output, "text or json")->capture_default_str();
  command->add_flag("--write-reports", flags->write_reports,
                    "Write one OpenReports Report (openreports.io/v1alpha1) named palisade per "
                    "namespace; delete those of namespaces with nothing left");
  command->add_flag("--exit-zero-on-findings", flags->exit_zero_on_findings,
                    "Exit 0 when something would be denied (only errors exit 2): for a CronJob");
  command->add_option("--kubernetes-version", flags->kubernetes_version,
                      "The cluster's version X.Y (default: asked from the API server)");
  command->add_option("--page-size", flags->page_size, "Objects per list page")
      ->capture_default_str();
  command
      ->add_option("--max-report-results", flags->max_results,
                   "Results kept in each Report (the rest are counted)")
      ->capture_default_str();
  command->callback([flags, exit_code] { *exit_code = Audit(*flags); });
}

}  // namespace palisade::cli
