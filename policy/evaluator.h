#pragma once

// Evaluates a pod against a Pod Security Standards level and version, exactly as Kubernetes' Pod
// Security Admission does.

#include <string>
#include <string_view>
#include <vector>

#include "policy/check.h"
#include "policy/level_version.h"
#include "policy/pod.h"

namespace palisade::policy {

// A failed check: what offends (findings) and how PSA words it (reason, detail: rendered from
// the findings by the check's render function, RenderFindings).
struct CheckFailure {
  std::string_view id;      // "allowPrivilegeEscalation", "capabilities_restricted", ...
  std::string_view reason;  // PSA's reason: "allowPrivilegeEscalation != false"
  std::string detail;       // PSA's detail: `containers "a", "b" must set ...`
  Findings findings;        // never empty; in the pod's order (see Finding in check.h)
};

struct Evaluation {
  bool allowed = true;
  std::vector<FieldError> errors;      // fields of the wrong type: never allowed
  std::vector<CheckFailure> failures;  // in the registry's fixed order

  // PSA's aggregate: "reason (detail), reason (detail)"; field errors come first as
  // "path: message".
  std::string Message() const;
};

// PSA's wording of `findings` (non-empty) of the registered check `id`: used to word what is left
// after exceptions waived some findings. An unknown id renders as {"", ""}.
RenderedFailure RenderFindings(std::string_view id, const Findings& findings);

// Runs every check of `level_version` on the pod. `privileged` runs none.
Evaluation EvaluatePod(const Pod& pod, const LevelVersion& level_version);

// As above, but a pod that did not read cleanly is not allowed and its errors are reported.
Evaluation EvaluatePod(const PodReadResult& read, const LevelVersion& level_version);

}  // namespace palisade::policy
