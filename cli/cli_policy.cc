// `palisade policy lint`, `explain` and `schema`: the policy directory as the server reads it
// (LoadPolicyDirectory, PolicySet::ForNamespace), so lint passes exactly what the server loads;
// explain and schema come from the field table (policy/policy_fields.h).

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <CLI/CLI.hpp>

#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli.h"
#include "policy/check.h"
#include "policy/label_selector.h"
#include "policy/namespace_policy.h"
#include "policy/policy_fields.h"
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
  std::string directory;   // positional
  std::string policy_dir;  // --policy-dir, as every other command takes it
  std::string output = "text";
  std::string today;  // YYYY-MM-DD: when exceptions expire; "" for the system date (UTC)
};

struct ExplainFlags {
  std::string policy_dir;
  std::string namespace_name;
  std::string namespace_labels;  // k=v,...
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
  return "[" + policy::check_text::JoinQuote(items) + "]";
}

// "1 file", "2 files"
std::string Count(std::size_t count, std::string_view singular, std::string_view plural) {
  return std::to_string(count) + " " + std::string(count == 1 ? singular : plural);
}

bool IsDirectory(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

std::string FileAndDocument(const NamespacePolicy& policy) {
  return policy.file + ": document " + std::to_string(policy.document_index + 1);
}

Value ListValue(const std::vector<std::string>& items, Allocator& allocator) {
  Value out(rapidjson::kArrayType);
  for (const std::string& item : items) out.PushBack(Text(item, allocator), allocator);
  return out;
}

// ---- lint ----

int Lint(const LintFlags& flags) {
  if (flags.output != "text" && flags.output != "json") {
    std::cerr << "palisade policy lint: -o must be text or json, got \"" << flags.output << "\"\n";
    return kExitUsage;
  }
  if (!flags.directory.empty() && !flags.policy_dir.empty() &&
      flags.directory != flags.policy_dir) {
    std::cerr << "palisade policy lint: give the directory once (--policy-dir or as argument)\n";
    return kExitUsage;
  }
  const std::string& directory = flags.policy_dir.empty() ? flags.directory : flags.policy_dir;
  if (directory.empty()) {
    std::cerr << "palisade policy lint: which directory? (--policy-dir DIR)\n";
    return kExitUsage;
  }
  if (!IsDirectory(directory)) {
    std::cerr << "palisade policy lint: " << directory << " is not a directory\n";
    return kExitUsage;
  }
  const std::optional<policy::Day> today =
      flags.today.empty() ? policy::DayOf(std::time(nullptr)) : policy::ParseDate(flags.today);
  if (!today) {
    std::cerr << "palisade policy lint: --today must be a date YYYY-MM-DD, got \"" << flags.today
              << "\"\n";
    return kExitUsage;
  }
  PolicyLoadResult loaded = LoadPolicyDirectory(directory);
  std::vector<policy::PolicyError> problems, warnings;
  for (policy::PolicyError& error : loaded.errors) {
    (error.warning ? warnings : problems).push_back(std::move(error));
  }
  // An expired exception waives nothing (fail closed), so the policy is still safe to serve: a
  // warning asks for it to be renewed or removed without failing unrelated changes in CI.
  if (loaded.set != nullptr) {
    for (const NamespacePolicy& policy : loaded.set->policies()) {
      const auto& exceptions = policy.values.exceptions;
      for (std::size_t i = 0; i < exceptions.size(); ++i) {
        if (exceptions[i].InForce(today)) continue;
        warnings.push_back(policy::PolicyError{policy.file, policy.document_index,
                                               "spec.exceptions[" + std::to_string(i) + "].expires",
                                               "exception \"" + exceptions[i].name +
                                                   "\" expired on " + exceptions[i].expires +
                                                   ": it waives nothing; renew or remove it",
                                               true});
      }
    }
  }
  // A policy directory without policies is almost always a wrong path in CI.
  if (problems.empty() && loaded.files.empty()) {
    problems.push_back(
        policy::PolicyError{directory, -1, "", "no policy files (*.yaml, *.yml or *.json) found"});
  }
  // Only the valid ones: a document whose text failed may still have a last good revision in a
  // server, but lint judges the text.
  std::vector<const NamespacePolicy*> policies;
  if (loaded.set != nullptr) {
    for (const NamespacePolicy& policy : loaded.set->policies()) policies.push_back(&policy);
  }

  if (flags.output == "json") {
    rapidjson::Document out(rapidjson::kObjectType);
    Allocator& allocator = out.GetAllocator();
    Value files(rapidjson::kArrayType);
    for (const std::string& file : loaded.files) files.PushBack(Text(file, allocator), allocator);
    Value listed(rapidjson::kArrayType);
    for (const NamespacePolicy* policy : policies) {
      Value entry(rapidjson::kObjectType);
      entry.AddMember("name", Text(policy->name, allocator), allocator);
      entry.AddMember("revision", Text(policy->revision, allocator), allocator);
      entry.AddMember("file", Text(policy->file, allocator), allocator);
      entry.AddMember("document", policy->document_index + 1, allocator);
      entry.AddMember("namespaces", ListValue(policy->namespaces, allocator), allocator);
      listed.PushBack(entry, allocator);
    }
    const auto entries = [&](const std::vector<policy::PolicyError>& list) {
      Value array(rapidjson::kArrayType);
      for (const policy::PolicyError& problem : list) {
        Value entry(rapidjson::kObjectType);
        entry.AddMember("file", Text(problem.file, allocator), allocator);
        if (problem.document_index >= 0) {
          entry.AddMember("document", problem.document_index + 1, allocator);
        }
        entry.AddMember("field", Text(problem.field, allocator), allocator);
        entry.AddMember("reason", Text(problem.reason, allocator), allocator);
        entry.AddMember("message", Text(problem.ToString(), allocator), allocator);
        array.PushBack(entry, allocator);
      }
      return array;
    };
    Value summary(rapidjson::kObjectType);
    summary.AddMember("files", static_cast<std::uint64_t>(loaded.files.size()), allocator);
    summary.AddMember("documents", static_cast<std::uint64_t>(loaded.documents), allocator);
    summary.AddMember("policies", static_cast<std::uint64_t>(policies.size()), allocator);
    summary.AddMember("problems", static_cast<std::uint64_t>(problems.size()), allocator);
    summary.AddMember("warnings", static_cast<std::uint64_t>(warnings.size()), allocator);
    out.AddMember("files", files, allocator);
    out.AddMember("policies", listed, allocator);
    out.AddMember("errors", entries(problems), allocator);
    out.AddMember("warnings", entries(warnings), allocator);
    out.AddMember("summary", summary, allocator);
    std::cout << PrettyJson(out);
  } else {
    for (const policy::PolicyError& problem : problems) std::cout << problem.ToString() << "\n";
    for (const policy::PolicyError& warning : warnings) {
      std::cout << "warning: " << warning.ToString() << "\n";
    }
    for (const NamespacePolicy* policy : policies) {
      std::cout << "ok  policy \"" << policy->name << "\" rev " << policy->revision
                << "  namespaces " << QuotedList(policy->namespaces) << "  ("
                << FileAndDocument(*policy) << ")\n";
    }
    // The same counts as the JSON summary.
    std::cout << directory << ": " << Count(loaded.files.size(), "file", "files") << ", "
              << Count(loaded.documents, "document", "documents") << ", "
              << Count(policies.size(), "valid policy", "valid policies") << ", "
              << (problems.empty() ? "no problems" : Count(problems.size(), "problem", "problems"));
    if (!warnings.empty()) std::cout << ", " << Count(warnings.size(), "warning", "warnings");
    std::cout << "\n";
  }
  return problems.empty() ? kExitOk : kExitProblems;
}

// ---- explain ----

// The fields `explain` shows: every merged row of the field table, in its order.
std::vector<const policy::SpecField*> ExplainedFields() {
  std::vector<const policy::SpecField*> fields;
  for (const policy::SpecField& field : policy::SpecFields()) {
    if (field.merged) fields.push_back(&field);
  }
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

// `"team-*"`, or `selector "env=prod"` as it is.
std::string MatchedByText(const std::string& matched_by) {
  return matched_by.starts_with("selector") ? matched_by : "\"" + matched_by + "\"";
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
  std::string label_error;
  std::optional<policy::Labels> labels =
      policy::ParseLabelList(flags.namespace_labels, &label_error);
  if (!labels) return usage("--namespace-labels: " + label_error);
  (*labels)["kubernetes.io/metadata.name"] = ns;  // as the API server sets it
  auto namespace_labels = std::make_shared<policy::NamespaceLabels>();
  namespace_labels->by_name[ns] = *labels;
  const auto set = loaded.set->WithNamespaceLabels(namespace_labels);
  const std::shared_ptr<const EffectivePolicy> effective = set->ForNamespace(ns);

  rapidjson::Document out(rapidjson::kObjectType);
  Allocator& allocator = out.GetAllocator();
  out.AddMember("namespace", Text(ns, allocator), allocator);
  Value policies(rapidjson::kArrayType);
  for (const std::string& name : effective->matched) {
    const NamespacePolicy* policy = FindPolicy(*set, name);
    if (policy == nullptr) continue;
    Value entry(rapidjson::kObjectType);
    entry.AddMember("name", Text(policy->name, allocator), allocator);
    entry.AddMember("revision", Text(policy->revision, allocator), allocator);
    entry.AddMember("matchedBy", Text(policy::MatchedBy(*policy, ns, *labels), allocator),
                    allocator);
    entry.AddMember("file", Text(policy->file, allocator), allocator);
    entry.AddMember("document", policy->document_index + 1, allocator);
    policies.PushBack(entry, allocator);
  }
  Value fields(rapidjson::kObjectType);
  Value not_set(rapidjson::kArrayType);
  for (const policy::SpecField* field : ExplainedFields()) {
    std::optional<policy::ExplainedValue> value = field->explain(*effective, allocator);
    const policy::FieldSource* source = effective->SourceOf(field->path);
    if (!value || source == nullptr) {
      not_set.PushBack(Text(field->path, allocator), allocator);
      continue;
    }
    Value entry(rapidjson::kObjectType);
    entry.AddMember("value", value->value, allocator);
    if (!value->evaluated_as.empty()) {
      entry.AddMember("evaluatedAs", Text(value->evaluated_as, allocator), allocator);
    }
    if (!source->label.empty()) {
      entry.AddMember("label", Text(source->label, allocator), allocator);
    } else {
      entry.AddMember("policy", Text(source->policy, allocator), allocator);
      entry.AddMember("revision", Text(source->revision, allocator), allocator);
      const NamespacePolicy* policy = FindPolicy(*set, source->policy);
      const std::string by = policy ? policy::MatchedBy(*policy, ns, *labels) : "";
      if (by.starts_with("selector")) {  // the selector as Kubernetes prints it ("" for {})
        entry.AddMember("selector", Text(policy->namespace_selector->ToString(), allocator),
                        allocator);
      }
    }
    fields.AddMember(Text(field->path, allocator), entry, allocator);
  }

  Value label_values(rapidjson::kObjectType);
  for (const auto& [key, value] : *labels) {
    label_values.AddMember(Text(key, allocator), Text(value, allocator), allocator);
  }
  Value label_errors(rapidjson::kArrayType);
  for (const std::string& error : effective->label_errors) {
    label_errors.PushBack(Text(error, allocator), allocator);
  }
  if (flags.output == "json") {
    out.AddMember("labels", label_values, allocator);
    if (!label_errors.Empty()) out.AddMember("labelErrors", label_errors, allocator);
    out.AddMember("policies", policies, allocator);
    out.AddMember("effective", fields, allocator);
    out.AddMember("notSet", not_set, allocator);
    std::cout << PrettyJson(out);
    return kExitOk;
  }

  std::cout << "namespace \"" << ns << "\"\n";
  if (labels->size() > 1) {
    std::cout << "labels:";
    for (const auto& [key, value] : *labels) std::cout << " " << key << "=" << value;
    std::cout << "\n";
  }
  for (const Value& error : label_errors.GetArray()) {
    std::cout << "invalid PSA label " << error.GetString() << "\n";
  }
  if (policies.Empty() && effective->sources.empty()) {
    std::cout << "no policy applies: privileged, no defaults\n";
    return kExitOk;
  }
  std::cout << "policies that apply, least specific first:\n";
  for (const Value& entry : policies.GetArray()) {
    std::cout << "  \"" << entry["name"].GetString() << "\" rev " << entry["revision"].GetString()
              << "  matched by " << MatchedByText(entry["matchedBy"].GetString()) << "  ("
              << entry["file"].GetString() << ": document " << entry["document"].GetInt() << ")\n";
  }
  std::cout << "effective policy:\n";
  for (const policy::SpecField* field : ExplainedFields()) {
    const auto it = std::as_const(fields).FindMember(
        Value(rapidjson::StringRef(field->path.data(), field->path.size())));
    if (it == std::as_const(fields).MemberEnd()) {
      if (!field->built_in.empty()) {
        std::cout << "  " << field->path << ": " << field->built_in << "  (built-in default)\n";
      }
      continue;
    }
    const Value& entry = it->value;
    // Exceptions one per line, each with its reason and expiry: they are what a reviewer reads.
    if (field->path == "exceptions" && entry["value"].IsArray()) {
      std::cout << "  exceptions:  (from \"" << entry["policy"].GetString() << "\" rev "
                << entry["revision"].GetString() << ")\n";
      for (const Value& exception : entry["value"].GetArray()) {
        std::cout << "    " << exception["name"].GetString() << ": expires "
                  << exception["expires"].GetString();
        for (const char* key : {"checks", "containers", "images", "values"}) {
          if (exception.HasMember(key)) std::cout << "; " << key << " " << FlowText(exception[key]);
        }
        std::cout << "\n      reason: " << exception["reason"].GetString() << "\n";
      }
      continue;
    }
    std::cout << "  " << field->path << ": " << FlowText(entry["value"]);
    if (entry.HasMember("evaluatedAs") &&
        FlowText(entry["value"]) != entry["evaluatedAs"].GetString()) {
      const std::string evaluated = entry["evaluatedAs"].GetString();
      std::cout << " (" << evaluated.substr(evaluated.find(':') + 1) << ")";
    }
    if (entry.HasMember("label")) {
      std::cout << "  (PSA label " << entry["label"].GetString() << ")\n";
      continue;
    }
    std::cout << "  (from \"" << entry["policy"].GetString() << "\" rev "
              << entry["revision"].GetString();
    if (entry.HasMember("selector")) {
      const std::string selector = entry["selector"].GetString();
      std::cout << ", selector " << (selector.empty() ? "{}" : "\"" + selector + "\"");
    }
    std::cout << ")\n";
  }
  std::string unset;
  for (const Value& path : not_set.GetArray()) {
    const std::string_view name(path.GetString(), path.GetStringLength());
    bool has_built_in = false;
    for (const policy::SpecField* field : ExplainedFields()) {
      if (field->path == name) has_built_in = !field->built_in.empty();
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
  lint->add_option("directory", lint_flags->directory, "The policy directory (or --policy-dir)");
  lint->add_option("--policy-dir", lint_flags->policy_dir, "The policy directory");
  lint->add_option("-o,--output", lint_flags->output, "text or json")->capture_default_str();
  lint->add_option("--today", lint_flags->today,
                   "The date exceptions are judged on, YYYY-MM-DD (default: today, UTC)");
  lint->callback([lint_flags, exit_code] { *exit_code = Lint(*lint_flags); });

  auto explain_flags = std::make_shared<ExplainFlags>();
  CLI::App* explain = policy->add_subcommand(
      "explain", "The effective policy for a namespace and which document set each field");
  explain->add_option("--policy-dir", explain_flags->policy_dir, "The policy directory")
      ->required();
  explain->add_option("--namespace,-n", explain_flags->namespace_name, "The namespace")->required();
  explain->add_option("--namespace-labels", explain_flags->namespace_labels,
                      "The namespace's labels k=v,... (for namespaceSelector and PSA labels)");
  explain->add_option("-o,--output", explain_flags->output, "text or json")->capture_default_str();
  explain->callback([explain_flags, exit_code] { *exit_code = Explain(*explain_flags); });

  auto spec_only = std::make_shared<bool>(false);
  CLI::App* schema = policy->add_subcommand(
      "schema", "Print the JSON Schema of a NamespacePolicy (for editors and the chart's values)");
  schema->add_flag("--spec", *spec_only, "Only the schema of spec");
  schema->callback([spec_only, exit_code] {
    std::cout << PrettyJson(*spec_only ? policy::NamespacePolicySpecSchema()
                                       : policy::NamespacePolicySchema());
    *exit_code = kExitOk;
  });
}

}  // namespace palisade::cli
