// `palisade policy lint` and `palisade policy explain`: the policy directory as the server reads
// it (LoadPolicyDirectory, PolicySet::ForNamespace), so lint passes exactly what the server loads.

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/level_version.h"
#include "policy/namespace_policy.h"
#include "cli/cli.h"
#include "server/policy_loader.h"

namespace palisade::cli {
using namespace palisade::server;  // NOLINT: the commands are built on the server library

namespace {

using policy::EffectivePolicy;
using policy::NamespacePolicy;
using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;
constexpr int kExitUsage = 2;

struct LintFlags {
  std::string directory;
  std::string output = "text";
};

struct ExplainFlags {
  std::string policy_dir;
  std::string namespace_name;
  std::string output = "text";
};

std::string PrettyJson(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

Value Text(std::string_view text, Allocator& allocator) {
  return Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
}

std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) {
    out += (out.size() > 1 ? ", \"" : "\"") + item + "\"";
  }
  return out + "]";
}

bool IsDirectory(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

std::string FileAndDocument(const NamespacePolicy& policy) {
  return policy.file + ": document " + std::to_string(policy.document_index + 1);
}

// ---- lint ----

int Lint(const LintFlags& flags) {
  if (flags.output != "text" && flags.output != "json") {
    std::cerr << "palisade policy lint: -o must be text or json, got \"" << flags.output << "\"\n";
    return kExitUsage;
  }
  if (!IsDirectory(flags.directory)) {
    std::cerr << "palisade policy lint: " << flags.directory << " is not a directory\n";
    return kExitUsage;
  }
  PolicyLoadResult loaded = LoadPolicyDirectory(flags.directory);
  std::vector<policy::PolicyError> problems = std::move(loaded.errors);
  // A policy directory without policies is almost always a wrong path in CI.
  if (problems.empty() && loaded.files.empty()) {
    problems.push_back(policy::PolicyError{flags.directory, -1, "",
                                           "no policy files (*.yaml, *.yml or *.json) found"});
  }
  const std::vector<NamespacePolicy> none;
  const std::vector<NamespacePolicy>& policies = loaded.set ? loaded.set->policies() : none;

  if (flags.output == "json") {
    rapidjson::Document out(rapidjson::kObjectType);
    Allocator& allocator = out.GetAllocator();
    Value files(rapidjson::kArrayType);
    for (const std::string& file : loaded.files) files.PushBack(Text(file, allocator), allocator);
    Value listed(rapidjson::kArrayType);
    for (const NamespacePolicy& policy : policies) {
      Value entry(rapidjson::kObjectType);
      entry.AddMember("name", Text(policy.name, allocator), allocator);
      entry.AddMember("revision", Text(policy.revision, allocator), allocator);
      entry.AddMember("file", Text(policy.file, allocator), allocator);
      entry.AddMember("document", policy.document_index + 1, allocator);
      Value namespaces(rapidjson::kArrayType);
      for (const std::string& pattern : policy.namespaces) {
        namespaces.PushBack(Text(pattern, allocator), allocator);
      }
      entry.AddMember("namespaces", namespaces, allocator);
      listed.PushBack(entry, allocator);
    }
    Value errors(rapidjson::kArrayType);
    for (const policy::PolicyError& problem : problems) {
      Value entry(rapidjson::kObjectType);
      entry.AddMember("file", Text(problem.file, allocator), allocator);
      if (problem.document_index >= 0) {
        entry.AddMember("document", problem.document_index + 1, allocator);
      }
      entry.AddMember("field", Text(problem.field, allocator), allocator);
      entry.AddMember("reason", Text(problem.reason, allocator), allocator);
      entry.AddMember("message", Text(problem.ToString(), allocator), allocator);
      errors.PushBack(entry, allocator);
    }
    out.AddMember("files", files, allocator);
    out.AddMember("policies", listed, allocator);
    out.AddMember("errors", errors, allocator);
    std::cout << PrettyJson(out);
  } else {
    for (const policy::PolicyError& problem : problems) std::cout << problem.ToString() << "\n";
    for (const NamespacePolicy& policy : policies) {
      std::cout << "ok  policy \"" << policy.name << "\" rev " << policy.revision << "  namespaces "
                << QuotedList(policy.namespaces) << "  (" << FileAndDocument(policy) << ")\n";
    }
    const std::size_t files = loaded.files.size();
    std::cout << flags.directory << ": " << files << (files == 1 ? " file, " : " files, ");
    if (problems.empty()) {
      std::cout << policies.size() << (policies.size() == 1 ? " policy" : " policies")
                << ", no problems\n";
    } else {
      std::cout << problems.size() << (problems.size() == 1 ? " problem" : " problems") << "\n";
    }
  }
  return problems.empty() ? kExitOk : kExitProblems;
}

// ---- explain ----

// "restricted:latest" keeps what the policy said; the evaluated version is shown beside it.
std::string LevelText(const policy::LevelVersion& level) {
  if (!level.latest) return level.ToString();
  return std::string(policy::LevelName(level.level)) + ":latest";
}

Value ProfileValue(const policy::Profile& profile, Allocator& allocator) {
  Value out(rapidjson::kObjectType);
  out.AddMember("type", Text(profile.type, allocator), allocator);
  if (!profile.localhost_profile.empty()) {
    out.AddMember("localhostProfile", Text(profile.localhost_profile, allocator), allocator);
  }
  return out;
}

Value ListValue(const std::vector<std::string>& items, Allocator& allocator) {
  Value out(rapidjson::kArrayType);
  for (const std::string& item : items) out.PushBack(Text(item, allocator), allocator);
  return out;
}

// One field of the effective policy: its path (as in the document, under spec) and its value as
// JSON, or null when no matching document sets it.
struct ExplainedField {
  std::string_view path;
  std::function<std::optional<Value>(const EffectivePolicy&, Allocator&)> value;
  std::string_view built_in;  // the value in force when no document sets it ("" for none)
};

template <class T, class Convert>
std::optional<Value> Optional(const std::optional<T>& field, Allocator& allocator,
                              Convert convert) {
  if (!field) return std::nullopt;
  return convert(*field, allocator);
}

const std::vector<ExplainedField>& ExplainedFields() {
  auto level = [](const policy::LevelVersion& value, Allocator& allocator) {
    return Text(LevelText(value), allocator);
  };
  auto profile = [](const policy::Profile& value, Allocator& allocator) {
    return ProfileValue(value, allocator);
  };
  auto list = [](const std::vector<std::string>& value, Allocator& allocator) {
    return ListValue(value, allocator);
  };
  auto boolean = [](bool value, Allocator&) { return Value(value); };
  auto text = [](const std::string& value, Allocator& allocator) { return Text(value, allocator); };
  using E = const EffectivePolicy&;
  using A = Allocator&;
  static const std::vector<ExplainedField> fields = {
      {"podSecurity.enforce", [=](E e, A a) { return Optional(e.enforce, a, level); },
       "privileged"},
      {"podSecurity.warn", [=](E e, A a) { return Optional(e.warn, a, level); }, ""},
      {"podSecurity.audit", [=](E e, A a) { return Optional(e.audit, a, level); }, ""},
      {"defaults.seccompProfile",
       [=](E e, A a) { return Optional(e.default_seccomp_profile, a, profile); }, ""},
      {"defaults.appArmorProfile",
       [=](E e, A a) { return Optional(e.default_app_armor_profile, a, profile); }, ""},
      {"defaults.capabilities.drop",
       [=](E e, A a) { return Optional(e.default_capabilities_drop, a, list); }, ""},
      {"defaults.capabilities.add",
       [=](E e, A a) { return Optional(e.default_capabilities_add, a, list); }, ""},
      {"defaults.allowPrivilegeEscalation",
       [=](E e, A a) { return Optional(e.default_allow_privilege_escalation, a, boolean); }, ""},
      {"defaults.runAsNonRoot",
       [=](E e, A a) { return Optional(e.default_run_as_non_root, a, boolean); }, ""},
      {"defaults.runtimeClassName",
       [=](E e, A a) { return Optional(e.default_runtime_class_name, a, text); }, ""},
      {"rules.action",
       [](E e, A a) -> std::optional<Value> {
         if (e.SourceOf("rules.action") == nullptr) return std::nullopt;
         return Text(policy::ActionName(e.rules_action), a);
       },
       "enforce"},
      {"rules.allowedCapabilities",
       [=](E e, A a) { return Optional(e.allowed_capabilities, a, list); }, ""},
      {"rules.requiredDropCapabilities",
       [=](E e, A a) { return Optional(e.required_drop_capabilities, a, list); }, ""},
      {"rules.allowedSeccompProfiles",
       [=](E e, A a) { return Optional(e.allowed_seccomp_profiles, a, list); }, ""},
      {"rules.allowedAppArmorProfiles",
       [=](E e, A a) { return Optional(e.allowed_app_armor_profiles, a, list); }, ""},
      {"rules.allowedRuntimeClasses",
       [=](E e, A a) { return Optional(e.allowed_runtime_classes, a, list); }, ""},
      {"workloads",
       [](E e, A a) -> std::optional<Value> {
         if (e.SourceOf("workloads") == nullptr) return std::nullopt;
         return Text(e.workloads == policy::WorkloadMode::kWarn ? "warn" : "enforce", a);
       },
       "enforce"},
      {"exemptions.usernames",
       [=](E e, A a) -> std::optional<Value> {
         if (e.SourceOf("exemptions.usernames") == nullptr) return std::nullopt;
         return list(e.exempt_usernames, a);
       },
       ""},
      {"exemptions.runtimeClasses",
       [=](E e, A a) -> std::optional<Value> {
         if (e.SourceOf("exemptions.runtimeClasses") == nullptr) return std::nullopt;
         return list(e.exempt_runtime_classes, a);
       },
       ""},
      {"exemptions.images",
       [=](E e, A a) -> std::optional<Value> {
         if (e.SourceOf("exemptions.images") == nullptr) return std::nullopt;
         return list(e.exempt_images, a);
       },
       ""},
  };
  return fields;
}

// A JSON value in the flow style of the policy documents: [ALL], {type: RuntimeDefault}.
std::string FlowText(const Value& value) {
  if (value.IsString()) return std::string(value.GetString(), value.GetStringLength());
  if (value.IsBool()) return value.GetBool() ? "true" : "false";
  std::string out;
  if (value.IsArray()) {
    for (const Value& item : value.GetArray()) out += (out.empty() ? "" : ", ") + FlowText(item);
    return "[" + out + "]";
  }
  if (value.IsObject()) {
    for (const auto& member : value.GetObject()) {
      out += (out.empty() ? "" : ", ") + std::string(member.name.GetString()) + ": " +
             FlowText(member.value);
    }
    return "{" + out + "}";
  }
  return "null";
}

// The pattern by which `policy` applies to `ns`: the exact name, else its most specific glob.
std::string MatchedBy(const NamespacePolicy& policy, std::string_view ns) {
  std::string best;
  for (const std::string& pattern : policy.namespaces) {
    if (pattern == ns) return pattern;
    if (!policy::GlobMatch(pattern, ns)) continue;
    const bool better = best.empty() || (best == "*" && pattern != "*") ||
                        (pattern != "*" && (pattern.size() > best.size() ||
                                            (pattern.size() == best.size() && pattern > best)));
    if (better) best = pattern;
  }
  return best;
}

const NamespacePolicy* FindPolicy(const policy::PolicySet& set, std::string_view name) {
  for (const NamespacePolicy& policy : set.policies()) {
    if (policy.name == name) return &policy;
  }
  return nullptr;
}

int Explain(const ExplainFlags& flags) {
  auto usage = [](const std::string& message) {
    std::cerr << "palisade policy explain: " << message << "\n";
    return kExitUsage;
  };
  if (flags.output != "text" && flags.output != "json") {
    return usage("-o must be text or json, got \"" + flags.output + "\"");
  }
  if (!IsDirectory(flags.policy_dir)) return usage(flags.policy_dir + " is not a directory");
  const PolicyLoadResult loaded = LoadPolicyDirectory(flags.policy_dir);
  if (!loaded.ok()) {
    std::cerr << "palisade policy explain: the policies in " << flags.policy_dir
              << " have errors (see `palisade policy lint " << flags.policy_dir << "`):\n";
    for (const policy::PolicyError& error : loaded.errors) {
      std::cerr << "  " << error.ToString() << "\n";
    }
    return kExitUsage;
  }
  const std::string& ns = flags.namespace_name;
  const std::shared_ptr<const EffectivePolicy> effective = loaded.set->ForNamespace(ns);

  rapidjson::Document out(rapidjson::kObjectType);
  Allocator& allocator = out.GetAllocator();
  out.AddMember("namespace", Text(ns, allocator), allocator);
  Value policies(rapidjson::kArrayType);
  for (const std::string& name : effective->matched) {
    const NamespacePolicy* policy = FindPolicy(*loaded.set, name);
    if (policy == nullptr) continue;
    Value entry(rapidjson::kObjectType);
    entry.AddMember("name", Text(policy->name, allocator), allocator);
    entry.AddMember("revision", Text(policy->revision, allocator), allocator);
    entry.AddMember("matchedBy", Text(MatchedBy(*policy, ns), allocator), allocator);
    entry.AddMember("file", Text(policy->file, allocator), allocator);
    entry.AddMember("document", policy->document_index + 1, allocator);
    policies.PushBack(entry, allocator);
  }
  Value fields(rapidjson::kObjectType);
  Value not_set(rapidjson::kArrayType);
  for (const ExplainedField& field : ExplainedFields()) {
    std::optional<Value> value = field.value(*effective, allocator);
    const policy::FieldSource* source = effective->SourceOf(field.path);
    if (!value || source == nullptr) {
      not_set.PushBack(Text(field.path, allocator), allocator);
      continue;
    }
    Value entry(rapidjson::kObjectType);
    entry.AddMember("value", *value, allocator);
    if (field.path.starts_with("podSecurity.")) {
      const std::optional<policy::LevelVersion>& level =
          field.path == "podSecurity.enforce" ? effective->enforce
          : field.path == "podSecurity.warn"  ? effective->warn
                                              : effective->audit;
      entry.AddMember("evaluatedAs", Text(level->ToString(), allocator), allocator);
    }
    entry.AddMember("policy", Text(source->policy, allocator), allocator);
    entry.AddMember("revision", Text(source->revision, allocator), allocator);
    fields.AddMember(Text(field.path, allocator), entry, allocator);
  }

  if (flags.output == "json") {
    out.AddMember("policies", policies, allocator);
    out.AddMember("effective", fields, allocator);
    out.AddMember("notSet", not_set, allocator);
    std::cout << PrettyJson(out);
    return kExitOk;
  }

  std::cout << "namespace \"" << ns << "\"\n";
  if (policies.Empty()) {
    std::cout << "no policy applies: privileged, no defaults\n";
    return kExitOk;
  }
  std::cout << "policies that apply, least specific first:\n";
  for (const Value& entry : policies.GetArray()) {
    std::cout << "  \"" << entry["name"].GetString() << "\" rev " << entry["revision"].GetString()
              << "  matched by \"" << entry["matchedBy"].GetString() << "\"  ("
              << entry["file"].GetString() << ": document " << entry["document"].GetInt() << ")\n";
  }
  std::cout << "effective policy:\n";
  for (const ExplainedField& field : ExplainedFields()) {
    const auto it = std::as_const(fields).FindMember(
        Value(rapidjson::StringRef(field.path.data(), field.path.size())));
    if (it == std::as_const(fields).MemberEnd()) {
      if (!field.built_in.empty()) {
        std::cout << "  " << field.path << ": " << field.built_in << "  (built-in default)\n";
      }
      continue;
    }
    const Value& entry = it->value;
    std::cout << "  " << field.path << ": " << FlowText(entry["value"]);
    if (entry.HasMember("evaluatedAs") &&
        FlowText(entry["value"]) != entry["evaluatedAs"].GetString()) {
      const std::string evaluated = entry["evaluatedAs"].GetString();
      std::cout << " (" << evaluated.substr(evaluated.find(':') + 1) << ")";
    }
    std::cout << "  (from \"" << entry["policy"].GetString() << "\" rev "
              << entry["revision"].GetString() << ")\n";
  }
  std::string unset;
  for (const Value& path : not_set.GetArray()) {
    const std::string_view name(path.GetString(), path.GetStringLength());
    bool has_built_in = false;
    for (const ExplainedField& field : ExplainedFields()) {
      if (field.path == name) has_built_in = !field.built_in.empty();
    }
    if (!has_built_in) unset += (unset.empty() ? "" : ", ") + std::string(name);
  }
  if (!unset.empty()) std::cout << "not set: " << unset << "\n";
  return kExitOk;
}

}  // namespace

void RegisterPolicyCommand(CLI::App& app, int* exit_code) {
  CLI::App* policy = app.add_subcommand("policy", "Work with NamespacePolicy files offline");
  policy->require_subcommand(1);

  auto lint_flags = std::make_shared<LintFlags>();
  CLI::App* lint = policy->add_subcommand(
      "lint",
      "Report every problem in a policy directory with file, document and field path (exit 1 on "
      "any)");
  lint->add_option("directory", lint_flags->directory, "The policy directory")->required();
  lint->add_option("-o,--output", lint_flags->output, "text or json")->capture_default_str();
  lint->callback([lint_flags, exit_code] { *exit_code = Lint(*lint_flags); });

  auto explain_flags = std::make_shared<ExplainFlags>();
  CLI::App* explain = policy->add_subcommand(
      "explain", "The effective policy for a namespace and which document set each field");
  explain->add_option("--policy-dir", explain_flags->policy_dir, "The policy directory")
      ->required();
  explain->add_option("--namespace,-n", explain_flags->namespace_name, "The namespace")->required();
  explain->add_option("-o,--output", explain_flags->output, "text or json")->capture_default_str();
  explain->callback([explain_flags, exit_code] { *exit_code = Explain(*explain_flags); });
}

}  // namespace palisade::cli
