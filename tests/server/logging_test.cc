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

}  // namespace
}  // namespace palisade::server
