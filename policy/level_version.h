#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace palisade::policy {

enum class Level : std::uint8_t { kPrivileged, kBaseline, kRestricted };

// A Pod Security Standards version, v1.<minor>. All PSS versions are 1.x.
struct Version {
  static constexpr int kOldestMinor = 0;
  static constexpr int kLatestMinor = 37;  // "latest" as this binary knows it

  int minor = kLatestMinor;

  static constexpr Version Latest() { return Version{kLatestMinor}; }
  constexpr auto operator<=>(const Version&) const = default;
  std::string ToString() const;  // "v1.37"
};

// "restricted:v1.30", "baseline", "privileged:latest". A version above the newest clamps to it;
// `latest` remembers whether the text said latest (or gave no version).
struct LevelVersion {
  Level level = Level::kRestricted;
  Version version;
  bool latest = true;

  constexpr bool operator==(const LevelVersion&) const = default;
  std::string ToString() const;  // the evaluated form: "restricted:v1.37"
  void AppendTo(std::string& out) const;
};

std::string_view LevelName(Level level);
std::optional<Level> ParseLevel(std::string_view text);

// Parses LEVEL[:VERSION]. On failure returns nullopt and sets *error to a message that names the
// bad part and what is accepted, e.g. `unknown level "strict" (want privileged, baseline or
// restricted)`.
std::optional<LevelVersion> ParseLevelVersion(std::string_view text, std::string* error);

}  // namespace palisade::policy
