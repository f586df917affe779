#pragma once

// Typed views of what Palisade reads from API objects, and the paths that name them.

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace palisade::kube {

// A Kubernetes Status object (kind: Status), as errors (and some successes) arrive.
struct Status {
  int code = 0;         // the HTTP code it stands for: 404, 409, 410, ...
  std::string status;   // "Failure" or "Success"
  std::string reason;   // "NotFound", "Conflict", "AlreadyExists", "Expired", "Gone", ...
  std::string message;  // for people
};

// The Status in `object` when it is one (kind: Status), else nullopt.
std::optional<Status> ReadStatus(const rapidjson::Value& object);
std::optional<Status> ParseStatus(std::string_view json);

// The metadata Palisade reads: what a PartialObjectMetadata carries.
struct ObjectMeta {
  std::string name;
  std::string namespace_;  // "" for cluster-scoped objects
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::string creation_timestamp;
  bool being_deleted = false;  // deletionTimestamp set
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

ObjectMeta ReadObjectMeta(const rapidjson::Value& object);

// The store key client-go uses: "namespace/name", or "name" for cluster-scoped objects.
std::string ObjectKey(const ObjectMeta& meta);

// One object as received: its metadata read once, and the whole JSON (only metadata for a
// metadata-only watch). `json` points into an immutable document shared with nothing mutable.
struct Object {
  ObjectMeta meta;
  std::shared_ptr<const rapidjson::Value> json;
};

// API paths. `group_version` is "v1" for the core group, else "GROUP/VERSION" ("apps/v1").
// CollectionPath("v1", "configmaps", "ns") == "/api/v1/namespaces/ns/configmaps";
// CollectionPath("apps/v1", "deployments", "") == "/apis/apps/v1/deployments" (all namespaces).
std::string CollectionPath(std::string_view group_version, std::string_view resource,
                           std::string_view namespace_ = "");
std::string ObjectPath(std::string_view group_version, std::string_view resource,
                       std::string_view namespace_, std::string_view name);

// Percent-encoding for a query value (label selectors carry '=', ',', '!', spaces, ...).
std::string EscapeQueryValue(std::string_view value);

}  // namespace palisade::kube
