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

Evaluation EvaluatePod(const Pod& pod, const LevelVersion& level_version) {
  Evaluation evaluation;
  for (const RegisteredCheck& check :
       DefaultRegistry().ChecksFor(level_version.level, level_version.version)) {
    CheckResult result = check.function(pod);
    if (result.allowed) continue;
    evaluation.allowed = false;
    evaluation.failures.push_back(CheckFailure{check.id, result.reason, std::move(result.detail)});
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
