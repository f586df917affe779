#pragma once

// Files as the server meets them in a cluster, for the server and faults suites: a temporary
// directory, atomic replacement (as a Secret update) and the kubelet's ConfigMap/Secret layout.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace palisade::test {

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void WriteFile(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  std::ofstream(temp, std::ios::binary | std::ios::trunc) << content;
  std::filesystem::rename(temp, path);  // atomic, like a Secret update
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "palisade-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A ConfigMap or Secret mount as the kubelet lays it out: <name> -> ..data/<name>,
// ..data -> ..<version>, swapped atomically with a rename.
class KubeletDir {
 public:
  explicit KubeletDir(std::string root) : root_(std::move(root)) {
    std::filesystem::create_directories(root_);
  }

  void Publish(const std::map<std::string, std::string>& files) {
    const std::string version = "..v" + std::to_string(++version_);
    std::filesystem::create_directory(root_ + "/" + version);
    for (const auto& [name, content] : files) {
      std::ofstream(root_ + "/" + version + "/" + name) << content;
      const std::string link = root_ + "/" + name;
      if (!std::filesystem::is_symlink(link)) {
        std::filesystem::create_symlink("..data/" + name, link);
      }
    }
    std::filesystem::create_symlink(version, root_ + "/..data_tmp");
    std::filesystem::rename(root_ + "/..data_tmp", root_ + "/..data");
  }

  std::string file(const std::string& name) const { return root_ + "/" + name; }
  const std::string& path() const { return root_; }

 private:
  std::string root_;
  int version_ = 0;
};

// The cluster-wide policy that enforces `enforce`.
inline std::string DefaultPolicy(const std::string& enforce) {
  return "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: cluster-default\n"
         "spec:\n  namespaces: [\"*\"]\n  podSecurity:\n    enforce: " +
         enforce + "\n";
}

}  // namespace palisade::test
