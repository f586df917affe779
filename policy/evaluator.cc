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
  for (const RegisteredCheck& check :
       DefaultRegistry().ChecksFor(level_version.level, level_version.version)) {
    Findings findings = check.function(pod);
    if (findings.empty()) continue;
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
