#include "server/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

#include "policy/admission.h"

namespace palisade::server {
namespace {

// Labels taken from the request stay within a fixed set: a client cannot mint series.
TEST(Metrics, RequestLabelsAreBounded) {
  Metrics metrics;
  policy::AdmissionResult known;
  known.operation = "CREATE";
  known.resource = "pods/ephemeralcontainers";
  known.decision = "allowed";
  metrics.RecordAdmission("validate", known, std::chrono::microseconds(80));
  for (int i = 0; i < 3; ++i) {
    policy::AdmissionResult odd;
    odd.operation = "PATCH" + std::to_string(i);
    odd.resource = "secrets/" + std::to_string(i);
    odd.decision = "allowed";
    metrics.RecordAdmission("validate", odd, std::chrono::microseconds(80));
  }
  const std::string text = metrics.Serialize();
  EXPECT_NE(text.find("palisade_requests_total{decision=\"allowed\",endpoint=\"validate\","
                      "operation=\"CREATE\",resource=\"pods/ephemeralcontainers\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("palisade_requests_total{decision=\"allowed\",endpoint=\"validate\","
                      "operation=\"other\",resource=\"other\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("secrets/"), std::string::npos);
  EXPECT_EQ(text.find("PATCH"), std::string::npos);
}

// One series per (policy, exception), replaced on every reload; "never" is +Inf.
TEST(Metrics, ExceptionExpiryFollowsReloads) {
  Metrics metrics;
  metrics.SetExceptionExpiry({{{"mesh", "init"}, 1806537600.0},
                              {{"mesh", "forever"}, std::numeric_limits<double>::infinity()}});
  std::string text = metrics.Serialize();
  EXPECT_NE(text.find("palisade_exception_expiry_timestamp_seconds{exception=\"init\","
                      "policy=\"mesh\"} 1806537600\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("palisade_exception_expiry_timestamp_seconds{exception=\"forever\","
                      "policy=\"mesh\"} +Inf\n"),
            std::string::npos)
      << text;
  metrics.SetExceptionExpiry({{{"mesh", "init"}, 1806537600.0}});
  text = metrics.Serialize();
  EXPECT_EQ(text.find("forever"), std::string::npos) << text;
}

}  // namespace
}  // namespace palisade::server
