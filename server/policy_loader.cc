#include "server/policy_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "server/yaml_json.h"

namespace palisade::server {

namespace fs = std::filesystem;
using policy::NamespacePolicy;
using policy::PolicyError;

namespace {

// Policy texts come from ConfigMaps and files people write, and through the webhook's ConfigMap
// review from whoever reaches the port. Long flow collections are refused before yaml-cpp holds
// them whole (1,000 policies written as JSON have about 20,000 flow marks). A policy is tens of
// nodes, a thousand with long exception lists: 200,000 nodes a document, 10,000 documents a text
// and 2,000,000 nodes in all the texts of one load (aliases expanded) leave room for a hundred
// times that, and bound what one text, or a ConfigMap of a thousand small alias bombs, costs.
constexpr YamlLimits kPolicyYamlLimits{.max_depth = 200,
                                       .max_nodes = 200'000,
                                       .max_flow_marks = 100'000,
                                       .max_documents = 10'000,
                                       .max_text_nodes = 2'000'000};

constexpr std::uintmax_t kMaxFileBytes = 8 * 1024 * 1024;
constexpr int kMaxAttempts = 5;

// Where the kubelet's ..data link points, or "" when there is none.
std::string DataLinkTarget(const fs::path& directory) {
  std::error_code error;
  const fs::path target = fs::read_symlink(directory / "..data", error);
  return error ? std::string() : target.string();
}

PolicySource ReadOnce(const fs::path& directory) {
  PolicySource source;
  std::error_code error;
  std::vector<std::string> names;
  fs::directory_iterator entries(directory, error);
  for (const fs::directory_iterator end; !error && entries != end; entries.increment(error)) {
    const std::string name = entries->path().filename().string();
    if (IsPolicyFileName(name)) names.push_back(name);
  }
  if (error) {
    source.error = "cannot read directory: " + error.message();
    return source;
  }
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    const fs::path path = directory / name;
    PolicyFile file{path.string(), "", ""};
    const fs::file_status status = fs::status(path, error);  // follows symlinks
    if (status.type() == fs::file_type::not_found) {
      file.error = "cannot read: dangling symbolic link";
    } else if (error) {
      file.error = "cannot read: " + error.message();
    } else if (!fs::is_regular_file(status)) {
      continue;
    } else if (const std::uintmax_t size = fs::file_size(path, error); error) {
      file.error = "cannot read: " + error.message();
    } else if (size > kMaxFileBytes) {
      file.error = "file is larger than " + std::to_string(kMaxFileBytes) + " bytes";
    } else {
      std::ifstream in(path, std::ios::binary);
      file.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) file.error = "cannot read file";
    }
    error.clear();
    source.files.push_back(std::move(file));
  }
  return source;
}

std::string FirstError(const std::vector<PolicyError>& errors, std::size_t from) {
  for (std::size_t i = from; i < errors.size(); ++i) {
    if (!errors[i].warning) return errors[i].ToString();
  }
  return "";
}

}  // namespace

bool IsPolicyFileName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (const std::string_view extension : {".yaml", ".yml", ".json"}) {
    if (name.size() > extension.size() && name.ends_with(extension)) return true;
  }
  return false;
}

bool PolicyLoadResult::ok() const { return set != nullptr && error_count() == 0; }

std::size_t PolicyLoadResult::error_count() const {
  return static_cast<std::size_t>(std::count_if(
      errors.begin(), errors.end(), [](const PolicyError& error) { return !error.warning; }));
}

std::vector<NamespacePolicy> ParsePolicyText(std::string_view text, std::string_view file,
                                             std::vector<PolicyError>* errors) {
  std::vector<NamespacePolicy> policies;
  ForEachYamlDocument(
      text,
      [&](const YamlDocument& document) {
        if (!document.ok()) {
          errors->push_back(
              PolicyError{std::string(file), document.index, "", document.ErrorString()});
          return;
        }
        if (document.empty) return;
        if (auto policy =
                policy::ParseNamespacePolicy(document.json, file, document.index, errors)) {
          policies.push_back(std::move(*policy));
        }
      },
      kPolicyYamlLimits);
  return policies;
}

PolicySource ReadPolicyDirectory(const std::string& directory) {
  const fs::path path(directory);
  PolicySource source;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const std::string before = DataLinkTarget(path);
    source = ReadOnce(path);
    if (DataLinkTarget(path) == before) break;  // no ConfigMap swap while reading
  }
  return source;
}

PolicyLoadResult BuildPolicies(const PolicySource& source, const policy::PolicySet* previous) {
  PolicyLoadResult result;
  if (!source.error.empty()) {
    result.errors.push_back(PolicyError{"", -1, "", source.error});
    return result;
  }
  std::vector<policy::SourceDocument> documents;
  std::size_t nodes = 0;  // in the files read so far: kPolicyYamlLimits.max_text_nodes is for all
  for (const PolicyFile& file : source.files) {
    result.files.push_back(file.name);
    if (!file.error.empty()) {
      result.errors.push_back(PolicyError{file.name, -1, "", file.error});
      documents.push_back(
          {file.name, 0, std::nullopt, {}, result.errors.back().ToString(), /*unreadable=*/true});
      continue;
    }
    // One parsed document at a time: each is turned into its policy and freed before the next.
    nodes += ForEachYamlDocument(
        file.text,
        [&](const YamlDocument& yaml) {
          const std::size_t first_error = result.errors.size();
          if (!yaml.ok()) {
            result.errors.push_back(PolicyError{file.name, yaml.index, "", yaml.ErrorString()});
            documents.push_back({file.name,
                                 yaml.index,
                                 std::nullopt,
                                 {},
                                 result.errors.back().ToString(),
                                 /*unreadable=*/true});
            return;
          }
          if (yaml.empty) return;
          policy::SourceDocument document{file.name, yaml.index, std::nullopt, {}, "", false};
          document.policy = policy::ParseNamespacePolicy(yaml.json, file.name, yaml.index,
                                                         &result.errors, &document.identity);
          document.problem = FirstError(result.errors, first_error);
          documents.push_back(std::move(document));
        },
        kPolicyYamlLimits, nodes);
  }
  for (const policy::SourceDocument& document : documents) {
    if (!document.unreadable) ++result.documents;
  }
  policy::AssembledPolicies assembled = policy::AssemblePolicySet(std::move(documents), previous);
  result.errors.insert(result.errors.end(), assembled.errors.begin(), assembled.errors.end());
  result.failing = std::move(assembled.failing);
  result.set = std::move(assembled.set);
  return result;
}

PolicyLoadResult LoadPolicyDirectory(const std::string& directory,
                                     const policy::PolicySet* previous) {
  PolicySource source = ReadPolicyDirectory(directory);
  if (!source.error.empty()) source.error = directory + ": " + source.error;
  return BuildPolicies(source, previous);
}

}  // namespace palisade::server
