#include "policy/admission.h"

#include <rapidjson/pointer.h>

#include <algorithm>

#include "policy/decision.h"
#include "policy/json_access.h"
#include "policy/mutator.h"
#include "policy/pod.h"
#include "policy/review.h"

namespace palisade::policy {
namespace {

using rapidjson::Value;

bool ImageChanged(const Value& container, const Value& old_container) {
  return json::String(container, "image") != json::String(old_container, "image");
}

// As PSA's isSignificantPodUpdate: only container counts, images and ephemeral containers matter;
// the rest of a running pod's spec is immutable, and metadata is not judged.
bool IsSignificantPodUpdate(const Value& pod, const Value& old_pod) {
  const Value* spec = json::Object(pod, "spec");
  const Value* old_spec = json::Object(old_pod, "spec");
  if (spec == nullptr || old_spec == nullptr) return true;
  for (std::string_view list_name : {"containers", "initContainers"}) {
    const Value* list = json::Array(*spec, list_name);
    const Value* old_list = json::Array(*old_spec, list_name);
    const rapidjson::SizeType size = list ? list->Size() : 0;
    if (size != (old_list ? old_list->Size() : 0)) return true;
    for (rapidjson::SizeType i = 0; i < size; ++i) {
      if (ImageChanged((*list)[i], (*old_list)[i])) return true;
    }
  }
  const Value* ephemeral = json::Array(*spec, "ephemeralContainers");
  const Value* old_ephemeral = json::Array(*old_spec, "ephemeralContainers");
  if (ephemeral == nullptr) return false;
  // The old ephemeral containers by name (the first of a name), looked up in n log n.
  using Named = std::pair<std::string_view, const Value*>;
  std::vector<Named> old_by_name;
  if (old_ephemeral != nullptr) {
    old_by_name.reserve(old_ephemeral->Size());
    for (const Value& candidate : old_ephemeral->GetArray()) {
      old_by_name.emplace_back(json::String(candidate, "name"), &candidate);
    }
    std::stable_sort(old_by_name.begin(), old_by_name.end(),
                     [](const Named& a, const Named& b) { return a.first < b.first; });
  }
  for (const Value& container : ephemeral->GetArray()) {
    const std::string_view name = json::String(container, "name");
    const auto it = std::lower_bound(
        old_by_name.begin(), old_by_name.end(), name,
        [](const Named& entry, std::string_view wanted) { return entry.first < wanted; });
    if (it == old_by_name.end() || it->first != name || ImageChanged(container, *it->second)) {
      return true;
    }
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

bool RuntimeClassExempt(const Value& pod, const EffectivePolicy& policy) {
  const Value* spec = json::Object(pod, "spec");
  return policy.ExemptsRuntimeClass(spec ? json::String(*spec, "runtimeClassName") : "");
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
  const Value& pod = *request.object;
  if (!ReadPod(pod).errors.empty()) return;  // /validate denies it with the reason
  if (policy.ExemptsUsername(request.username)) {
    result.exemptions.push_back("username");
    response.audit_annotations.emplace_back(kExemptAuditKey, "username");
    return;
  }
  if (RuntimeClassExempt(pod, policy)) {
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
  PatchText mutation = ComputeDefaultsText(pod, rapidjson::Pointer(""), policy, options);
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

}  // namespace

AdmissionResult Review(Endpoint endpoint, std::string_view body, const PolicySet& policies,
                       const AdmissionConfig& config,
                       const std::function<bool()>* deadline_passed) {
  AdmissionResult result;
  AdmissionRequest request;
  std::string error;
  if (!request.Parse(body, &error)) {
    result.http_status = 400;
    result.body = std::move(error);
    result.decision = "error";
    return result;
  }
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
    if (endpoint == Endpoint::kValidate) {
      response.allowed = false;
      response.code = 403;
      response.reason = "Forbidden";
      response.message = policy.refused;
    }
    Finish(result, request, response);
    return result;
  }

  if (request.object == nullptr) {
    if (endpoint == Endpoint::kValidate) {
      response.allowed = false;
      response.code = 403;
      response.reason = "Forbidden";
      response.message =
          "request.object is missing: cannot judge the " + std::string(KindName(*type));
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
  response.allowed = decision.allowed;
  if (!decision.allowed) {
    response.code = 403;
    response.reason = "Forbidden";
    response.message = std::move(decision.message);
  }
  response.warnings = std::move(decision.warnings);
  response.audit_annotations = std::move(decision.audit_annotations);
  result.checks = std::move(decision.checks);
  result.violations = std::move(decision.violations);
  result.exemptions = std::move(decision.exemptions);
  Finish(result, request, response);
  return result;
}

}  // namespace palisade::policy
