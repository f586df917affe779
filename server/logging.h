#pragma once

// Structured log lines on stderr: one JSON object (or one "key=value" text line) per event.

#include <atomic>
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

  // Holding (off unless turned on): info and debug lines logged on a thread that has a flush
  // scheduler wait and are written together when it runs Flush(), or as soon as 64 KiB wait. Under
  // load the server logs a line per warned, denied or patched review, and a write is a system call
  // (over a microsecond on a virtual machine): one write per burst instead. Warnings and errors
  // are written at once, after what waits before them.
  void HoldLines(bool hold) { hold_.store(hold, std::memory_order_relaxed); }
  // Writes what waits.
  void Flush();
  ~Logger();

  // The calling thread's flush scheduler: called with `context` and the logger when a line of it
  // begins to wait; it must have the thread call logger->Flush() soon (an event loop posts it, to
  // run after the work already ready). nullptr: none (lines are written at once).
  using FlushScheduler = void (*)(void* context, Logger* logger);
  static void SetThreadFlushScheduler(FlushScheduler scheduler, void* context);

  static constexpr std::size_t kMaxHeldBytes = 64 * 1024;

 private:
  void WriteLocked(std::string_view text);
  void WriteHeldLocked();

  LogLevel level_;
  LogFormat format_;
  std::ostream* out_;
  std::atomic<bool> hold_{false};
  std::mutex write_mutex_;  // whole lines only; never held by request handling beyond one write
  std::string held_;        // lines waiting for Flush (guarded by write_mutex_)
  bool flush_scheduled_ = false;  // guarded by write_mutex_
};

}  // namespace palisade::server
