#include "policy/exceptions.h"

#include <algorithm>
#include <charconv>

#include "policy/document_reader.h"
#include "policy/evaluator.h"
#include "policy/namespace_policy.h"
#include "policy/registry.h"
#include "policy/rules.h"

namespace palisade::policy {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
Day DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool LeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::vector<std::string> KnownCheckIds() {
  std::vector<std::string> ids;
  for (const Check& check : DefaultRegistry().checks()) ids.emplace_back(check.id);
  std::sort(ids.begin(), ids.end());
  for (std::string_view rule : RuleIds()) ids.push_back("rules." + std::string(rule));
  return ids;
}

bool MatchesAnyGlob(const std::vector<std::string>& globs, std::string_view text) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& glob) { return GlobMatch(glob, text); });
}

const Container* FindContainer(const Pod& pod, std::string_view name) {
  for (const Container& c : pod.containers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Whether `exception` may waive `finding` of `check` at all (check, container, image).
bool Applies(const PolicyException& exception, std::string_view check, const Finding& finding,
             const Pod& pod) {
  if (std::find(exception.checks.begin(), exception.checks.end(), check) ==
      exception.checks.end()) {
    return false;
  }
  if (finding.PodLevel()) {
    if (!exception.containers.empty()) return false;
    if (exception.images.empty()) return true;
    return std::all_of(pod.containers.begin(), pod.containers.end(), [&](const Container& c) {
      return MatchesAnyGlob(exception.images, c.image.value_or(""));
    });
  }
  if (!exception.containers.empty() && !MatchesAnyGlob(exception.containers, finding.container)) {
    return false;
  }
  if (exception.images.empty()) return true;
  const Container* container = FindContainer(pod, finding.container);
  return container != nullptr && MatchesAnyGlob(exception.images, container->image.value_or(""));
}

bool Covers(const PolicyException& exception, std::string_view value) {
  return exception.values.empty() || std::find(exception.values.begin(), exception.values.end(),
                                               value) != exception.values.end();
}

// Removes the waived findings of `check`; records the exceptions that waived them.
void Waive(Findings& findings, std::string_view check, const Pod& pod,
           const std::vector<PolicyException>& exceptions, std::optional<Day> today,
           ExceptionUse* use) {
  std::vector<const PolicyException*> in_force;
  for (const PolicyException& exception : exceptions) {
    if (exception.InForce(today)) in_force.push_back(&exception);
  }
  if (in_force.empty()) return;
  std::erase_if(findings, [&](const Finding& finding) {
    std::vector<const PolicyException*> applicable;
    for (const PolicyException* exception : in_force) {
      if (Applies(*exception, check, finding, pod)) applicable.push_back(exception);
    }
    if (applicable.empty()) return false;
    std::vector<const PolicyException*> covering;
    if (finding.values.empty()) {
      for (const PolicyException* exception : applicable) {
        if (exception->values.empty()) covering.push_back(exception);
      }
      if (covering.empty()) return false;
    }
    for (const std::string& value : finding.values) {
      const PolicyException* found = nullptr;
      for (const PolicyException* exception : applicable) {
        if (Covers(*exception, value)) {
          found = exception;
          break;
        }
      }
      if (found == nullptr) return false;
      covering.push_back(found);
    }
    if (use != nullptr) {
      for (const PolicyException* exception : covering) use->Add(*exception, today);
    }
    return true;
  });
}

}  // namespace

bool PolicyException::InForce(std::optional<Day> today) const {
  if (!expires_day) return true;  // never
  return today && *today <= *expires_day;
}

std::optional<Day> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int y = 0, m = 0, d = 0;
  const auto number = [&](std::size_t at, std::size_t length, int& out) {
    for (std::size_t i = at; i < at + length; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
    }
    return std::from_chars(text.data() + at, text.data() + at + length, out).ec == std::errc{};
  };
  if (!number(0, 4, y) || !number(5, 2, m) || !number(8, 2, d)) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || m < 1 || m > 12 || d < 1) return std::nullopt;
  const int days_in_month = m == 2 && LeapYear(y) ? 29 : kDays[m - 1];
  if (d > days_in_month) return std::nullopt;
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::string FormatDate(Day day) {
  const Day z = day + 719468;
  const Day era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const Day y = static_cast<Day>(yoe) + era * 400 + (m <= 2);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buffer;
}

std::string ValidateExceptionCheck(std::string_view id) {
  const std::vector<std::string> known = KnownCheckIds();
  if (std::find(known.begin(), known.end(), id) != known.end()) return "";
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(3, id.size() / 3) + 1;
  for (const std::string& candidate : known) {
    // "allowedCapabilities" for "rules.allowedCapabilities" too.
    const std::string_view bare = std::string_view(candidate).starts_with("rules.")
                                      ? std::string_view(candidate).substr(6)
                                      : std::string_view(candidate);
    const std::size_t distance = std::min(EditDistance(id, candidate), EditDistance(id, bare));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  std::string reason = "unknown check " + check_text::GoQuote(id);
  if (!best.empty()) reason += " (did you mean " + check_text::GoQuote(best) + "?)";
  return reason + ": a PSA check ID or rules.<rule>";
}

std::string ValidateExceptionGlob(std::string_view glob) {
  if (glob.empty()) return "must not be empty";
  for (char c : glob) {
    if (c == '[' || c == ']' || c == '{' || c == '}' || c == '\\') {
      return "unsupported glob character '" + std::string(1, c) + "' (only '*' and '?')";
    }
    if (static_cast<unsigned char>(c) <= ' ')
      return "must not contain spaces or control characters";
  }
  return "";
}

void ExceptionUse::Add(const PolicyException& exception, std::optional<Day> today) {
  const auto at = std::lower_bound(used.begin(), used.end(), exception.name);
  if (at != used.end() && *at == exception.name) return;
  used.insert(at, exception.name);
  if (today && exception.expires_day && *exception.expires_day - *today < kExpiryWarningDays) {
    expiring.push_back(&exception);
  }
}

void WaiveCheckFailures(std::vector<CheckFailure>& failures, const Pod& pod,
                        const std::vector<PolicyException>& exceptions, std::optional<Day> today,
                        ExceptionUse* use) {
  if (exceptions.empty()) return;
  std::erase_if(failures, [&](CheckFailure& failure) {
    const std::size_t before = failure.findings.size();
    Waive(failure.findings, failure.id, pod, exceptions, today, use);
    if (failure.findings.empty()) return true;
    if (failure.findings.size() != before) {
      RenderedFailure rendered = RenderFindings(failure.id, failure.findings);
      failure.reason = rendered.reason;
      failure.detail = std::move(rendered.detail);
    }
    return false;
  });
}

void WaiveRuleFailures(std::vector<RuleFailure>& failures, const Pod& pod,
                       const EffectivePolicy& policy, std::optional<Day> today, ExceptionUse* use) {
  if (policy.exceptions.empty()) return;
  std::erase_if(failures, [&](RuleFailure& failure) {
    const std::size_t before = failure.findings.size();
    Waive(failure.findings, failure.field, pod, policy.exceptions, today, use);
    if (failure.findings.empty()) return true;
    if (failure.findings.size() != before) {
      failure = RenderRule(failure.id, std::move(failure.findings), policy);
    }
    return false;
  });
}

}  // namespace palisade::policy
