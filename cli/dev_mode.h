#pragma once

// `palisade serve --dev`: a self-signed certificate for localhost/127.0.0.1 made at start, and the
// example policies (embedded at build time from deploy/policies/) written to a temporary
// directory, plus a request to paste into a shell.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace palisade::cli {

// Generated from deploy/policies/*.yaml by cli/embed_files.cmake: (file name, content).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPolicyFiles();

struct DevEnvironment {
  std::string directory;  // the temporary directory holding everything below
  std::string cert_file;
  std::string key_file;
  std::string policy_dir;
};

std::optional<DevEnvironment> PrepareDevEnvironment(std::string* error);
void RemoveDevEnvironment(const DevEnvironment& environment);

// A curl command that works as pasted: a pod with privileged containers and host networking sent
// to /validate, which the example policies deny.
std::string DevRequestExample(std::uint16_t port);

}  // namespace palisade::cli
