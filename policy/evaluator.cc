#include "policy/evaluator.h"

#include "policy/registry.h"

namespace palisade::policy {

std::string Evaluation::Message() const {
  std::string out;
  const auto separate = [&] {
    if (!out.empty()) out += ", ";
  };
  for (const FieldError& error : errors) {
    separate();
    out += error.path;
    out += ": ";
    out += error.message;
  }
  for (const CheckFailure& failure : failures) {
    separate();
    out += failure.reason.empty() ? std::string_view("unknown forbidden reason") : failure.reason;
    if (!failure.detail.empty()) {
      out += " (";
      out += failure.detail;
      out += ')';
    }
  }
  return out;
}

RenderedFailure RenderFindings(std::string_view id, const Findings& findings) {
  const Check* check = DefaultRegistry().Find(id);
  if (check == nullptr || findings.empty()) return {};
  return check->render(findings);
}

Evaluation EvaluatePod(const Pod& pod, const LevelVersion& level_version) {
  Evaluation evaluation;
  const std::span<const RegisteredCheck> checks =
      DefaultRegistry().ChecksFor(level_version.level, level_version.version);
  for (const RegisteredCheck& check : checks) {
    Findings findings = check.function(pod);
    if (findings.empty()) continue;
    // A pod that fails one check often fails several (the restricted ones of settings left
    // unset): room for the rest at once.
    if (evaluation.allowed) evaluation.failures.reserve(checks.size());
    evaluation.allowed = false;
    RenderedFailure rendered = check.render(findings);
    evaluation.failures.push_back(
        CheckFailure{check.id, rendered.reason, std::move(rendered.detail), std::move(findings)});
  }
  return evaluation;
}

Evaluation EvaluatePod(const PodReadResult& read, const LevelVersion& level_version) {
  Evaluation evaluation = EvaluatePod(read.pod, level_version);
  if (!read.errors.empty()) {
    evaluation.allowed = false;
    evaluation.errors = read.errors;
  }
  return evaluation;
}

}  // namespace palisade::policy
