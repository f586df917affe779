// `palisade check`: the webhook's decision on manifests, offline. Every verdict and message comes
// from policy::JudgeObject, the function /validate calls, so the two cannot disagree.

#include <rapidjson/pointer.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/emitter.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/cluster_listing.h"
#include "cli/json_output.h"
#include "cli/object_input.h"
#include "policy/decision.h"
#include "policy/label_selector.h"
#include "policy/level_version.h"
#include "policy/mutator.h"
#include "policy/namespace_policy.h"
#include "server/policy_loader.h"
#include "server/yaml_json.h"

namespace palisade::cli {
using namespace palisade::server;  // NOLINT: the commands are built on the server library

namespace {

using rapidjson::Value;

constexpr int kExitAllowed = 0;
constexpr int kExitDenied = 1;
constexpr int kExitUsage = 2;

struct CheckFlags {
  std::string policy_dir;
  std::string compare_policy_dir;  // what-if: the policies before the change
  std::string level;
  std::string namespace_name;
  bool mutate = false;
  std::string output = "text";
  std::string kubernetes_version = "1.31";
  int kubernetes_minor = 31;     // parsed from kubernetes_version
  std::string namespace_labels;  // k=v,...: for namespaces without a Namespace object in the input
  std::string today;             // YYYY-MM-DD for spec.exceptions; "" for the system date (UTC)
  std::optional<policy::Day> today_day;
  std::vector<std::string> files;
  ClusterFlags cluster;  // what-if on what runs in the cluster instead of files
};

enum class Verdict : std::uint8_t { kAllowed, kDenied, kSkipped };

// One object of the input, and what became of it.
struct CheckedObject : InputObject {
  Verdict verdict = Verdict::kSkipped;
  std::string policy;  // the most specific matching policy, "" when none
  policy::Decision decision;
};

class Checker {
 public:
  Checker(const CheckFlags& flags, std::shared_ptr<const policy::PolicySet> policies,
          std::optional<policy::LevelVersion> level)
      : flags_(flags),
        policies_(std::move(policies)),
        level_(level),
        kubernetes_minor_(flags.kubernetes_minor) {}

  // Reads the files or lists the cluster; problems are reported on stderr and remembered for the
  // exit status.
  void ReadInputs() {
    if (flags_.cluster.Wanted()) {
      ReadCluster(flags_.cluster, flags_.namespace_name, &input_, &kubernetes_minor_);
    } else {
      input_.ReadFiles(flags_.files);
    }
    for (const InputObject& object : input_.objects()) {
      CheckedObject checked;
      static_cast<InputObject&>(checked) = object;  // a copy: the input resolves labels later
      objects_.push_back(std::move(checked));
    }
  }

  void JudgeAll() {
    for (CheckedObject& object : objects_) {
      if (!object.type) continue;
      object.decision = Judge(object, policies_.get(), &object.policy);
      object.verdict = object.decision.allowed ? Verdict::kAllowed : Verdict::kDenied;
    }
  }

  // The decision on `object` under `policies` (none: only --level), as /validate would take it.
  policy::Decision Judge(const CheckedObject& object, const policy::PolicySet* policies,
                         std::string* matched_policy = nullptr) const {
    const std::shared_ptr<const policy::EffectivePolicy> effective = PolicyFor(object, policies);
    if (matched_policy != nullptr && !effective->matched.empty()) {
      *matched_policy = effective->matched.back();
    }
    policy::JudgeOptions options;
    options.name = object.name;
    options.level_override = level_;
    options.apply_defaults_to_pods = flags_.mutate;
    options.as_api_server_stores = true;
    options.kubernetes_minor = kubernetes_minor_;
    options.today = flags_.today_day;
    return policy::JudgeObject(ObjectValue(object), *object.type, *effective, options);
  }

  // What-if: every object judged under `before` too; only those whose verdict or warnings differ
  // are kept, with both decisions.
  struct Change {
    const CheckedObject* object = nullptr;
    policy::Decision before;
    std::vector<std::string> warnings_added, warnings_removed;
    std::string_view What() const {
      if (before.allowed != object->decision.allowed) {
        return object->decision.allowed ? "allowed" : "denied";
      }
      return "warnings";
    }
  };
  std::vector<Change> Compare(const policy::PolicySet& before) const {
    std::vector<Change> changes;
    for (const CheckedObject& object : objects_) {
      if (!object.type) continue;
      Change change{&object, Judge(object, &before), {}, {}};
      change.warnings_added = Missing(object.decision.warnings, change.before.warnings);
      change.warnings_removed = Missing(change.before.warnings, object.decision.warnings);
      if (change.before.allowed == object.decision.allowed && change.warnings_added.empty() &&
          change.warnings_removed.empty()) {
        continue;
      }
      changes.push_back(std::move(change));
    }
    return changes;
  }

  void PrintChangesText(const std::vector<Change>& changes, std::ostream& out) const {
    int denied = 0, allowed = 0, warnings = 0;
    for (const Change& change : changes) {
      const CheckedObject& object = *change.object;
      const std::string subject =
          object.kind + " " + object.namespace_name + "/" + object.DisplayName() + Where(object);
      const std::string_view what = change.What();
      if (what == "denied") {
        ++denied;
        out << "NOW DENIED   " << subject << "\n  " << object.decision.message << "\n";
      } else if (what == "allowed") {
        ++allowed;
        out << "NOW ALLOWED  " << subject << "\n  was: " << change.before.message << "\n";
      } else {
        ++warnings;
        out << "WARNINGS     " << subject << "\n";
      }
      for (const std::string& warning : change.warnings_added)
        out << "  + warning: " << warning << "\n";
      // A denial drops the warnings (as PSA's do): not news.
      if (what == "denied") continue;
      for (const std::string& warning : change.warnings_removed)
        out << "  - warning: " << warning << "\n";
    }
    std::size_t judged = 0;
    for (const CheckedObject& object : objects_) judged += object.type ? 1 : 0;
    out << judged << (judged == 1 ? " object" : " objects") << " compared: " << denied
        << " newly denied, " << allowed << " newly allowed, " << warnings
        << " with other warnings, " << judged - changes.size() << " unchanged";
    if (!input_.errors().empty()) {
      out << "; " << input_.errors().size()
          << (input_.errors().size() == 1 ? " input error" : " input errors");
    }
    out << "\n";
  }

  void PrintChangesJson(const std::vector<Change>& changes, std::ostream& out) const {
    JsonOutput json;
    auto& writer = json.writer;
    auto string = [&](std::string_view text) { json.String(text); };
    auto strings = [&](const std::vector<std::string>& list) { json.Strings(list); };
    auto decision = [&](const policy::Decision& d) {
      writer.StartObject();
      writer.Key("verdict");
      string(d.allowed ? "allowed" : "denied");
      writer.Key("message");
      string(d.message);
      writer.Key("warnings");
      strings(d.warnings);
      writer.Key("checks");
      strings(d.checks);
      writer.EndObject();
    };
    int counts[3] = {0, 0, 0};
    writer.StartObject();
    writer.Key("changes");
    writer.StartArray();
    for (const Change& change : changes) {
      const CheckedObject& object = *change.object;
      const std::string_view what = change.What();
      ++counts[what == "denied" ? 0 : what == "allowed" ? 1 : 2];
      writer.StartObject();
      WriteSubject(writer, object);
      writer.Key("change");
      string(what);
      writer.Key("before");
      decision(change.before);
      writer.Key("after");
      decision(object.decision);
      writer.Key("warningsAdded");
      strings(change.warnings_added);
      writer.Key("warningsRemoved");
      strings(change.warnings_removed);
      writer.EndObject();
    }
    writer.EndArray();
    writer.Key("inputErrors");
    strings(input_.errors());
    std::size_t judged = 0;
    for (const CheckedObject& object : objects_) judged += object.type ? 1 : 0;
    writer.Key("summary");
    writer.StartObject();
    writer.Key("compared");
    writer.Int(static_cast<int>(judged));
    writer.Key("newlyDenied");
    writer.Int(counts[0]);
    writer.Key("newlyAllowed");
    writer.Int(counts[1]);
    writer.Key("warningsChanged");
    writer.Int(counts[2]);
    writer.Key("unchanged");
    writer.Int(static_cast<int>(judged - changes.size()));
    writer.EndObject();
    writer.EndObject();
    out << json.text() << "\n";
  }

  // Exit status of a comparison: 1 when something becomes denied.
  int CompareExitCode(const std::vector<Change>& changes) const {
    if (!input_.errors().empty()) return kExitUsage;
    for (const Change& change : changes) {
      if (change.What() == "denied") return kExitDenied;
    }
    return kExitAllowed;
  }

  // Applies the namespace defaults to every pod and pod template, as /mutate does to pods.
  void ApplyDefaults() {
    for (const CheckedObject& object : objects_) {
      if (!object.type || object.decision.unreadable) continue;
      const std::shared_ptr<const policy::EffectivePolicy> effective =
          PolicyFor(object, policies_.get());
      const policy::TemplateLocation location = policy::TemplateOf(*object.type);
      rapidjson::Document& document = Document(object);
      const std::string base = object.pointer + std::string(location.pointer);
      Value* pod = rapidjson::Pointer(base.c_str()).Get(document);
      if (pod == nullptr || !pod->IsObject()) continue;
      const policy::PodReadResult read = policy::ReadPod(*pod);
      if (!read.errors.empty()) continue;
      // As /mutate: a pod whose runtime class is exempt gets no defaults.
      if (read.pod.runtime_class_name &&
          effective->ExemptsRuntimeClass(*read.pod.runtime_class_name)) {
        continue;
      }
      policy::MutationOptions options;
      options.kubernetes_minor = kubernetes_minor_;
      const policy::DefaultsPlan plan = policy::PlanDefaults(read.pod, *effective, options);
      policy::ApplyDefaultsPlan(plan, read.pod, *pod, document.GetAllocator());
    }
  }

  void PrintText(std::ostream& out) const {
    int allowed = 0, denied = 0, skipped = 0;
    for (const CheckedObject& object : objects_) {
      const std::string subject =
          object.kind + " " + object.namespace_name + "/" + object.DisplayName() + Where(object);
      if (object.verdict == Verdict::kSkipped) {
        ++skipped;
        out << "SKIPPED " << subject << ": not a pod or workload\n";
        continue;
      }
      const policy::Decision& decision = object.decision;
      if (decision.allowed) {
        ++allowed;
        out << "ALLOWED " << subject << "\n";
      } else {
        ++denied;
        out << "DENIED  " << subject << "\n  " << decision.message << "\n";
      }
      for (const std::string& warning : decision.warnings) out << "  warning: " << warning << "\n";
      for (const auto& [key, value] : decision.audit_annotations) {
        if (key == policy::kAuditViolationsAuditKey) out << "  audit: " << value << "\n";
      }
      if (!decision.exemptions.empty()) out << "  exempt: " << Join(decision.exemptions) << "\n";
      if (!decision.defaults_applied.empty()) {
        out << "  judged with defaults: " << Join(decision.defaults_applied) << "\n";
      }
    }
    out << objects_.size() << (objects_.size() == 1 ? " object: " : " objects: ") << allowed
        << " allowed, " << denied << " denied";
    if (skipped > 0) out << ", " << skipped << " skipped";
    if (!input_.errors().empty()) {
      out << "; " << input_.errors().size()
          << (input_.errors().size() == 1 ? " input error" : " input errors");
    }
    out << "\n";
  }

  // "  (pods.yaml: document 2)"; "" for an object listed from the API.
  static std::string Where(const CheckedObject& object) {
    const std::string location = object.Location();
    return location.empty() ? "" : "  (" + location + ")";
  }

  // Where an object came from and what it is, as the JSON outputs name it.
  template <class Writer>
  static void WriteSubject(Writer& writer, const CheckedObject& object) {
    auto string = [&](std::string_view text) {
      writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    };
    if (object.file != nullptr) {  // listed from the API: no file
      writer.Key("file");
      string(object.file->name);
      writer.Key("document");
      writer.Int(static_cast<int>(object.document + 1));
    }
    if (!object.item_path.empty()) {
      writer.Key("item");
      string(object.item_path);
    }
    writer.Key("kind");
    string(object.kind);
    writer.Key("namespace");
    string(object.namespace_name);
    writer.Key("name");
    string(object.name);
  }

  void PrintJson(std::ostream& out) const {
    JsonOutput json;
    auto& writer = json.writer;
    auto string = [&](std::string_view text) { json.String(text); };
    auto strings = [&](const std::vector<std::string>& list) { json.Strings(list); };
    int allowed = 0, denied = 0, skipped = 0;
    writer.StartObject();
    writer.Key("objects");
    writer.StartArray();
    for (const CheckedObject& object : objects_) {
      writer.StartObject();
      WriteSubject(writer, object);
      writer.Key("verdict");
      if (object.verdict == Verdict::kSkipped) {
        ++skipped;
        string("skipped");
        writer.Key("reason");
        string("not a pod or workload");
        writer.EndObject();
        continue;
      }
      const policy::Decision& decision = object.decision;
      ++(decision.allowed ? allowed : denied);
      string(decision.allowed ? "allowed" : "denied");
      writer.Key("allowed");
      writer.Bool(decision.allowed);
      writer.Key("message");
      string(decision.message);
      writer.Key("policy");
      if (object.policy.empty()) {
        writer.Null();
      } else {
        string(object.policy);
      }
      writer.Key("warnings");
      strings(decision.warnings);
      writer.Key("auditAnnotations");
      writer.StartObject();
      for (const auto& [key, value] : decision.audit_annotations) {
        string(key);
        string(value);
      }
      writer.EndObject();
      writer.Key("checks");
      strings(decision.checks);
      writer.Key("exemptions");
      strings(decision.exemptions);
      writer.Key("defaultsApplied");
      strings(decision.defaults_applied);
      writer.EndObject();
    }
    writer.EndArray();
    writer.Key("inputErrors");
    strings(input_.errors());
    writer.Key("summary");
    writer.StartObject();
    writer.Key("objects");
    writer.Int(static_cast<int>(objects_.size()));
    writer.Key("allowed");
    writer.Int(allowed);
    writer.Key("denied");
    writer.Int(denied);
    writer.Key("skipped");
    writer.Int(skipped);
    writer.Key("inputErrors");
    writer.Int(static_cast<int>(input_.errors().size()));
    writer.EndObject();
    writer.EndObject();
    out << json.text() << "\n";
  }

  // The (defaulted) manifests as a YAML stream, in input order. Comments and anchors do not
  // survive: the output is the JSON tree the objects were read as.
  bool PrintManifestsYaml(std::ostream& out) const {
    YAML::Emitter emitter;
    emitter.SetNullFormat(YAML::LowerNull);
    for (const auto& file : input_.files()) {
      for (const YamlDocument& document : file->documents) {
        if (!document.ok() || document.empty) continue;
        emitter << YAML::BeginDoc;
        EmitYaml(document.json, emitter);
      }
    }
    if (!emitter.good()) {
      std::cerr << "palisade check: cannot write the manifests as YAML: " << emitter.GetLastError()
                << "\n";
      return false;
    }
    if (emitter.size() > 0) out << emitter.c_str() << "\n";
    return true;
  }

  // The (defaulted) manifests as one `v1 List` (List documents contribute their items).
  void PrintManifestsJson(std::ostream& out) const {
    JsonOutput json;
    auto& writer = json.writer;
    writer.StartObject();
    writer.Key("apiVersion");
    writer.String("v1");
    writer.Key("kind");
    writer.String("List");
    writer.Key("items");
    writer.StartArray();
    for (const CheckedObject& object : objects_) ObjectValue(object).Accept(writer);
    writer.EndArray();
    writer.EndObject();
    out << json.text() << "\n";
  }

  int ExitCode() const {
    if (!input_.errors().empty()) return kExitUsage;
    for (const CheckedObject& object : objects_) {
      if (object.verdict == Verdict::kDenied) return kExitDenied;
    }
    return kExitAllowed;
  }

  // Every namespace's labels (Namespace objects of the input or the cluster, else `fallback`);
  // resolves the policies with them.
  std::shared_ptr<const policy::NamespaceLabels> ResolveNamespaceLabels(
      const policy::Labels& fallback) {
    auto labels = input_.ResolveNamespaceLabels(fallback);
    if (policies_) policies_ = policies_->WithNamespaceLabels(labels);
    return labels;
  }

 private:
  static rapidjson::Document& Document(const CheckedObject& object) {
    return object.file->documents[object.document].json;
  }

  static const Value& ObjectValue(const CheckedObject& object) { return *object.value; }

  static std::shared_ptr<const policy::EffectivePolicy> PolicyFor(
      const CheckedObject& object, const policy::PolicySet* policies) {
    if (policies != nullptr) return policies->ForNamespace(object.namespace_name);
    static const auto kNoPolicy = std::make_shared<const policy::EffectivePolicy>();
    return kNoPolicy;
  }

  // A warning without its policy revision ("(policy \"p\" rev 4c1e9a)" -> "(policy \"p\")"): a
  // policy edit that leaves a warning as it was is not a change to report.
  static std::string WithoutRevision(std::string_view warning) {
    std::string out;
    for (std::size_t i = 0;;) {
      const std::size_t at = warning.find(" rev ", i);
      if (at == std::string_view::npos) {
        out.append(warning.substr(i));
        return out;
      }
      std::size_t end = at + 5;
      while (end < warning.size() && std::isxdigit(static_cast<unsigned char>(warning[end]))) ++end;
      const bool revision = end > at + 5 && end < warning.size() && warning[end] == ')';
      out.append(warning.substr(i, (revision ? at : at + 5) - i));
      i = revision ? end : at + 5;
    }
  }

  // The items of `a` that `b` lacks (revisions aside), in a's order.
  static std::vector<std::string> Missing(const std::vector<std::string>& a,
                                          const std::vector<std::string>& b) {
    std::vector<std::string> others;
    for (const std::string& item : b) others.push_back(WithoutRevision(item));
    std::vector<std::string> out;
    for (const std::string& item : a) {
      if (std::find(others.begin(), others.end(), WithoutRevision(item)) == others.end()) {
        out.push_back(item);
      }
    }
    return out;
  }

  static std::string Join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
  }

  // Strings that a YAML reader (core schema, or YAML 1.1 as kubectl's) could take for a number,
  // boolean or null are quoted, so they come back as strings.
  static bool NeedsQuotes(std::string_view text) {
    if (text.empty()) return true;
    const char first = text.front();
    if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') return true;
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const std::string_view word :
         {"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
      if (lower == word) return true;
    }
    return false;
  }

  static void EmitYaml(const Value& value, YAML::Emitter& emitter) {
    switch (value.GetType()) {
      case rapidjson::kNullType:
        emitter << YAML::Null;
        break;
      case rapidjson::kFalseType:
      case rapidjson::kTrueType:
        emitter << value.GetBool();
        break;
      case rapidjson::kNumberType: {
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
        value.Accept(writer);
        emitter << buffer.GetString();
        break;
      }
      case rapidjson::kStringType: {
        const std::string text(value.GetString(), value.GetStringLength());
        if (NeedsQuotes(text)) emitter << YAML::DoubleQuoted;
        emitter << text;
        break;
      }
      case rapidjson::kArrayType:
        if (value.Empty()) emitter << YAML::Flow;
        emitter << YAML::BeginSeq;
        for (const Value& item : value.GetArray()) EmitYaml(item, emitter);
        emitter << YAML::EndSeq;
        break;
      case rapidjson::kObjectType:
        if (value.ObjectEmpty()) emitter << YAML::Flow;
        emitter << YAML::BeginMap;
        for (const auto& member : value.GetObject()) {
          const std::string key(member.name.GetString(), member.name.GetStringLength());
          emitter << YAML::Key;
          if (NeedsQuotes(key)) emitter << YAML::DoubleQuoted;
          emitter << key << YAML::Value;
          EmitYaml(member.value, emitter);
        }
        emitter << YAML::EndMap;
        break;
    }
  }

  const CheckFlags& flags_;
  std::shared_ptr<const policy::PolicySet> policies_;
  std::optional<policy::LevelVersion> level_;
  int kubernetes_minor_;  // --kubernetes-version, or the cluster's own with --kubeconfig
  ObjectInput input_{"palisade check", flags_.namespace_name};
  std::vector<CheckedObject> objects_;
};

// The policy set in `dir`; on errors they are printed and false returned.
bool LoadPolicies(const std::string& dir, std::shared_ptr<const policy::PolicySet>* set) {
  PolicyLoadResult loaded = LoadPolicyDirectory(dir);
  if (!loaded.ok()) {
    std::cerr << "palisade check: the policies in " << dir
              << " have errors (see `palisade policy lint " << dir << "`):\n";
    for (const policy::PolicyError& error : loaded.errors) {
      std::cerr << "  " << error.ToString() << "\n";
    }
    return false;
  }
  *set = std::move(loaded.set);
  return true;
}

int Check(CheckFlags flags) {
  auto usage = [](const std::string& message) {
    std::cerr << "palisade check: " << message << "\n";
    return kExitUsage;
  };
  if (flags.output != "text" && flags.output != "json") {
    return usage("-o must be text or json, got \"" + flags.output + "\"");
  }
  if (flags.policy_dir.empty() && flags.level.empty()) {
    return usage(
        "say what to check against: --policy-dir DIR (the namespace policies) or --level "
        "LEVEL[:VERSION] (e.g. --level restricted)");
  }
  if (flags.cluster.Wanted() && flags.compare_policy_dir.empty()) {
    return usage(
        "--kubeconfig judges what runs in the cluster with --compare-policy-dir (what-if); for "
        "one set of policies, use `palisade audit --policy-dir DIR`");
  }
  if (flags.cluster.Wanted() && !flags.files.empty()) {
    return usage("give manifest files or --kubeconfig, not both");
  }
  if (flags.cluster.page_size < 1) return usage("--page-size must be at least 1");
  if (flags.files.empty() && !flags.cluster.Wanted()) {
    return usage("no input: give manifest files, or - for standard input, or --kubeconfig");
  }
  const std::optional<int> minor = ParseKubernetesMinor(flags.kubernetes_version);
  if (!minor) {
    return usage("--kubernetes-version must look like 1.31, got \"" + flags.kubernetes_version +
                 "\"");
  }
  flags.kubernetes_minor = *minor;
  flags.today_day =
      flags.today.empty() ? policy::DayOf(std::time(nullptr)) : policy::ParseDate(flags.today);
  if (!flags.today_day)
    return usage("--today must be a date YYYY-MM-DD, got \"" + flags.today + "\"");

  std::optional<policy::LevelVersion> level;
  if (!flags.level.empty()) {
    std::string error;
    level = policy::ParseLevelVersion(flags.level, &error);
    if (!level) return usage("--level: " + error);
  }
  std::shared_ptr<const policy::PolicySet> policies, before;
  if (!flags.policy_dir.empty() && !LoadPolicies(flags.policy_dir, &policies)) return kExitUsage;
  if (!flags.compare_policy_dir.empty()) {
    if (flags.policy_dir.empty()) {
      return usage("--compare-policy-dir OLD compares with --policy-dir NEW: give both");
    }
    if (flags.mutate) return usage("--compare-policy-dir and --mutate do not go together");
    if (!LoadPolicies(flags.compare_policy_dir, &before)) return kExitUsage;
  }

  policy::Labels fallback_labels;
  if (!flags.namespace_labels.empty()) {
    std::string error;
    auto parsed = policy::ParseLabelList(flags.namespace_labels, &error);
    if (!parsed) return usage("--namespace-labels: " + error);
    fallback_labels = std::move(*parsed);
  }

  Checker checker(flags, std::move(policies), level);
  checker.ReadInputs();
  const auto labels = checker.ResolveNamespaceLabels(fallback_labels);
  if (before) before = before->WithNamespaceLabels(labels);
  checker.JudgeAll();
  if (before) {
    const auto changes = checker.Compare(*before);
    if (flags.output == "json") {
      checker.PrintChangesJson(changes, std::cout);
    } else {
      checker.PrintChangesText(changes, std::cout);
    }
    std::cout.flush();
    return checker.CompareExitCode(changes);
  }
  if (flags.mutate) {
    // The manifests go to stdout (ready for kubectl apply), the verdicts to stderr.
    checker.ApplyDefaults();
    if (flags.output == "json") {
      checker.PrintManifestsJson(std::cout);
    } else {
      if (!checker.PrintManifestsYaml(std::cout)) return kExitUsage;
    }
    checker.PrintText(std::cerr);
  } else if (flags.output == "json") {
    checker.PrintJson(std::cout);
  } else {
    checker.PrintText(std::cout);
  }
  std::cout.flush();
  return checker.ExitCode();
}

}  // namespace

void RegisterCheckCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<CheckFlags>();
  CLI::App* command = app.add_subcommand(
      "check",
      "Judge manifests offline as the webhook would (exit 0 all allowed, 1 something denied, 2 "
      "usage or input error)");
  command->add_option("--policy-dir", flags->policy_dir,
                      "Directory of NamespacePolicy files to judge against");
  command->add_option("--compare-policy-dir", flags->compare_policy_dir,
                      "What-if: the policies before a change (--policy-dir holds them after); "
                      "print only the objects whose verdict or warnings differ, exit 1 when "
                      "something becomes denied");
  command->add_option("--level", flags->level,
                      "LEVEL[:VERSION]: judge against this PSS level (replaces the policies' "
                      "enforce level when given with --policy-dir)");
  command->add_option("--namespace,-n", flags->namespace_name,
                      "Namespace of every object (default: the object's own, else \"default\")");
  command->add_flag("--mutate", flags->mutate,
                    "Print the manifests with the namespace defaults applied (verdicts go to "
                    "stderr); pods are judged as they arrive after /mutate");
  command->add_option("-o,--output", flags->output, "text or json")->capture_default_str();
  flags->cluster.kubernetes_version_option =
      command
          ->add_option("--kubernetes-version", flags->kubernetes_version,
                       "The cluster's version X.Y: AppArmor defaults as the field (1.30+) or the "
                       "annotation (with --kubeconfig: the cluster's own)")
          ->capture_default_str();
  command->add_option("--namespace-labels", flags->namespace_labels,
                      "Labels k=v,... of the namespaces that have no Namespace object in the input "
                      "(for namespaceSelector and PSA labels)");
  command->add_option("--today", flags->today,
                      "The date exceptions are judged on, YYYY-MM-DD (default: today, UTC)");
  AddClusterFlags(command, &flags->cluster, "What-if on");
  command->add_option("files", flags->files, "Manifest files (YAML or JSON), or - for stdin");
  command->callback([flags, exit_code] { *exit_code = Check(*flags); });
}

}  // namespace palisade::cli
