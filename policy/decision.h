#pragma once

// Judging one object (a Pod, or a workload's pod template) against a namespace's effective policy:
// PSS enforce/warn/audit, namespace rules, exemptions and every message. The webhook and the
// offline `palisade check` both call JudgeObject, so they agree on decisions and wording.

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/admission.h"
#include "policy/level_version.h"
#include "policy/namespace_policy.h"

namespace palisade::policy {

enum class ObjectType : std::uint8_t {
  kPod,
  kDeployment,
  kReplicaSet,
  kStatefulSet,
  kDaemonSet,
  kJob,
  kCronJob,
  kReplicationController,
  kPodTemplate,
};

// From a manifest's `kind` ("Deployment") or an API resource (group "apps", "deployments").
std::optional<ObjectType> ObjectTypeFromKind(std::string_view kind);
std::optional<ObjectType> ObjectTypeFromResource(std::string_view group, std::string_view resource);
std::string_view KindName(ObjectType type);  // "Deployment"

// Where a workload keeps its pod template: JSON Pointer and the dotted prefix used in messages
// ("/spec/template", "spec.template."). A Pod is its own template ("", "").
struct TemplateLocation {
  std::string_view pointer;
  std::string_view path_prefix;
};
TemplateLocation TemplateOf(ObjectType type);

// The template value inside `object`, or nullptr when absent (or not an object).
const rapidjson::Value* FindTemplate(const rapidjson::Value& object, ObjectType type);

struct JudgeOptions {
  std::string_view name;      // for messages: `deployment "web" would create pods ...`
  std::string_view username;  // request.userInfo.username ("" offline)
  // Replaces the policy's enforce level (`palisade check --level`): its messages name no policy.
  std::optional<LevelVersion> level_override;
  // Judge a Pod with the namespace defaults applied (offline `--mutate`); templates always are.
  bool apply_defaults_to_pods = false;
  // A manifest that has not been through the API server (`palisade check`): judge it as the API
  // server stores it (ApplyApiServerDefaults) first. Admission reviews have been.
  bool as_api_server_stores = false;
  int kubernetes_minor = 31;
  // Today (UTC), for spec.exceptions: expired ones waive nothing. policy/ has no clock: the
  // server and the CLI pass the real date, tests a fixed one. Unset: only "never" ones apply.
  std::optional<Day> today;
};

struct Decision {
  bool allowed = true;
  bool unreadable = false;  // denied because the object could not be read
  std::string message;      // why it is denied
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> audit_annotations;  // sorted by key
  std::vector<std::string> checks;                                     // failed ids, every mode
  std::vector<ViolationRecord> violations;
  std::vector<std::string> exemptions;        // "username", "runtimeClass", "image:<container>"
  std::vector<std::string> defaults_applied;  // defaults the judged template received
  std::vector<std::string> exceptions_used;   // names of the exceptions that waived something
};

Decision JudgeObject(const rapidjson::Value& object, ObjectType type, const EffectivePolicy& policy,
                     const JudgeOptions& options);

}  // namespace palisade::policy
