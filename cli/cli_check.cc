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
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/json_output.h"
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
constexpr std::string_view kStdinName = "<stdin>";

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
};

// One input file and its documents, kept alive (and mutated in place by --mutate).
struct InputFile {
  std::string name;
  std::vector<YamlDocument> documents;
};

enum class Verdict : std::uint8_t { kAllowed, kDenied, kSkipped };

// One object of the input: a document, or an item of a `List` document.
struct CheckedObject {
  InputFile* file = nullptr;
  std::size_t document = 0;  // index into file->documents
  std::string pointer;       // JSON Pointer of the object in its document ("" or "/items/3")
  std::string item_path;     // "items[3]" for a List item, "" otherwise
  std::string kind, namespace_name;
  std::string name;  // metadata.name, else metadata.generateName, as /validate names it

  std::string DisplayName() const { return name.empty() ? "<unnamed>" : name; }
  std::optional<policy::ObjectType> type;
  Verdict verdict = Verdict::kSkipped;
  std::string policy;  // the most specific matching policy, "" when none
  policy::Decision decision;

  std::string Location() const {
    std::string out = file->name + ": document " + std::to_string(document + 1);
    if (!item_path.empty()) out += ", " + item_path;
    return out;
  }
};

std::string_view StringMember(const Value& object, std::string_view key) {
  if (!object.IsObject()) return {};
  const auto it = object.FindMember(rapidjson::StringRef(key.data(), key.size()));
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const Value* Metadata(const Value& object) {
  const auto it = object.FindMember("metadata");
  return it != object.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

bool IsList(const Value& object) {
  const std::string_view kind = StringMember(object, "kind");
  if (!kind.ends_with("List")) return false;
  const auto items = object.FindMember("items");
  return items != object.MemberEnd() && items->value.IsArray();
}

bool ReadInput(const std::string& name, std::string* text, std::string* error) {
  if (name == "-") {
    *text = std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
      *error = "cannot read standard input";
      return false;
    }
    return true;
  }
  errno = 0;
  std::ifstream in(name, std::ios::binary);
  if (!in) {
    *error = std::string("cannot open: ") + (errno != 0 ? std::strerror(errno) : "unknown error");
    return false;
  }
  *text = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = "cannot read file";
    return false;
  }
  return true;
}

class Checker {
 public:
  Checker(const CheckFlags& flags, std::shared_ptr<const policy::PolicySet> policies,
          std::optional<policy::LevelVersion> level)
      : flags_(flags), policies_(std::move(policies)), level_(level) {}

  // Reads every input; problems are reported on stderr and remembered for the exit status.
  void ReadInputs() {
    for (const std::string& name : flags_.files) {
      auto file = std::make_unique<InputFile>();
      file->name = name == "-" ? std::string(kStdinName) : name;
      std::string text, error;
      if (!ReadInput(name, &text, &error)) {
        InputError(file->name + ": " + error);
        continue;
      }
      file->documents = ParseYamlDocuments(text);
      for (std::size_t i = 0; i < file->documents.size(); ++i) {
        const YamlDocument& document = file->documents[i];
        const std::string where = file->name + ": document " + std::to_string(i + 1);
        if (!document.ok()) {
          InputError(where + ": " + document.ErrorString());
          continue;
        }
        if (document.empty) continue;
        Collect(*file, i, document.json, "", "", where);
      }
      files_.push_back(std::move(file));
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
    options.kubernetes_minor = flags_.kubernetes_minor;
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
      const std::string subject = object.kind + " " + object.namespace_name + "/" +
                                  object.DisplayName() + "  (" + object.Location() + ")";
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
    if (!input_errors_.empty()) {
      out << "; " << input_errors_.size()
          << (input_errors_.size() == 1 ? " input error" : " input errors");
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
    strings(input_errors_);
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
    if (!input_errors_.empty()) return kExitUsage;
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
      options.kubernetes_minor = flags_.kubernetes_minor;
      const policy::DefaultsPlan plan = policy::PlanDefaults(read.pod, *effective, options);
      policy::ApplyDefaultsPlan(plan, read.pod, *pod, document.GetAllocator());
    }
  }

  void PrintText(std::ostream& out) const {
    int allowed = 0, denied = 0, skipped = 0;
    for (const CheckedObject& object : objects_) {
      const std::string subject = object.kind + " " + object.namespace_name + "/" +
                                  object.DisplayName() + "  (" + object.Location() + ")";
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
    if (!input_errors_.empty()) {
      out << "; " << input_errors_.size()
          << (input_errors_.size() == 1 ? " input error" : " input errors");
    }
    out << "\n";
  }

  // Where an object came from and what it is, as the JSON outputs name it.
  template <class Writer>
  static void WriteSubject(Writer& writer, const CheckedObject& object) {
    auto string = [&](std::string_view text) {
      writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    };
    writer.Key("file");
    string(object.file->name);
    writer.Key("document");
    writer.Int(static_cast<int>(object.document + 1));
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
    strings(input_errors_);
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
    writer.Int(static_cast<int>(input_errors_.size()));
    writer.EndObject();
    writer.EndObject();
    out << json.text() << "\n";
  }

  // The (defaulted) manifests as a YAML stream, in input order. Comments and anchors do not
  // survive: the output is the JSON tree the objects were read as.
  bool PrintManifestsYaml(std::ostream& out) const {
    YAML::Emitter emitter;
    emitter.SetNullFormat(YAML::LowerNull);
    for (const auto& file : files_) {
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
    if (!input_errors_.empty()) return kExitUsage;
    for (const CheckedObject& object : objects_) {
      if (object.verdict == Verdict::kDenied) return kExitDenied;
    }
    return kExitAllowed;
  }

 private:
  void InputError(std::string message) {
    std::cerr << "palisade check: " << message << "\n";
    input_errors_.push_back(std::move(message));
  }

  // Records `value` (or, for a List, each of its items) as objects to judge.
  void Collect(InputFile& file, std::size_t document, const Value& value,
               const std::string& pointer, const std::string& item_path, const std::string& where) {
    if (!value.IsObject()) {
      InputError(where + ": not a Kubernetes object (a mapping with apiVersion and kind)");
      return;
    }
    if (IsList(value)) {
      const Value& items = value["items"];
      for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
        const std::string index = std::to_string(i);
        const std::string path =
            (item_path.empty() ? "" : item_path + ".") + "items[" + index + "]";
        Collect(file, document, items[i], pointer + "/items/" + index, path,
                file.name + ": document " + std::to_string(document + 1) + ", " + path);
      }
      return;
    }
    const std::string_view kind = StringMember(value, "kind");
    if (kind.empty()) {
      InputError(where + ": kind: required: the object must say what it is");
      return;
    }
    if (kind == "Namespace" && StringMember(value, "apiVersion") == "v1") {
      ReadNamespaceLabels(value, where);
    }
    CheckedObject object;
    object.file = &file;
    object.document = document;
    object.pointer = pointer;
    object.item_path = item_path;
    object.kind = kind;
    object.type = policy::ObjectTypeFromKind(kind);
    const Value* metadata = Metadata(value);
    std::string_view name = metadata ? StringMember(*metadata, "name") : "";
    if (name.empty() && metadata) name = StringMember(*metadata, "generateName");
    object.name = name;
    const std::string_view own_namespace = metadata ? StringMember(*metadata, "namespace") : "";
    object.namespace_name = !flags_.namespace_name.empty() ? flags_.namespace_name
                            : !own_namespace.empty()       ? std::string(own_namespace)
                                                           : "default";
    objects_.push_back(std::move(object));
  }

  // A Namespace of the input: its labels select policies (with the label the API server sets on
  // every namespace, kubernetes.io/metadata.name).
  void ReadNamespaceLabels(const Value& value, const std::string& where) {
    const Value* metadata = Metadata(value);
    const std::string name(metadata ? StringMember(*metadata, "name") : "");
    if (name.empty()) return;
    policy::Labels& labels = input_labels_[name];
    labels.clear();
    labels["kubernetes.io/metadata.name"] = name;
    if (metadata == nullptr) return;
    const auto found = metadata->FindMember("labels");
    if (found == metadata->MemberEnd() || !found->value.IsObject()) return;
    for (const auto& member : found->value.GetObject()) {
      const std::string key(member.name.GetString(), member.name.GetStringLength());
      if (!member.value.IsString()) {
        InputError(where + ": metadata.labels." + key + ": must be a string");
        continue;
      }
      labels[key] = std::string(member.value.GetString(), member.value.GetStringLength());
    }
  }

 public:
  // Every namespace's labels: from the Namespace objects of the input, else `fallback`
  // (--namespace-labels) for the namespaces of the judged objects. Resolves the policies with them.
  std::shared_ptr<const policy::NamespaceLabels> ResolveNamespaceLabels(
      const policy::Labels& fallback) {
    auto labels = std::make_shared<policy::NamespaceLabels>();
    for (const auto& [name, each] : input_labels_) labels->by_name[name] = each;
    for (const CheckedObject& object : objects_) {
      if (labels->by_name.contains(object.namespace_name)) continue;
      policy::Labels each = fallback;
      each["kubernetes.io/metadata.name"] = object.namespace_name;
      labels->by_name[object.namespace_name] = std::move(each);
    }
    if (policies_) policies_ = policies_->WithNamespaceLabels(labels);
    return labels;
  }

 private:
  static rapidjson::Document& Document(const CheckedObject& object) {
    return object.file->documents[object.document].json;
  }

  const Value& ObjectValue(const CheckedObject& object) const {
    const rapidjson::Document& document = object.file->documents[object.document].json;
    if (object.pointer.empty()) return document;
    const Value* value = rapidjson::Pointer(object.pointer.c_str()).Get(document);
    return value != nullptr ? *value : document;
  }

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
  std::vector<std::unique_ptr<InputFile>> files_;  // stable addresses for CheckedObject::file
  std::vector<CheckedObject> objects_;
  std::vector<std::string> input_errors_;
  std::map<std::string, policy::Labels> input_labels_;  // from Namespace objects, by name
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
  if (flags.files.empty()) return usage("no input: give manifest files, or - for standard input");
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
  command
      ->add_option("--kubernetes-version", flags->kubernetes_version,
                   "The cluster's version X.Y: AppArmor defaults as the field (1.30+) or the "
                   "annotation")
      ->capture_default_str();
  command->add_option("--namespace-labels", flags->namespace_labels,
                      "Labels k=v,... of the namespaces that have no Namespace object in the input "
                      "(for namespaceSelector and PSA labels)");
  command->add_option("--today", flags->today,
                      "The date exceptions are judged on, YYYY-MM-DD (default: today, UTC)");
  command->add_option("files", flags->files, "Manifest files (YAML or JSON), or - for stdin");
  command->callback([flags, exit_code] { *exit_code = Check(*flags); });
}

}  // namespace palisade::cli
