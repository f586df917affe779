#pragma once

// Namespace defaults as an RFC 6902 JSON Patch: the rendering of a DefaultsPlan
// (defaults_planner.h) for /mutate. Only unset fields are filled: every op adds a path that did not
// exist or appends
// ("/-") to an existing list, with one exception: the `palisade.dev/defaulted` annotation, which is
// rewritten (an "add" that replaces) when a later invocation fills in more fields. A pod that is
// fully defaulted gets no patch at all.

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <string>
#include <string_view>
#include <vector>

#include "policy/defaults_planner.h"
#include "policy/namespace_policy.h"
#include "policy/pod.h"

namespace palisade::policy {

struct Mutation {
  rapidjson::Document patch{rapidjson::kArrayType};  // [{"op":"add","path":...,"value":...}]
  std::vector<std::string> fields;  // sorted, unique: "capabilities.drop", "seccompProfile", ...
  int ops() const { return static_cast<int>(patch.Size()); }
  bool empty() const { return patch.Empty(); }
};

// The patch as compact JSON text (byte for byte what PatchJson(ComputeDefaults(...).patch) gives),
// written directly: the webhook's /mutate answers with it and needs no Document.
struct PatchText {
  std::string json;                 // "[...]"; "[]" when there is nothing to add
  std::vector<std::string> fields;  // as Mutation::fields
  int ops = 0;
  bool empty() const { return ops == 0; }
};

// `plan` (made by PlanDefaults for `pod`) as a patch for the pod located at `base` in the document
// the patch will be applied to.
PatchText RenderDefaultsPatch(const Pod& pod, const DefaultsPlan& plan,
                              const rapidjson::Pointer& base);

// ReadPod, PlanDefaults and RenderDefaultsPatch in one: the defaults patch for a Pod or a pod
// template object (`metadata` + `spec`) located at `base`. An object that ReadPod does not read
// cleanly gets no patch (/validate denies it with the reason).
PatchText ComputeDefaultsText(const rapidjson::Value& pod, const rapidjson::Pointer& base,
                              const EffectivePolicy& policy, const MutationOptions& options);
Mutation ComputeDefaults(const rapidjson::Value& pod, const rapidjson::Pointer& base,
                         const EffectivePolicy& policy, const MutationOptions& options);

// Applies `plan` (made by PlanDefaults for `pod`, the view of `object`) to `object` itself, with
// the result ApplyPatch(RenderDefaultsPatch(pod, plan)) gives, member order included, without
// writing or parsing patch text: `palisade check --mutate`. Of `pod` only container positions are
// read, so its views into `object` may be invalidated by the change.
void ApplyDefaultsPlan(const DefaultsPlan& plan, const Pod& pod, rapidjson::Value& object,
                       rapidjson::Document::AllocatorType& allocator);

// Applies a patch made by ComputeDefaults ("add" ops only) to `target`.
void ApplyPatch(const rapidjson::Value& patch, rapidjson::Document& target);

// The patch as compact JSON text.
std::string PatchJson(const rapidjson::Value& patch);

}  // namespace palisade::policy
