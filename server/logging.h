#pragma once

// Structured log lines on stderr: one JSON object (or one "key=value" text line) per event.

#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace palisade::server {

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
enum class LogFormat : std::uint8_t { kJson, kText };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
std::optional<LogFormat> ParseLogFormat(std::string_view text);
std::string_view LogLevelName(LogLevel level);

struct LogField {
  using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>>;
  std::string key;
  Value value;

  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, std::string_view v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, std::int64_t v) : key(std::move(k)), value(v) {}
  LogField(std::string k, int v) : key(std::move(k)), value(std::int64_t{v}) {}
  LogField(std::string k, bool v) : key(std::move(k)), value(v) {}
  LogField(std::string k, std::vector<std::string> v) : key(std::move(k)), value(std::move(v)) {}
};

class Logger {
 public:
  // `out` must outlive the logger; defaults to std::cerr.
  explicit Logger(LogLevel level = LogLevel::kInfo, LogFormat format = LogFormat::kJson,
                  std::ostream* out = nullptr);

  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, std::string_view message, const std::vector<LogField>& fields = {});

  void Debug(std::string_view m, const std::vector<LogField>& f = {}) {
    Log(LogLevel::kDebug, m, f);
  }
  void Info(std::string_view m, const std::vector<LogField>& f = {}) { Log(LogLevel::kInfo, m, f); }
  void Warn(std::string_view m, const std::vector<LogField>& f = {}) { Log(LogLevel::kWarn, m, f); }
  void Error(std::string_view m, const std::vector<LogField>& f = {}) {
    Log(LogLevel::kError, m, f);
  }

  // The line Log() would write, without the trailing newline (for tests).
  std::string Format(LogLevel level, std::string_view message,
                     const std::vector<LogField>& fields) const;

 private:
  LogLevel level_;
  LogFormat format_;
  std::ostream* out_;
  std::mutex write_mutex_;  // whole lines only; never held by request handling beyond one write
};

}  // namespace palisade::server
