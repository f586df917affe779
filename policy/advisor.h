#pragma once

// `palisade advise`: from what runs in a namespace (pods and workload templates), the strictest
// Pod Security level every object passes as it will arrive (with the proposed defaults applied),
// what the containers actually declare, and, where a few containers hold the namespace back from
// the next stricter level, exactly what those containers need (check, container, image, values),
// so the stricter level can be proposed with exceptions for them instead of a looser namespace.

#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/decision.h"
#include "policy/level_version.h"
#include "policy/namespace_policy.h"

namespace palisade::policy {

struct AdvisedObject {
  std::string kind;  // "Deployment"
  std::string name;
  ObjectType type = ObjectType::kPod;
  const rapidjson::Value* object = nullptr;  // the whole manifest; outlives the call
};

// A need that a stricter level forbids: one check of one container name and image (or of the
// pods), with every offending value, over all the objects that have it.
struct Holdback {
  std::vector<std::string> objects;  // "Deployment/web", in input order
  std::string container;  // "" for a pod-level check (host namespaces, sysctls, volumes, ...)
  std::string image;      // the container's image ("" for the pod)
  std::string check;      // PSA check id
  std::vector<std::string> values;  // sorted, unique; empty when the check has none
};

struct AdviseOptions {
  int kubernetes_minor = 31;  // the cluster's 1.x, as `check` takes it
  // Above this many containers (or pods, for pod-level checks) holding a namespace back, the
  // looser level is proposed instead of exceptions: exceptions are for the few.
  std::size_t max_exception_containers = 3;
};

struct NamespaceAdvice {
  std::string name;
  std::size_t objects = 0;
  std::size_t containers = 0;
  // The strictest level (at this binary's newest version) every object passes as it will arrive.
  // Unset when an object cannot pass even privileged (a field of the wrong type).
  std::optional<LevelVersion> admits;
  std::vector<std::string> unreadable;  // objects no level admits, with why
  // The next stricter level, and what stands in its way. `exceptions_proposed` when few enough
  // containers do: then the proposal is `stricter` plus one exception per holdback.
  std::optional<LevelVersion> stricter;
  std::vector<Holdback> holdbacks;              // in input order
  std::size_t holders = 0;                      // distinct (object, container or pod) held back
  std::vector<std::string> denied_at_stricter;  // objects `stricter` alone denies
  bool exceptions_proposed = false;
  // Inventory, declared before defaults: value -> "Kind/name: container" that declare it.
  std::map<std::string, std::vector<std::string>> capabilities;
  std::map<std::string, std::vector<std::string>> seccomp_profiles;    // "unset" included
  std::map<std::string, std::vector<std::string>> app_armor_profiles;  // "unset" included
  std::map<std::string, std::vector<std::string>> runtime_classes;     // per pod
};

// The defaults a proposal carries: what makes most pods pass restricted without changing what
// they can do (seccomp RuntimeDefault, no privilege escalation, capabilities dropped; runAsNonRoot
// is not defaulted: whether an image runs as root cannot be seen from its manifest).
PolicyValues ProposedDefaults();

NamespaceAdvice AdviseNamespace(const std::string& ns, const std::vector<AdvisedObject>& objects,
                                const AdviseOptions& options);

}  // namespace palisade::policy
