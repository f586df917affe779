#include "policy/level_version.h"

#include <gtest/gtest.h>

#include <string>

namespace palisade::policy {
namespace {

struct Good {
  const char* text;
  LevelVersion expected;
  const char* evaluated;
};

TEST(LevelVersion, Parses) {
  for (const Good& g : {
           Good{"restricted", {Level::kRestricted, Version{37}, true}, "restricted:v1.37"},
           Good{"baseline:v1.30", {Level::kBaseline, Version{30}, false}, "baseline:v1.30"},
           Good{"restricted:latest", {Level::kRestricted, Version{37}, true}, "restricted:v1.37"},
           Good{"restricted:v1.99", {Level::kRestricted, Version{37}, false}, "restricted:v1.37"},
           Good{"privileged:v1.0", {Level::kPrivileged, Version{0}, false}, "privileged:v1.0"},
           Good{"baseline:v1.37", {Level::kBaseline, Version{37}, false}, "baseline:v1.37"},
           Good{"baseline:v1.99999999999999999999",
                {Level::kBaseline, Version{37}, false},
                "baseline:v1.37"},
       }) {
    std::string error;
    const auto parsed = ParseLevelVersion(g.text, &error);
    ASSERT_TRUE(parsed) << g.text << ": " << error;
    EXPECT_EQ(*parsed, g.expected) << g.text;
    EXPECT_EQ(parsed->ToString(), g.evaluated) << g.text;
  }
}

TEST(LevelVersion, RejectsWithClearMessages) {
  struct Bad {
    const char* text;
    const char* message;
  };
  for (const Bad& b : {
           Bad{"", R"(unknown level "" (want privileged, baseline or restricted))"},
           Bad{"strict", R"(unknown level "strict" (want privileged, baseline or restricted))"},
           Bad{"Restricted",
               R"(unknown level "Restricted" (want privileged, baseline or restricted))"},
           Bad{"restricted:1.30", R"(invalid version "1.30" (want v1.N or latest))"},
           Bad{"restricted:v1.030", R"(invalid version "v1.030" (want v1.N or latest))"},
           Bad{"restricted:", R"(invalid version "" (want v1.N or latest))"},
           Bad{"restricted:v1.", R"(invalid version "v1." (want v1.N or latest))"},
           Bad{"restricted:v1.-1", R"(invalid version "v1.-1" (want v1.N or latest))"},
           Bad{"restricted:v1.+1", R"(invalid version "v1.+1" (want v1.N or latest))"},
           Bad{"restricted:v2.0", R"(invalid version "v2.0" (want v1.N or latest))"},
           Bad{"restricted:v1.30 ", R"(invalid version "v1.30 " (want v1.N or latest))"},
           Bad{"restricted:Latest", R"(invalid version "Latest" (want v1.N or latest))"},
       }) {
    std::string error;
    EXPECT_FALSE(ParseLevelVersion(b.text, &error)) << b.text;
    EXPECT_EQ(error, b.message) << b.text;
  }
  EXPECT_FALSE(ParseLevelVersion("strict", nullptr));  // no error sink needed
}

}  // namespace
}  // namespace palisade::policy
