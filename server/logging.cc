#include "server/logging.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>

#include "policy/review.h"

namespace palisade::server {
namespace {

// "2026-11-28T04:47:06.123Z". The part up to the second is formatted once per second and thread.
std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  thread_local std::time_t cached_second = -1;
  thread_local char cached[32];
  thread_local std::size_t cached_size = 0;
  if (seconds != cached_second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    cached_size = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = seconds;
  }
  std::string stamp;
  stamp.reserve(cached_size + 5);
  stamp.append(cached, cached_size);
  const auto ms = static_cast<int>(millis);
  const char tail[] = {'.', static_cast<char>('0' + ms / 100),
                       static_cast<char>('0' + ms / 10 % 10), static_cast<char>('0' + ms % 10),
                       'Z'};
  stamp.append(tail, sizeof tail);
  return stamp;
}

// Text values are quoted only when they would not read back as one token.
void AppendTextValue(std::string* out, std::string_view value) {
  const bool plain = !value.empty() && value.find_first_of(" \"=\n\t") == std::string_view::npos;
  if (plain) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out->push_back('\\');
    if (c == '\n') {
      out->append("\\n");
      continue;
    }
    out->push_back(c);
  }
  out->push_back('"');
}

// A key as a JSON string and its colon. Keys are names in code ("namespace", "latency_us"): written
// as they are, which costs less than the escape scan, and escaped should one ever need it.
void AppendJsonKey(std::string& out, std::string_view key) {
  const bool plain = std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!plain) {
    policy::AppendJsonString(out, key);
    out += ':';
    return;
  }
  const std::size_t start = out.size();
  out.resize(start + key.size() + 3);
  char* const p = out.data() + start;
  p[0] = '"';
  std::memcpy(p + 1, key.data(), key.size());
  p[key.size() + 1] = '"';
  p[key.size() + 2] = ':';
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "json") return LogFormat::kJson;
  if (text == "text") return LogFormat::kText;
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

Logger::Logger(LogLevel level, LogFormat format, std::ostream* out)
    : level_(level), format_(format), out_(out != nullptr ? out : &std::cerr) {}

std::string Logger::Format(LogLevel level, std::string_view message,
                           const std::vector<LogField>& fields) const {
  const std::string ts = Timestamp();
  if (format_ == LogFormat::kJson) {
    // The same bytes rapidjson::Writer wrote, without its character-at-a-time stream.
    using policy::AppendJsonString;
    std::string line;
    // Room for the whole line and Log()'s newline: one allocation (escapes aside).
    std::size_t size = 80 + message.size();
    for (const LogField& field : fields) {
      size += field.key.size() + 4;
      if (const auto* text = std::get_if<std::string>(&field.value)) {
        size += text->size() + 2;
      } else if (const auto* list = std::get_if<std::vector<std::string>>(&field.value)) {
        for (const std::string& item : *list) size += item.size() + 3;
        size += 2;
      } else {
        size += 20;
      }
    }
    line.reserve(size);
    // The timestamp and the level need no escape.
    line += R"({"ts":")";
    line += ts;
    line += R"(","level":")";
    line += LogLevelName(level);
    line += R"(","msg":)";
    AppendJsonString(line, message);
    for (const LogField& field : fields) {
      line += ',';
      AppendJsonKey(line, field.key);
      std::visit(
          [&line](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::string>) {
              AppendJsonString(line, value);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
              char digits[24];
              line.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
            } else if constexpr (std::is_same_v<T, bool>) {
              line += value ? "true" : "false";
            } else {
              line += '[';
              for (std::size_t i = 0; i < value.size(); ++i) {
                if (i > 0) line += ',';
                AppendJsonString(line, value[i]);
              }
              line += ']';
            }
          },
          field.value);
    }
    line += '}';
    return line;
  }
  std::string line = ts;
  line.push_back(' ');
  for (char c : LogLevelName(level)) line.push_back(static_cast<char>(std::toupper(c)));
  line.push_back(' ');
  line.append(message);
  for (const LogField& field : fields) {
    line.push_back(' ');
    line.append(field.key);
    line.push_back('=');
    std::visit(
        [&line](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::string>) {
            AppendTextValue(&line, value);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            line.append(std::to_string(value));
          } else if constexpr (std::is_same_v<T, bool>) {
            line.append(value ? "true" : "false");
          } else {
            std::string joined;
            for (std::size_t i = 0; i < value.size(); ++i) {
              if (i > 0) joined.push_back(',');
              joined.append(value[i]);
            }
            AppendTextValue(&line, joined);
          }
        },
        field.value);
  }
  return line;
}

namespace {
thread_local Logger::FlushScheduler thread_scheduler = nullptr;
thread_local void* thread_scheduler_context = nullptr;
}  // namespace

void Logger::SetThreadFlushScheduler(FlushScheduler scheduler, void* context) {
  thread_scheduler = scheduler;
  thread_scheduler_context = context;
}

Logger::~Logger() { Flush(); }

void Logger::WriteLocked(std::string_view text) {
  out_->write(text.data(), static_cast<std::streamsize>(text.size()));
  out_->flush();
}

void Logger::WriteHeldLocked() {
  WriteLocked(held_);
  // A burst's buffer is not kept for the idle time after it.
  if (held_.capacity() > 16 * 1024) {
    std::string().swap(held_);
  } else {
    held_.clear();
  }
}

void Logger::Flush() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  flush_scheduled_ = false;
  if (!held_.empty()) WriteHeldLocked();
}

void Logger::Log(LogLevel level, std::string_view message, const std::vector<LogField>& fields) {
  if (!Enabled(level)) return;
  std::string line = Format(level, message, fields);
  line.push_back('\n');
  const FlushScheduler scheduler = thread_scheduler;
  if (level < LogLevel::kWarn && scheduler != nullptr && hold_.load(std::memory_order_relaxed)) {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(write_mutex_);
      held_ += line;
      if (held_.size() <= kMaxHeldBytes) {
        schedule = !flush_scheduled_;
        flush_scheduled_ = true;
      } else {
        WriteHeldLocked();
      }
    }
    if (schedule) scheduler(thread_scheduler_context, this);
    return;
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (!held_.empty()) {
    // In order: what waits, then this line, in one write.
    held_ += line;
    WriteHeldLocked();
    return;
  }
  WriteLocked(line);
}

}  // namespace palisade::server
