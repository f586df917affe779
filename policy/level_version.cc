#include "policy/level_version.h"

#include <charconv>

namespace palisade::policy {

std::string Version::ToString() const { return "v1." + std::to_string(minor); }

std::string LevelVersion::ToString() const {
  std::string out;
  AppendTo(out);
  return out;
}

void LevelVersion::AppendTo(std::string& out) const {
  out += LevelName(level);
  out += ":v1.";
  char digits[16];
  const auto written = std::to_chars(digits, digits + sizeof digits, version.minor);
  out.append(digits, written.ptr);
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kPrivileged:
      return "privileged";
    case Level::kBaseline:
      return "baseline";
    case Level::kRestricted:
      return "restricted";
  }
  return "unknown";
}

std::optional<Level> ParseLevel(std::string_view text) {
  if (text == "privileged") return Level::kPrivileged;
  if (text == "baseline") return Level::kBaseline;
  if (text == "restricted") return Level::kRestricted;
  return std::nullopt;
}

std::optional<LevelVersion> ParseLevelVersion(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<LevelVersion> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  const auto colon = text.find(':');
  const std::string_view level_text = text.substr(0, colon);
  const auto level = ParseLevel(level_text);
  if (!level) {
    return fail("unknown level \"" + std::string(level_text) +
                "\" (want privileged, baseline or restricted)");
  }
  LevelVersion result{*level, Version::Latest(), true};
  if (colon == std::string_view::npos) return result;

  const std::string_view version_text = text.substr(colon + 1);
  if (version_text == "latest") return result;
  const auto bad_version = [&] {
    return fail("invalid version \"" + std::string(version_text) + "\" (want v1.N or latest)");
  };
  if (version_text.size() < 4 || version_text.substr(0, 3) != "v1.") return bad_version();
  const std::string_view digits = version_text.substr(3);
  if (digits.size() > 1 && digits[0] == '0') return bad_version();
  for (const char c : digits) {
    if (c < '0' || c > '9') return bad_version();  // from_chars would accept a sign
  }
  int minor = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), minor);
  if (ec == std::errc::result_out_of_range && end == digits.data() + digits.size()) {
    minor = Version::kLatestMinor;  // absurdly new: clamp like any newer version
  } else if (ec != std::errc() || end != digits.data() + digits.size()) {
    return bad_version();
  }
  if (minor >= Version::kLatestMinor) {
    result.version = Version::Latest();
    result.latest = false;
    return result;
  }
  result.version = Version{minor};
  result.latest = false;
  return result;
}

}  // namespace palisade::policy
