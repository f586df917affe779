#pragma once

// What the API server does to an object between receiving it and storing it, as far as the Pod
// Security Standards and the namespace rules can see: a manifest judged offline (`palisade check`)
// then gets the verdict the cluster gives. Admission reviews have been through this already and
// are never passed here.
//
//   - A volume with no source is an emptyDir (SetDefaults_Volume), in pods and pod templates.
//   - With hostNetwork, a container port's unset hostPort is its containerPort (SetDefaults_Pod):
//     pods only from 1.28; before, pod templates too (SetDefaults_PodSpec).
//   - Pods on create, the legacy annotations copied to unset fields (PrepareForCreate):
//     AppArmor from 1.30 (container annotation -> container field, unless it equals the pod's
//     field), seccomp 1.19-1.26 (annotation -> field; 1.19-1.24 also field -> annotation).
//     Windows pods are skipped, as the API server skips them.

#include <rapidjson/document.h>

#include "policy/decision.h"

namespace palisade::policy {

struct ApiServerDefaultsOptions {
  int kubernetes_minor = 31;  // the cluster's 1.x
};

// Applies the above to `object` (a Pod, or a workload whose pod template TemplateOf(type) names),
// in place. Parts of unexpected types are left alone.
void ApplyApiServerDefaults(rapidjson::Value& object, ObjectType type,
                            rapidjson::Document::AllocatorType& allocator,
                            const ApiServerDefaultsOptions& options = {});

}  // namespace palisade::policy
