#pragma once

// The objects check, what-if and advise work on, however they came: manifest files (multi-document
// YAML or JSON, `List` documents flattened, Namespace objects read for their labels) or objects
// listed from the cluster (cli/cluster_listing.h). One reader, so the commands cannot disagree on
// what a file holds.

#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/decision.h"
#include "policy/namespace_policy.h"
#include "server/yaml_json.h"

namespace palisade::cli {

// One input file and its documents, kept alive (and mutated in place by check --mutate).
struct InputFile {
  std::string name;
  std::vector<server::YamlDocument> documents;
};

// One object: a document, an item of a `List` document, or an object listed from the API.
struct InputObject {
  InputFile* file = nullptr;  // nullptr for an object listed from the API
  std::size_t document = 0;   // index into file->documents
  std::string pointer;        // JSON Pointer of the object in its document ("" or "/items/3")
  std::string item_path;      // "items[3]" for a List item, "" otherwise
  std::string kind, namespace_name;
  std::string name;  // metadata.name, else metadata.generateName, as /validate names it
  std::optional<policy::ObjectType> type;  // unset: not a pod or workload
  const rapidjson::Value* value = nullptr;

  std::string DisplayName() const { return name.empty() ? "<unnamed>" : name; }
  // "pods.yaml: document 2, items[3]"; "" for an object from the API.
  std::string Location() const;
};

class ObjectInput {
 public:
  // `command` prefixes error messages ("palisade check"); `namespace_override` (-n) replaces
  // every object's namespace.
  ObjectInput(std::string command, std::string namespace_override);

  // Reads each file ("-" is standard input); problems go to stderr and into errors().
  void ReadFiles(const std::vector<std::string>& names);

  // An object listed from the API (items of a list carry no kind: it is given).
  void AddListed(std::shared_ptr<const rapidjson::Value> object, std::string_view kind);
  // A namespace's labels as the API lists them.
  void AddNamespace(const std::string& name, const policy::Labels& labels);

  // Drops what a listed controller makes from its template (the ReplicaSets of a Deployment, the
  // pods of a ReplicaSet, the Jobs of a CronJob), matched by the controller's uid, so each
  // workload counts once. A pod keeps its place when it has a container its controller's template
  // lacks (a sidecar a mutating webhook injected): that container arrives with every such pod.
  void DropControlled();

  std::vector<InputObject>& objects() { return objects_; }
  const std::vector<InputObject>& objects() const { return objects_; }
  const std::vector<std::unique_ptr<InputFile>>& files() const { return files_; }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& command() const { return command_; }
  // A problem with the input: printed on stderr (`command: message`) and kept.
  void Error(std::string message);

  // From the Namespace objects of the input (with kubernetes.io/metadata.name), by name.
  const std::map<std::string, policy::Labels>& namespace_labels() const { return labels_; }

  // Every namespace's labels: from the Namespace objects, else `fallback` (with
  // kubernetes.io/metadata.name) for the namespaces of the objects.
  std::shared_ptr<const policy::NamespaceLabels> ResolveNamespaceLabels(
      const policy::Labels& fallback) const;

 private:
  void Collect(InputFile& file, std::size_t document, const rapidjson::Value& value,
               const std::string& pointer, const std::string& item_path, const std::string& where);
  void Record(InputObject object, const rapidjson::Value& value, std::string_view kind);
  void ReadNamespaceLabels(const rapidjson::Value& value, const std::string& where);

  std::string command_;
  std::string namespace_override_;
  std::vector<std::unique_ptr<InputFile>> files_;  // stable addresses for InputObject::file
  std::vector<std::shared_ptr<const rapidjson::Value>> listed_;  // keeps API objects alive
  std::vector<InputObject> objects_;
  std::vector<std::string> errors_;
  std::map<std::string, policy::Labels> labels_;
};

// A string member, "" when absent or not a string.
std::string_view StringMember(const rapidjson::Value& object, std::string_view key);

}  // namespace palisade::cli
