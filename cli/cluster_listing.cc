#include "cli/cluster_listing.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <system_error>
#include <utility>

#include "cli/object_input.h"
#include "kube/config.h"
#include "kube/object.h"

namespace palisade::cli {

const std::vector<RunningResource> kRunningResources = {
    {policy::ObjectType::kPod, "v1", "pods"},
    {policy::ObjectType::kDeployment, "apps/v1", "deployments"},
    {policy::ObjectType::kReplicaSet, "apps/v1", "replicasets"},
    {policy::ObjectType::kStatefulSet, "apps/v1", "statefulsets"},
    {policy::ObjectType::kDaemonSet, "apps/v1", "daemonsets"},
    {policy::ObjectType::kJob, "batch/v1", "jobs"},
    {policy::ObjectType::kCronJob, "batch/v1", "cronjobs"},
    {policy::ObjectType::kReplicationController, "v1", "replicationcontrollers"},
    {policy::ObjectType::kPodTemplate, "v1", "podtemplates"},
};

std::unique_ptr<kube::KubeClient> ConnectToCluster(const std::string& kubeconfig_flag,
                                                   const std::string& context, std::string* error) {
  std::optional<kube::ClusterConfig> config;
  std::string kubeconfig = kubeconfig_flag;
  if (kubeconfig.empty()) {
    const char* env = std::getenv("KUBECONFIG");
    if (env != nullptr && *env != '\0') {
      kubeconfig = env;
      kubeconfig = kubeconfig.substr(0, kubeconfig.find(':'));  // the first file of the list
    }
  }
  std::string why;
  if (kubeconfig.empty() && std::getenv("KUBERNETES_SERVICE_HOST") != nullptr) {
    config = kube::InClusterConfig(&why);
    if (!config) *error = "in-cluster config: " + why;
  } else {
    if (kubeconfig.empty()) {
      const char* home = std::getenv("HOME");
      kubeconfig = std::string(home != nullptr ? home : "") + "/.kube/config";
    }
    config = kube::LoadKubeconfig(kubeconfig, &why, context);
    if (!config) *error = "kubeconfig " + kubeconfig + ": " + why;
  }
  if (!config) return nullptr;
  std::unique_ptr<kube::KubeClient> client = kube::KubeClient::Create(*config, &why);
  if (!client) *error = "cannot set up the API client: " + why;
  return client;
}

bool ListNamespaceLabels(kube::KubeClient& client, int page_size, policy::NamespaceLabels* labels,
                         std::string* error, const std::string& only) {
  if (!only.empty()) {
    const kube::Response response = client.Get("/api/v1/namespaces/" + only);
    rapidjson::Document object;
    if (response.ok()) object.Parse(response.body.c_str());
    if (!response.ok() || object.HasParseError() || !object.IsObject()) {
      *error = "cannot read namespace " + only + ": " +
               (response.ok() ? std::string("not a JSON object") : response.Describe());
      return false;
    }
    const kube::ObjectMeta meta = kube::ReadObjectMeta(object);
    labels->by_name[only].insert(meta.labels.begin(), meta.labels.end());
    return true;
  }
  kube::ListOptions options;
  options.metadata_only = true;
  options.limit = page_size;
  const kube::Response response = client.ListAll(
      kube::CollectionPath("v1", "namespaces"), options, [&](const kube::ListPage& page) {
        if (page.first) labels->by_name.clear();
        for (const auto& item : page.items) {
          const kube::ObjectMeta meta = kube::ReadObjectMeta(*item);
          policy::Labels& own = labels->by_name[meta.name];
          own.insert(meta.labels.begin(), meta.labels.end());
        }
      });
  if (!response.ok()) *error = "cannot list namespaces: " + response.Describe();
  return response.ok();
}

int ClusterMinorVersion(kube::KubeClient& client, std::string_view command) {
  const kube::Response response = client.Get("/version");
  rapidjson::Document version;
  if (response.ok()) version.Parse(response.body.c_str());
  std::string_view minor;
  if (response.ok() && !version.HasParseError() && version.IsObject()) {
    const auto member = version.FindMember("minor");
    if (member != version.MemberEnd() && member->value.IsString()) {
      minor = std::string_view(member->value.GetString(), member->value.GetStringLength());
    }
  }
  int value = 0;
  const auto [end, failure] = std::from_chars(minor.data(), minor.data() + minor.size(), value);
  if (failure == std::errc() && end != minor.data() &&
      (end == minor.data() + minor.size() || *end == '+')) {
    return value;
  }
  std::cerr << command << ": warning: cannot read the cluster's version ("
            << (response.ok() ? "no minor" : response.Describe())
            << "); assuming 1.31 (give --kubernetes-version)\n";
  return 31;
}

void ListRunningObjects(kube::KubeClient& client, const std::string& namespace_name, int page_size,
                        const RunningObjectsVisitor& visitor) {
  for (const RunningResource& resource : kRunningResources) {
    kube::ListOptions options;
    options.limit = page_size;
    const kube::Response response = client.ListAll(
        kube::CollectionPath(resource.group_version, resource.resource, namespace_name), options,
        [&](const kube::ListPage& page) {
          if (page.first) visitor.restart(resource);
          for (const auto& item : page.items) visitor.object(resource, item);
        });
    visitor.done(resource, response);
  }
}

bool ClusterFlags::Wanted() const {
  return (kubeconfig_option != nullptr && kubeconfig_option->count() > 0) || !context.empty();
}

void AddClusterFlags(CLI::App* command, ClusterFlags* flags, const std::string& what) {
  flags->kubeconfig_option =
      command
          ->add_option("--kubeconfig", flags->kubeconfig,
                       what +
                           " what runs in the cluster (pods and workloads, each once) instead of "
                           "files; without a path: $KUBECONFIG, in-cluster, ~/.kube/config")
          ->expected(0, 1);
  command->add_option("--context", flags->context, "Kubeconfig context (default: current)");
  command->add_option("--page-size", flags->page_size, "Objects per list page (--kubeconfig)")
      ->capture_default_str();
}

bool ReadCluster(const ClusterFlags& flags, const std::string& namespace_name, ObjectInput* input,
                 int* kubernetes_minor) {
  const int page_size = flags.page_size;
  auto fail = [&](std::string message) {
    input->Error(std::move(message));
    return false;
  };
  std::string error;
  const std::unique_ptr<kube::KubeClient> client =
      ConnectToCluster(flags.kubeconfig, flags.context, &error);
  if (!client) return fail(error);
  policy::NamespaceLabels labels;
  if (!ListNamespaceLabels(*client, page_size, &labels, &error, namespace_name)) return fail(error);
  if (flags.kubernetes_version_option == nullptr || flags.kubernetes_version_option->count() == 0) {
    *kubernetes_minor = ClusterMinorVersion(*client, input->command());
  }
  for (const auto& [name, each] : labels.by_name) input->AddNamespace(name, each);
  bool ok = true;
  std::vector<std::shared_ptr<const rapidjson::Value>> listed;  // of the resource being listed
  RunningObjectsVisitor visitor;
  visitor.restart = [&](const RunningResource&) { listed.clear(); };
  visitor.object = [&](const RunningResource&,
                       const std::shared_ptr<const rapidjson::Value>& item) {
    listed.push_back(item);
  };
  visitor.done = [&](const RunningResource& resource, const kube::Response& response) {
    if (!response.ok()) {
      ok = fail("cannot list " + std::string(resource.resource) + ": " + response.Describe());
    } else {
      for (auto& item : listed) input->AddListed(std::move(item), policy::KindName(resource.type));
    }
    listed.clear();
  };
  ListRunningObjects(*client, namespace_name, page_size, visitor);
  input->DropControlled();
  return ok;
}

}  // namespace palisade::cli
