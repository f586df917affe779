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

constexpr std::uintmax_t kMaxFileBytes = 8 * 1024 * 1024;
constexpr int kMaxAttempts = 5;

bool IsPolicyFileName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  for (const std::string_view extension : {".yaml", ".yml", ".json"}) {
    if (name.size() > extension.size() &&
        name.compare(name.size() - extension.size(), extension.size(), extension) == 0) {
      return true;
    }
  }
  return false;
}

// Where the kubelet's ..data link points, or "" when there is none.
std::string DataLinkTarget(const fs::path& directory) {
  std::error_code error;
  const fs::path target = fs::read_symlink(directory / "..data", error);
  return error ? std::string() : target.string();
}

PolicyError FileError(const std::string& file, std::string reason) {
  return PolicyError{file, -1, "", std::move(reason)};
}

PolicyLoadResult LoadOnce(const fs::path& directory) {
  PolicyLoadResult result;
  std::error_code error;
  std::vector<std::string> names;
  fs::directory_iterator entries(directory, error);
  if (error) {
    result.errors.push_back(
        FileError(directory.string(), "cannot read directory: " + error.message()));
    return result;
  }
  for (const fs::directory_iterator end; entries != end; entries.increment(error)) {
    const std::string name = entries->path().filename().string();
    if (IsPolicyFileName(name)) names.push_back(name);
  }
  if (error) {
    result.errors.push_back(
        FileError(directory.string(), "cannot read directory: " + error.message()));
    return result;
  }
  std::sort(names.begin(), names.end());

  std::vector<NamespacePolicy> policies;
  for (const std::string& name : names) {
    const fs::path path = directory / name;
    const std::string file = path.string();
    const fs::file_status status = fs::status(path, error);  // follows symlinks
    if (error && status.type() != fs::file_type::not_found) {
      result.errors.push_back(FileError(file, "cannot read: " + error.message()));
      continue;
    }
    if (status.type() == fs::file_type::not_found) {
      result.errors.push_back(FileError(file, "cannot read: dangling symbolic link"));
      continue;
    }
    if (!fs::is_regular_file(status)) continue;
    const std::uintmax_t size = fs::file_size(path, error);
    if (error) {
      result.errors.push_back(FileError(file, "cannot read: " + error.message()));
      continue;
    }
    if (size > kMaxFileBytes) {
      result.errors.push_back(
          FileError(file, "file is larger than " + std::to_string(kMaxFileBytes) + " bytes"));
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      result.errors.push_back(FileError(file, "cannot read file"));
      continue;
    }
    result.files.push_back(file);
    auto parsed = ParsePolicyText(text, file, &result.errors);
    std::move(parsed.begin(), parsed.end(), std::back_inserter(policies));
  }
  // Build even after errors so duplicates among the valid documents are reported too (lint).
  auto set = policy::PolicySet::Build(std::move(policies), &result.errors);
  if (result.errors.empty()) result.set = std::move(set);
  return result;
}

}  // namespace

std::vector<NamespacePolicy> ParsePolicyText(std::string_view text, std::string_view file,
                                             std::vector<PolicyError>* errors) {
  std::vector<NamespacePolicy> policies;
  for (const YamlDocument& document : ParseYamlDocuments(text)) {
    if (!document.ok()) {
      errors->push_back(PolicyError{std::string(file), document.index, "", document.ErrorString()});
      continue;
    }
    if (document.empty) continue;
    if (auto policy = policy::ParseNamespacePolicy(document.json, file, document.index, errors)) {
      policies.push_back(std::move(*policy));
    }
  }
  return policies;
}

PolicyLoadResult LoadPolicyDirectory(const std::string& directory) {
  const fs::path path(directory);
  PolicyLoadResult result;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const std::string before = DataLinkTarget(path);
    result = LoadOnce(path);
    if (DataLinkTarget(path) == before) break;  // no ConfigMap swap while reading
  }
  return result;
}

}  // namespace palisade::server
