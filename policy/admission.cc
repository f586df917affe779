#include "policy/admission.h"

#include <rapidjson/pointer.h>

#include <algorithm>
#include <unordered_map>

#include "policy/decision.h"
#include "policy/json_access.h"
#include "policy/mutator.h"
#include "policy/pod.h"
#include "policy/review.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;

// The seccomp annotations PSA compares across a pod update: the pod's and each container's
// (`container.seccomp.security.alpha.kubernetes.io/<name>`). Absent reads as "", as a Go map.
class SeccompAnnotations {
 public:
  // False when the annotations are not a map of strings: the update is then judged, and the pod
  // reader names the wrong type.
  bool Read(const Value& object) {
    const Value* metadata = json::Object(object, "metadata");
    if (metadata == nullptr) return true;
    const auto annotations = metadata->FindMember("annotations");
    if (annotations == metadata->MemberEnd() || annotations->value.IsNull()) return true;
    if (!annotations->value.IsObject()) return false;
    for (const auto& member : annotations->value.GetObject()) {
      if (!member.value.IsString()) return false;
      const std::string_view key = json::View(member.name);
      if (key == kPod) {
        pod_ = json::View(member.value);
      } else if (key.starts_with(kContainerPrefix)) {
        containers_.emplace(key.substr(kContainerPrefix.size()), json::View(member.value));
      }
    }
    return true;
  }
  std::string_view pod() const { return pod_; }
  bool any_container() const { return !containers_.empty(); }
  std::string_view Container(std::string_view name) const {
    const auto it = containers_.find(name);
    return it == containers_.end() ? std::string_view() : it->second;
  }

 private:
  static constexpr std::string_view kPod = "seccomp.security.alpha.kubernetes.io/pod";
  static constexpr std::string_view kContainerPrefix =
      "container.seccomp.security.alpha.kubernetes.io/";
  std::string_view pod_;
  std::unordered_map<std::string_view, std::string_view> containers_;
};

// As PSA's isSignificantPodUpdate: container counts, images, ephemeral containers and the seccomp
// annotations matter; the rest of a running pod's spec is immutable, and other metadata is not
// judged.
bool IsSignificantPodUpdate(const Value& pod, const Value& old_pod) {
  const Value* spec = json::Object(pod, "spec");
  const Value* old_spec = json::Object(old_pod, "spec");
  if (spec == nullptr || old_spec == nullptr) return true;
  SeccompAnnotations seccomp, old_seccomp;
  if (!seccomp.Read(pod) || !old_seccomp.Read(old_pod)) return true;
  if (seccomp.pod() != old_seccomp.pod()) return true;
  const bool container_annotations = seccomp.any_container() || old_seccomp.any_container();
  // PSA's isSignificantContainerUpdate: the image, and the annotation under the new one's name.
  auto changed = [&](const Value& container, const Value& old_container) {
    if (json::String(container, "image") != json::String(old_container, "image")) return true;
    if (!container_annotations) return false;
    const std::string_view name = json::String(container, "name");
    return seccomp.Container(name) != old_seccomp.Container(name);
  };
  for (std::string_view list_name : {"containers", "initContainers"}) {
    const Value* list = json::Array(*spec, list_name);
    const Value* old_list = json::Array(*old_spec, list_name);
    const rapidjson::SizeType size = list ? list->Size() : 0;
    if (size != (old_list ? old_list->Size() : 0)) return true;
    for (rapidjson::SizeType i = 0; i < size; ++i) {
      if (changed((*list)[i], (*old_list)[i])) return true;
    }
  }
  const Value* ephemeral = json::Array(*spec, "ephemeralContainers");
  const Value* old_ephemeral = json::Array(*old_spec, "ephemeralContainers");
  if (ephemeral == nullptr) return false;
  // The old ephemeral containers by name (the first of a name, as PSA's loop) in an open-addressed
  // table: linear, and one allocation for tens of thousands of them.
  struct Slot {
    std::string_view name;
    const Value* container = nullptr;
  };
  std::vector<Slot> table;
  const std::hash<std::string_view> hash;
  if (old_ephemeral != nullptr && !old_ephemeral->Empty()) {
    std::size_t size = 16;
    while (size < 2 * static_cast<std::size_t>(old_ephemeral->Size())) size *= 2;
    table.resize(size);
    for (const Value& candidate : old_ephemeral->GetArray()) {
      const std::string_view name = json::String(candidate, "name");
      for (std::size_t i = hash(name) & (size - 1);; i = (i + 1) & (size - 1)) {
        if (table[i].container == nullptr) {
          table[i] = Slot{name, &candidate};
          break;
        }
        if (table[i].name == name) break;  // a later one of the same name
      }
    }
  }
  auto find_old = [&](std::string_view name) -> const Value* {
    if (table.empty()) return nullptr;
    for (std::size_t i = hash(name) & (table.size() - 1);; i = (i + 1) & (table.size() - 1)) {
      if (table[i].container == nullptr) return nullptr;
      if (table[i].name == name) return table[i].container;
    }
  };
  for (const Value& container : ephemeral->GetArray()) {
    const Value* old = find_old(json::String(container, "name"));
    if (old == nullptr || changed(container, *old)) return true;
  }
  return false;
}

std::vector<std::string_view> EphemeralNames(const Value* pod) {
  std::vector<std::string_view> names;
  if (pod == nullptr) return names;
  const Value* spec = json::Object(*pod, "spec");
  const Value* list = spec ? json::Array(*spec, "ephemeralContainers") : nullptr;
  if (list == nullptr) return names;
  for (const Value& container : list->GetArray()) names.push_back(json::String(container, "name"));
  return names;
}

std::string_view ObjectName(const AdmissionRequest& request) {
  if (!request.name.empty()) return request.name;
  if (request.object == nullptr) return {};
  const Value* metadata = json::Object(*request.object, "metadata");
  if (metadata == nullptr) return {};
  const std::string_view name = json::String(*metadata, "name");
  return name.empty() ? json::String(*metadata, "generateName") : name;
}

// The last use of `response`: its warnings move to the result once the answer is encoded.
void Finish(AdmissionResult& result, const AdmissionRequest& request, AdmissionResponse& response) {
  result.http_status = 200;
  result.decision = response.allowed ? "allowed" : "denied";
  result.body = EncodeResponse(request.api_version, request.uid, response);
  result.worth_logging = !response.allowed || !response.warnings.empty() || result.patch_ops > 0;
  result.warnings = std::move(response.warnings);
}

void Mutate(const AdmissionRequest& request, const EffectivePolicy& policy,
            const AdmissionConfig& config, AdmissionResult& result, AdmissionResponse& response) {
  const PodReadResult read = ReadPod(*request.object);
  if (!read.errors.empty()) return;  // /validate denies it with the reason
  const Pod& pod = read.pod;
  if (policy.ExemptsUsername(request.username)) {
    result.exemptions.push_back("username");
    response.audit_annotations.emplace_back(kExemptAuditKey, "username");
    return;
  }
  if (policy.ExemptsRuntimeClass(pod.runtime_class_name.value_or(""))) {
    result.exemptions.push_back("runtimeClass");
    response.audit_annotations.emplace_back(kExemptAuditKey, "runtimeClass");
    return;
  }
  MutationOptions options;
  options.kubernetes_minor = config.kubernetes_minor;
  if (request.sub_resource == "ephemeralcontainers") {
    options.ephemeral_update = true;
    options.old_ephemeral_names = EphemeralNames(request.old_object);
  }
  PatchText mutation =
      RenderDefaultsPatch(pod, PlanDefaults(pod, policy, options), rapidjson::Pointer(""));
  if (mutation.empty()) return;
  response.patch = std::move(mutation.json);
  result.patch_ops = mutation.ops;
  std::string fields;
  for (const std::string& field : mutation.fields) {
    if (!fields.empty()) fields += ',';
    fields += field;
  }
  result.defaults_applied = std::move(mutation.fields);
  response.audit_annotations.emplace_back(std::string(kDefaultedAuditKey), std::move(fields));
}

bool IsPolicyFileKey(std::string_view key) {
  if (key.empty() || key.front() == '.') return false;
  for (const std::string_view extension : {".yaml", ".yml", ".json"}) {
    if (key.size() > extension.size() && key.ends_with(extension)) return true;
  }
  return false;
}

// Kubernetes stores at most 1 MiB of data in a ConfigMap (corev1.MaxSecretSize): a review with more
// did not come from the API server, and is not linted.
constexpr std::size_t kMaxConfigMapDataBytes = 1024 * 1024;
// A denial lists this many lint errors, then counts the rest (`palisade policy lint` lists all).
constexpr int kMaxListedLintErrors = 100;

void Forbid(AdmissionResponse& response, std::string message) {
  response.allowed = false;
  response.code = 403;
  response.reason = "Forbidden";
  response.message = std::move(message);
}

// A ConfigMap labelled palisade.dev/policy=true: denied with its lint errors (the first
// kMaxListedLintErrors), so a bad policy is refused before it lands (the Event is for what lands
// anyway).
void ReviewPolicyConfigMap(const AdmissionRequest& request, const AdmissionConfig& config,
                           AdmissionResponse& response) {
  if (request.object == nullptr) return;
  const Value* metadata = json::Object(*request.object, "metadata");
  const Value* labels = metadata ? json::Object(*metadata, "labels") : nullptr;
  if (labels == nullptr || json::String(*labels, kPolicyConfigMapLabel) != "true") return;
  const std::string configmap(ObjectName(request));
  std::vector<PolicyFileText> files;
  if (const Value* data = json::Object(*request.object, "data")) {
    std::size_t bytes = 0;
    for (const auto& member : data->GetObject()) {
      if (member.value.IsString()) bytes += member.value.GetStringLength();
    }
    if (bytes > kMaxConfigMapDataBytes) {
      Forbid(response, "ConfigMap \"" + configmap + "\" holds " + std::to_string(bytes) +
                           " bytes of data, more than the " +
                           std::to_string(kMaxConfigMapDataBytes) +
                           " Kubernetes stores in a ConfigMap: its policies are not read");
      return;
    }
    for (const auto& member : data->GetObject()) {
      const std::string_view key(member.name.GetString(), member.name.GetStringLength());
      if (!IsPolicyFileKey(key) || !member.value.IsString()) continue;
      files.emplace_back(configmap + "/" + std::string(key),
                         std::string(member.value.GetString(), member.value.GetStringLength()));
    }
  }
  std::sort(files.begin(), files.end());
  std::string message;
  int count = 0;
  for (const PolicyError& error : config.lint_policy_files(files)) {
    if (error.warning) {
      if (response.warnings.size() < kMaxListedLintErrors) {
        response.warnings.push_back(error.ToString());
      }
      continue;
    }
    if (++count <= kMaxListedLintErrors) message += (count == 1 ? "" : "; ") + error.ToString();
  }
  if (count == 0) return;
  if (count > kMaxListedLintErrors) {
    message += "; and " + std::to_string(count - kMaxListedLintErrors) +
               " more (palisade policy lint lists them all)";
  }
  Forbid(response, "ConfigMap \"" + configmap + "\" holds invalid policies (" +
                       std::to_string(count) + (count == 1 ? " error" : " errors") +
                       "): " + message);
}

// The label guard on a Namespace CREATE or UPDATE.
void JudgeNamespace(const AdmissionRequest& request, const LabelGuard& guard,
                    AdmissionResponse& response) {
  std::vector<std::string_view> groups;
  if (const Value* review_request = json::Object(request.document(), "request")) {
    const Value* user = json::Object(*review_request, "userInfo");
    if (const Value* list = user ? json::Array(*user, "groups") : nullptr) {
      for (const Value& group : list->GetArray()) {
        if (group.IsString()) groups.push_back(json::View(group));
      }
    }
  }
  std::string denied =
      JudgeNamespaceLabels(guard, request.operation == "UPDATE" ? request.old_object : nullptr,
                           request.object, request.username, groups);
  if (denied.empty()) return;
  Forbid(response, std::move(denied));
}

}  // namespace

AdmissionResult Review(Endpoint endpoint, std::string_view body, const PolicySet& policies,
                       const AdmissionConfig& config,
                       const std::function<bool()>* deadline_passed) {
  AdmissionRequest request;
  std::string error;
  if (!request.Parse(body, &error)) {
    AdmissionResult result;
    result.http_status = request.too_large() ? 413 : 400;
    result.body = std::move(error);
    result.decision = "error";
    return result;
  }
  return Review(endpoint, request, policies, config, deadline_passed);
}

AdmissionResult Review(Endpoint endpoint, const AdmissionRequest& request,
                       const PolicySet& policies, const AdmissionConfig& config,
                       const std::function<bool()>* deadline_passed) {
  AdmissionResult result;
  result.operation = request.operation;
  result.resource = std::string(request.resource);
  if (!request.sub_resource.empty()) {
    result.resource += '/';
    result.resource += request.sub_resource;
  }
  result.kind = request.kind;
  result.uid = request.uid;
  result.namespace_name = request.namespace_name;
  result.name = ObjectName(request);
  result.user = request.username;
  if (deadline_passed != nullptr && (*deadline_passed)()) {
    result.http_status = 504;
    result.body = "the request's timeout passed before it was judged";
    result.decision = "error";
    return result;
  }

  AdmissionResponse response;
  if (endpoint == Endpoint::kValidate && request.group.empty() &&
      request.resource == "namespaces" && request.sub_resource.empty() &&
      (request.operation == "CREATE" || request.operation == "UPDATE")) {
    JudgeNamespace(request, config.label_guard, response);
    Finish(result, request, response);
    return result;
  }
  if (request.group.empty() && request.resource == "configmaps" && request.sub_resource.empty()) {
    if (endpoint == Endpoint::kValidate && config.lint_policy_files &&
        (request.operation == "CREATE" || request.operation == "UPDATE")) {
      ReviewPolicyConfigMap(request, config, response);
    }
    Finish(result, request, response);
    return result;
  }
  const std::optional<ObjectType> type = ObjectTypeFromResource(request.group, request.resource);
  const bool judged_operation = request.operation == "CREATE" || request.operation == "UPDATE";
  const bool pod = type == ObjectType::kPod;
  const bool judged_subresource =
      request.sub_resource.empty() || (pod && request.sub_resource == "ephemeralcontainers");
  if (!type || !judged_operation || !judged_subresource) {
    Finish(result, request, response);
    return result;
  }

  const std::shared_ptr<const EffectivePolicy> policy_ptr =
      policies.ForNamespace(request.namespace_name);
  const EffectivePolicy& policy = *policy_ptr;
  if (!policy.matched.empty()) result.policy = policy.matched.back();

  // A policy covering this namespace cannot be served: fail closed (/mutate leaves it to
  // /validate).
  if (!policy.refused.empty()) {
    if (endpoint == Endpoint::kValidate) Forbid(response, policy.refused);
    Finish(result, request, response);
    return result;
  }

  if (request.object == nullptr) {
    if (endpoint == Endpoint::kValidate) {
      Forbid(response,
             "request.object is missing: cannot judge the " + std::string(KindName(*type)));
    }
    Finish(result, request, response);
    return result;
  }

  // Updates: judge only what changed in a way that matters.
  if (request.operation == "UPDATE" && request.old_object != nullptr) {
    if (pod) {
      if (!IsSignificantPodUpdate(*request.object, *request.old_object)) {
        Finish(result, request, response);
        return result;
      }
    } else {
      const Value* template_now = FindTemplate(*request.object, *type);
      const Value* template_before = FindTemplate(*request.old_object, *type);
      if (template_now != nullptr && template_before != nullptr &&
          *template_now == *template_before) {
        Finish(result, request, response);
        return result;
      }
    }
  }

  if (endpoint == Endpoint::kMutate) {
    // Pods only: workload templates are left as written (GitOps), their pods get the defaults.
    // A running pod's spec is immutable except through the ephemeralcontainers subresource.
    if (pod && (request.operation == "CREATE" || request.sub_resource == "ephemeralcontainers")) {
      Mutate(request, policy, config, result, response);
    }
    std::sort(response.audit_annotations.begin(), response.audit_annotations.end());
    Finish(result, request, response);
    return result;
  }

  JudgeOptions options;
  options.name = result.name;
  options.username = request.username;
  options.kubernetes_minor = config.kubernetes_minor;
  options.today = config.today;
  Decision decision = JudgeObject(*request.object, *type, policy, options);
  if (!decision.allowed) Forbid(response, std::move(decision.message));
  response.warnings = std::move(decision.warnings);
  response.audit_annotations = std::move(decision.audit_annotations);
  result.checks = std::move(decision.checks);
  result.violations = std::move(decision.violations);
  result.exemptions = std::move(decision.exemptions);
  Finish(result, request, response);
  return result;
}

}  // namespace palisade::policy
