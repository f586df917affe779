#pragma once

// What runs in the cluster, for audit, advise and what-if: the connection (kubeconfig or
// in-cluster, chosen as kubectl would), the Namespaces' labels, and Pods and workload templates
// listed in pages. One listing, so the commands see the same cluster.

#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"
#include "policy/decision.h"
#include "policy/namespace_policy.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace palisade::cli {

class ObjectInput;

// --kubeconfig[=PATH], --context, --page-size of the commands that can read the cluster instead
// of files (advise, check's what-if).
struct ClusterFlags {
  std::string kubeconfig;  // "" picks as ConnectToCluster does
  std::string context;
  int page_size = 500;
  const CLI::Option* kubeconfig_option = nullptr;
  // The command's --kubernetes-version: unless it is given, the cluster is asked.
  const CLI::Option* kubernetes_version_option = nullptr;

  // --kubeconfig (with or without a path) or --context was given.
  bool Wanted() const;
};
// Adds the flags to `command`; `what` says what the command does with the cluster.
void AddClusterFlags(CLI::App* command, ClusterFlags* flags, const std::string& what);

// What is listed, in this order.
struct RunningResource {
  policy::ObjectType type;
  std::string_view group_version;
  std::string_view resource;
};
extern const std::vector<RunningResource> kRunningResources;

// The API client for `kubeconfig` (a path; "" picks as kubectl: $KUBECONFIG's first file, else
// in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config) and `context` ("" for the
// current one). nullptr with `*error`.
std::unique_ptr<kube::KubeClient> ConnectToCluster(const std::string& kubeconfig,
                                                   const std::string& context, std::string* error);

// Every Namespace's labels (one metadata-only list, in pages), or only `only`'s (one GET, so a
// user who may read just that namespace can use it). False with `*error`.
bool ListNamespaceLabels(kube::KubeClient& client, int page_size, policy::NamespaceLabels* labels,
                         std::string* error, const std::string& only = "");

// The cluster's minor version from /version ("31", or "31+" from some providers); on failure a
// warning on stderr (`command: warning: ...`) and 31.
int ClusterMinorVersion(kube::KubeClient& client, std::string_view command);

// What one resource's list gives, page by page.
struct RunningObjectsVisitor {
  // Before the first object, and again when a list restarts (410): drop what came before.
  std::function<void(const RunningResource&)> restart;
  std::function<void(const RunningResource&, const std::shared_ptr<const rapidjson::Value>&)>
      object;
  // The list of this resource ended: ok, or the error that ended it.
  std::function<void(const RunningResource&, const kube::Response&)> done;
};

// Lists every resource of kRunningResources cluster-wide (or in `namespace_name`), in pages.
void ListRunningObjects(kube::KubeClient& client, const std::string& namespace_name, int page_size,
                        const RunningObjectsVisitor& visitor);

// The cluster as input for advise and what-if: Namespaces' labels and what runs (in
// `namespace_name`, or everywhere), each workload once (ObjectInput::DropControlled), and the
// cluster's minor version into `*kubernetes_minor` unless --kubernetes-version was given. Errors
// go to ObjectInput::Error; false when anything could not be listed.
bool ReadCluster(const ClusterFlags& flags, const std::string& namespace_name, ObjectInput* input,
                 int* kubernetes_minor);

}  // namespace palisade::cli
