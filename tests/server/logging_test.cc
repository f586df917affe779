#include "server/logging.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

namespace palisade::server {
namespace {

// The UTC second of a "2026-11-28T04:47:06.123Z" stamp, as seconds since the epoch.
std::time_t SecondOf(const std::string& stamp) {
  std::tm utc{};
  strptime(stamp.c_str(), "%Y-%m-%dT%H:%M:%S", &utc);
  return timegm(&utc);
}

TEST(Logger, JsonLineHasUtcMillisecondStampAndEscapedFields) {
  std::ostringstream out;
  Logger logger(LogLevel::kInfo, LogFormat::kJson, &out);
  const auto before = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  logger.Info("admission", {{"uid", "a\"b\\c\n"},
                            {"patch_ops", 3},
                            {"dry", false},
                            {"checks", std::vector<std::string>{"privileged", "hostPath"}},
                            {"odd \"key\"", 1}});
  logger.Debug("not written");
  const auto after = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());

  const std::string text = out.str();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line: " << text;
  rapidjson::Document line;
  line.Parse(text.c_str());
  ASSERT_FALSE(line.HasParseError()) << text;
  const std::string stamp = line["ts"].GetString();
  EXPECT_TRUE(std::regex_match(stamp, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << stamp;
  EXPECT_GE(SecondOf(stamp), before);
  EXPECT_LE(SecondOf(stamp), after);
  const std::string rest = text.substr(text.find(R"(,"level")"));
  EXPECT_EQ(rest,
            R"(,"level":"info","msg":"admission","uid":"a\"b\\c\n","patch_ops":3,"dry":false,)"
            R"("checks":["privileged","hostPath"],"odd \"key\"":1})"
            "\n");
}

// The stamp's second is formatted once and reused: lines a second apart must still differ.
TEST(Logger, StampFollowsTheClockAcrossSeconds) {
  std::ostringstream out;
  Logger logger(LogLevel::kInfo, LogFormat::kText, &out);
  const std::string first = logger.Format(LogLevel::kInfo, "one", {});
  const auto start = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  while (std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) == start) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string second = logger.Format(LogLevel::kWarn, "two words", {{"k", "v w"}});
  EXPECT_GT(SecondOf(second.substr(0, 24)), SecondOf(first.substr(0, 24)));
  EXPECT_EQ(first.substr(24), " INFO one");
  EXPECT_EQ(second.substr(24), R"( WARN two words k="v w")");
}

// A stream that counts its writes: each of the logger's writes ends in a flush (a sync here).
class CountingBuffer : public std::stringbuf {
 public:
  int writes = 0;

 protected:
  int sync() override {
    ++writes;
    return std::stringbuf::sync();
  }
};

// Stands in for an event loop: remembers that a flush was asked for, as posting it would.
struct FakeLoop {
  int asked = 0;
  Logger* logger = nullptr;
  static void Schedule(void* context, Logger* logger) {
    auto* loop = static_cast<FakeLoop*>(context);
    ++loop->asked;
    loop->logger = logger;
  }
};

// Clears the thread's scheduler however a test ends.
struct ThreadScheduler {
  explicit ThreadScheduler(FakeLoop* loop) {
    Logger::SetThreadFlushScheduler(&FakeLoop::Schedule, loop);
  }
  ~ThreadScheduler() { Logger::SetThreadFlushScheduler(nullptr, nullptr); }
};

std::string Messages(const std::string& text) {
  std::string messages;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    messages += line.substr(line.find(" INFO ") != std::string::npos ? line.find(" INFO ") + 6
                                                                     : line.find(" WARN ") + 6);
    messages += ';';
  }
  return messages;
}

TEST(Logger, HeldInfoLinesWaitForTheLoopAndGoOutInOneWrite) {
  CountingBuffer buffer;
  std::ostream out(&buffer);
  Logger logger(LogLevel::kInfo, LogFormat::kText, &out);
  logger.HoldLines(true);
  FakeLoop loop;
  ThreadScheduler scheduler(&loop);

  logger.Info("one");
  logger.Info("two");
  logger.Debug("below the level");
  logger.Info("three");
  EXPECT_EQ(buffer.str(), "");
  EXPECT_EQ(loop.asked, 1) << "one flush asked for a burst";
  EXPECT_EQ(loop.logger, &logger);

  logger.Flush();
  EXPECT_EQ(Messages(buffer.str()), "one;two;three;");
  EXPECT_EQ(buffer.writes, 1);

  // The next line asks again; a warning is written at once, after what waits before it.
  logger.Info("four");
  EXPECT_EQ(loop.asked, 2);
  logger.Warn("five");
  EXPECT_EQ(Messages(buffer.str()), "one;two;three;four;five;");
  EXPECT_EQ(buffer.writes, 2);
  logger.Flush();  // the flush asked for finds nothing
  EXPECT_EQ(buffer.writes, 2);
}

TEST(Logger, LinesAreWrittenAtOnceUnlessHeldOnAThreadWithALoop) {
  CountingBuffer buffer;
  std::ostream out(&buffer);
  Logger logger(LogLevel::kInfo, LogFormat::kText, &out);
  FakeLoop loop;
  {
    ThreadScheduler scheduler(&loop);
    logger.Info("not held: holding is off");
    EXPECT_EQ(buffer.writes, 1);
  }
  logger.HoldLines(true);
  logger.Info("not held: no loop on this thread");
  EXPECT_EQ(buffer.writes, 2);
  EXPECT_EQ(loop.asked, 0);

  // A line from a thread without a loop writes what waits first.
  ThreadScheduler scheduler(&loop);
  logger.Info("held");
  std::thread([&] { logger.Info("from a watcher"); }).join();
  EXPECT_EQ(Messages(buffer.str()),
            "not held: holding is off;not held: no loop on this thread;held;from a watcher;");
  EXPECT_EQ(buffer.writes, 3);
}

TEST(Logger, HeldLinesAreWrittenOnceTheyFill64KiBAndWhenTheLoggerEnds) {
  CountingBuffer buffer;
  std::ostream out(&buffer);
  FakeLoop loop;
  ThreadScheduler scheduler(&loop);
  const std::string filler(1000, 'x');
  {
    Logger logger(LogLevel::kInfo, LogFormat::kText, &out);
    logger.HoldLines(true);
    std::size_t held = 0;
    int lines = 0;
    for (;;) {
      const std::size_t line = logger.Format(LogLevel::kInfo, filler, {}).size() + 1;
      if (held + line > Logger::kMaxHeldBytes) break;
      logger.Info(filler);
      held += line;
      ++lines;
    }
    EXPECT_EQ(buffer.str(), "");
    logger.Info(filler);  // one more than fits: all of them now
    EXPECT_EQ(buffer.writes, 1);
    EXPECT_EQ(buffer.str().size(), held + logger.Format(LogLevel::kInfo, filler, {}).size() + 1);
    EXPECT_GT(lines, 60);
    logger.Info("last");
    EXPECT_EQ(buffer.writes, 1);
  }
  // The logger's end wrote the line that waited.
  EXPECT_EQ(buffer.writes, 2);
  EXPECT_TRUE(buffer.str().ends_with(" INFO last\n"))
      << buffer.str().substr(buffer.str().size() - 40);
}

}  // namespace
}  // namespace palisade::server
