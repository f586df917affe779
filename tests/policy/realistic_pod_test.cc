// The shared realistic pod (a Deployment's checkout pod with an init container and a sidecar).

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "fixtures.h"

namespace palisade::policy::testing {
namespace {

std::string ReadShared(const std::string& name) {
  std::ifstream in(std::string(PALISADE_SHARED_DIR) + "/testdata/" + name);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class RealisticPod : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = ReadShared("pod_realistic.json");
    ASSERT_FALSE(text.empty());
    doc_.Parse(text.c_str());
    ASSERT_FALSE(doc_.HasParseError());
  }
  rapidjson::Document doc_;
};

TEST_F(RealisticPod, RestrictedLatest) {
  std::string error;
  const auto level_version = ParseLevelVersion("restricted:latest", &error);
  ASSERT_TRUE(level_version) << error;
  const Evaluation evaluation = EvaluatePod(ReadPod(doc_), *level_version);
  EXPECT_FALSE(evaluation.allowed);
  EXPECT_TRUE(evaluation.errors.empty());
  EXPECT_EQ(evaluation.Message(),
            R"(allowPrivilegeEscalation != false (containers "migrate", "app", "envoy" must set )"
            R"(securityContext.allowPrivilegeEscalation=false), )"
            R"(unrestricted capabilities (containers "migrate", "app", "envoy" must set )"
            R"(securityContext.capabilities.drop=["ALL"]), )"
            R"(runAsNonRoot != true (pod or containers "migrate", "app", "envoy" must set )"
            R"(securityContext.runAsNonRoot=true), )"
            R"(seccompProfile (pod or containers "migrate", "app", "envoy" must set )"
            R"(securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"))");
  ASSERT_EQ(evaluation.failures.size(), 4u);
  EXPECT_EQ(evaluation.failures[0].id, "allowPrivilegeEscalation");
  EXPECT_EQ(evaluation.failures[1].id, "capabilities_restricted");
  EXPECT_EQ(evaluation.failures[2].id, "runAsNonRoot");
  EXPECT_EQ(evaluation.failures[3].id, "seccompProfile_restricted");
}

TEST_F(RealisticPod, BaselineLatest) {
  std::string error;
  const auto level_version = ParseLevelVersion("baseline:latest", &error);
  ASSERT_TRUE(level_version) << error;
  const Evaluation evaluation = EvaluatePod(ReadPod(doc_), *level_version);
  EXPECT_TRUE(evaluation.allowed);
  EXPECT_EQ(evaluation.Message(), "");
}

// Hardened as the namespace defaults would make it, the pod passes restricted.
TEST_F(RealisticPod, HardenedPassesRestricted) {
  Set(doc_, "/spec/securityContext",
      R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})");
  for (const char* container :
       {"/spec/initContainers/0", "/spec/containers/0", "/spec/containers/1"}) {
    const std::string sc = std::string(container) + "/securityContext";
    Set(doc_, (sc + "/allowPrivilegeEscalation").c_str(), "false");
    Set(doc_, (sc + "/capabilities").c_str(), R"({"drop":["ALL"]})");
  }
  const Evaluation evaluation =
      EvaluatePod(ReadPod(doc_), LevelVersion{Level::kRestricted, Version::Latest(), true});
  EXPECT_TRUE(evaluation.allowed) << evaluation.Message();
}

}  // namespace
}  // namespace palisade::policy::testing
