#include "server/http_message.h"

#include <gtest/gtest.h>

#include "server/https_server.h"

namespace palisade::server {
namespace {

using std::chrono::nanoseconds;

TEST(ParseGoDuration, AcceptsWhatTheApiServerSends) {
  struct Case {
    const char* text;
    std::optional<nanoseconds> want;
  };
  const Case cases[] = {
      {"10s", std::chrono::seconds(10)},
      {"500ms", std::chrono::milliseconds(500)},
      {"1m30s", std::chrono::seconds(90)},
      {"1.5s", std::chrono::milliseconds(1500)},
      {"2h", std::chrono::hours(2)},
      {"", std::nullopt},
      {"10", std::nullopt},
      {"s", std::nullopt},
      {"-1s", std::nullopt},
      {"10x", std::nullopt},
      {"99999999999999h", std::nullopt},
      {"9999999999999h", std::nullopt},  // below a day's nanoseconds, but the product overflows
      {"25h", std::nullopt},
      {"24h", std::chrono::hours(24)},
      {"86401s", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseGoDuration(c.text), c.want) << c.text;
  }
}

TEST(QueryParameter, FindsNamedParameter) {
  EXPECT_EQ(QueryParameter("timeout=10s", "timeout"), std::optional<std::string_view>("10s"));
  EXPECT_EQ(QueryParameter("a=1&timeout=3s&b", "timeout"), std::optional<std::string_view>("3s"));
  EXPECT_EQ(QueryParameter("a=1&b", "b"), std::optional<std::string_view>(""));
  EXPECT_EQ(QueryParameter("a=1", "timeout"), std::nullopt);
  EXPECT_EQ(QueryParameter("", "timeout"), std::nullopt);
}

TEST(ParseHostPort, ValidatesListenFlags) {
  std::string error;
  auto v4 = ParseHostPort("0.0.0.0:8443", &error);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 8443);
  auto v6 = ParseHostPort("[::1]:9090", &error);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseHostPort("8443", &error));
  EXPECT_EQ(error, "\"8443\" is not HOST:PORT");
  EXPECT_FALSE(ParseHostPort("localhost:8443", &error));
  EXPECT_EQ(error, "\"localhost:8443\": \"localhost\" is not an IP address");
  EXPECT_FALSE(ParseHostPort("0.0.0.0:70000", &error));
  EXPECT_EQ(error, "\"0.0.0.0:70000\": port must be a number from 0 to 65535");
}

}  // namespace
}  // namespace palisade::server
