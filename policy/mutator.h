#pragma once

// Namespace defaults as an RFC 6902 JSON Patch. Only unset fields are filled: every op adds a path
// that did not exist or appends ("/-") to an existing list, with one exception: the
// `palisade.dev/defaulted` annotation, which is rewritten (an "add" that replaces) when a later
// invocation fills in more fields. A pod that is fully defaulted gets no patch at all.

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <string>
#include <string_view>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {

inline constexpr std::string_view kDefaultedAnnotation = "palisade.dev/defaulted";
inline constexpr std::string_view kAppArmorAnnotationPrefix =
    "container.apparmor.security.beta.kubernetes.io/";

struct MutationOptions {
  int kubernetes_minor = 31;  // >= 30: appArmorProfile field; before: the beta annotation
  // A `pods/ephemeralcontainers` update: only ephemeral containers not in `old_ephemeral_names`
  // can change, so pod-level defaults go onto those containers and no annotation is written.
  bool ephemeral_update = false;
  std::vector<std::string_view> old_ephemeral_names;
};

struct Mutation {
  rapidjson::Document patch{rapidjson::kArrayType};  // [{"op":"add","path":...,"value":...}]
  std::vector<std::string> fields;  // sorted, unique: "capabilities.drop", "seccompProfile", ...
  int ops() const { return static_cast<int>(patch.Size()); }
  bool empty() const { return patch.Empty(); }
};

// Computes the defaults patch for a Pod or a pod template object (`metadata` + `spec`) located at
// `base` in the document the patch will be applied to. Containers whose image matches
// `policy.exempt_images` are left untouched. Expects an object that ReadPod reads without errors;
// anything of an unexpected type is left alone.
Mutation ComputeDefaults(const rapidjson::Value& pod, const rapidjson::Pointer& base,
                         const EffectivePolicy& policy, const MutationOptions& options);

// The same patch as compact JSON text (byte for byte what PatchJson(ComputeDefaults(...).patch)
// gives), written directly: the webhook's /mutate answers with it and needs no Document.
struct PatchText {
  std::string json;                 // "[...]"; "[]" when there is nothing to add
  std::vector<std::string> fields;  // as Mutation::fields
  int ops = 0;
  bool empty() const { return ops == 0; }
};
PatchText ComputeDefaultsText(const rapidjson::Value& pod, const rapidjson::Pointer& base,
                              const EffectivePolicy& policy, const MutationOptions& options);

// Applies a patch made by ComputeDefaults ("add" ops only) to `target`.
void ApplyPatch(const rapidjson::Value& patch, rapidjson::Document& target);

// The patch as compact JSON text.
std::string PatchJson(const rapidjson::Value& patch);

}  // namespace palisade::policy
