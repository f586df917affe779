// /validate on Namespaces (the label guard) and on pods in labelled namespaces (PSA labels and
// selectors through a whole review).

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <vector>

#include "policy/admission.h"
#include "policy/label_guard.h"

namespace palisade::policy {
namespace {

std::string NamespaceObject(const std::string& labels) {
  return R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team","labels":)" + labels +
         "}}";
}

struct NamespaceReview {
  std::string operation = "UPDATE";
  std::string username = "alice";
  std::string groups = R"(["system:authenticated"])";
  std::string old_labels = "{}";
  std::string new_labels = "{}";
  std::string resource = "namespaces";

  std::string Body() const {
    return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",)"
           R"("kind":{"group":"","version":"v1","kind":"Namespace"},)"
           R"("resource":{"group":"","version":"v1","resource":")" +
           resource + R"("},"name":"team","operation":")" + operation +
           R"(","userInfo":{"username":")" + username + R"(","groups":)" + groups +
           R"(},"object":)" + NamespaceObject(new_labels) + R"(,"oldObject":)" +
           (operation == "CREATE" ? std::string("null") : NamespaceObject(old_labels)) + "}}";
  }
};

struct Verdict {
  bool allowed = true;
  int code = 0;
  std::string message;
};

Verdict Judge(const std::string& body, const LabelGuard& guard,
              Endpoint endpoint = Endpoint::kValidate, const PolicySet* set = nullptr) {
  static const auto kEmpty = PolicySet::BuildServing({}, {});
  AdmissionConfig config;
  config.label_guard = guard;
  const AdmissionResult result = Review(endpoint, body, set ? *set : *kEmpty, config);
  EXPECT_EQ(result.http_status, 200) << result.body;
  rapidjson::Document document;
  document.Parse(result.body.c_str());
  const auto& response = document["response"];
  Verdict verdict;
  verdict.allowed = response["allowed"].GetBool();
  if (response.HasMember("status")) {
    verdict.code = response["status"]["code"].GetInt();
    verdict.message = response["status"]["message"].GetString();
  }
  EXPECT_EQ(verdict.allowed, result.decision == "allowed");
  return verdict;
}

const LabelGuard kGuard{true, {"platform-admin", "system:masters"}};
const std::string kIntro =
    "user \"alice\" may not change the namespace labels that select its pod security policy "
    "(only --label-guard-admins may): ";

TEST(LabelGuard, DeniesEveryKindOfChangeNamingLabelsAndValues) {
  NamespaceReview review;
  review.old_labels =
      R"({"pod-security.kubernetes.io/enforce":"restricted","palisade.dev/tier":"gold","team":"a"})";
  review.new_labels =
      R"({"pod-security.kubernetes.io/enforce":"privileged","palisade.dev/ignore":"true","team":"b"})";
  const Verdict verdict = Judge(review.Body(), kGuard);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.code, 403);
  EXPECT_EQ(verdict.message,
            kIntro +
                "palisade.dev/ignore added \"true\", palisade.dev/tier removed (was \"gold\"), "
                "pod-security.kubernetes.io/enforce \"restricted\" -> \"privileged\"");
}

TEST(LabelGuard, CreateWithGuardedLabelsIsAChange) {
  NamespaceReview review;
  review.operation = "CREATE";
  review.new_labels = R"({"pod-security.kubernetes.io/warn-version":"v1.30"})";
  EXPECT_EQ(Judge(review.Body(), kGuard).message,
            kIntro + "pod-security.kubernetes.io/warn-version added \"v1.30\"");
  review.new_labels = R"({"kubernetes.io/metadata.name":"team","team":"a"})";
  EXPECT_TRUE(Judge(review.Body(), kGuard).allowed);
}

TEST(LabelGuard, AdminsByUserOrGroupMayChange) {
  NamespaceReview review;
  review.old_labels = R"({"pod-security.kubernetes.io/enforce":"restricted"})";
  review.new_labels = "{}";
  EXPECT_FALSE(Judge(review.Body(), kGuard).allowed);
  review.username = "platform-admin";
  EXPECT_TRUE(Judge(review.Body(), kGuard).allowed);
  review.username = "bob";
  review.groups = R"(["system:authenticated","system:masters"])";
  EXPECT_TRUE(Judge(review.Body(), kGuard).allowed);
  // A group name is not a user name and the other way round only by exact match.
  review.groups = R"(["system:master","platform-admins"])";
  EXPECT_FALSE(Judge(review.Body(), kGuard).allowed);
}

TEST(LabelGuard, OtherChangesAndOperationsAreAllowed) {
  NamespaceReview review;
  review.old_labels = R"({"pod-security.kubernetes.io/enforce":"restricted","team":"a"})";
  review.new_labels = R"({"team":"b","pod-security.kubernetes.io/enforce":"restricted"})";
  EXPECT_TRUE(Judge(review.Body(), kGuard).allowed);
  review.new_labels = R"({"pod-security.kubernetes.io/enforce":"baseline"})";
  review.operation = "DELETE";
  EXPECT_TRUE(Judge(review.Body(), kGuard).allowed);
  review.operation = "UPDATE";
  EXPECT_TRUE(Judge(review.Body(), kGuard, Endpoint::kMutate).allowed);
  review.resource = "namespaces/status";
  EXPECT_TRUE(Judge(review.Body(), kGuard).allowed);
}

TEST(LabelGuard, OffWithoutTheFlag) {
  NamespaceReview review;
  review.old_labels = R"({"pod-security.kubernetes.io/enforce":"restricted"})";
  review.new_labels = R"({"pod-security.kubernetes.io/enforce":"privileged"})";
  EXPECT_TRUE(Judge(review.Body(), LabelGuard{}).allowed);
  // On with an empty list: nobody may change them.
  EXPECT_FALSE(Judge(review.Body(), LabelGuard{true, {}}).allowed);
}

TEST(LabelGuard, NonStringValuesStillCount) {
  const auto changes = GuardedLabelChanges(nullptr, nullptr);
  EXPECT_TRUE(changes.empty());
  NamespaceReview review;
  review.old_labels = R"({"palisade.dev/ignore":"true"})";
  review.new_labels = R"({"palisade.dev/ignore":true})";
  EXPECT_FALSE(Judge(review.Body(), kGuard).allowed);
  EXPECT_TRUE(IsGuardedLabel("pod-security.kubernetes.io/audit"));
  EXPECT_TRUE(IsGuardedLabel("palisade.dev/policy"));
  EXPECT_FALSE(IsGuardedLabel("x.palisade.dev/policy"));
  EXPECT_FALSE(IsGuardedLabel("kubernetes.io/metadata.name"));
}

std::string PodReview(const std::string& ns) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-2",)"
         R"("kind":{"group":"","version":"v1","kind":"Pod"},)"
         R"("resource":{"group":"","version":"v1","resource":"pods"},"namespace":")" +
         ns +
         R"(","name":"web","operation":"CREATE","userInfo":{"username":"alice"},)"
         R"("object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},)"
         R"("spec":{"hostNetwork":true,"containers":[{"name":"app","image":"nginx"}]}}}})";
}

TEST(LabelledNamespaces, PsaLabelsAndSelectorsDecideThroughAReview) {
  NamespacePolicy selector;
  selector.name = "pci";
  selector.revision = "abc123";
  selector.namespace_selector =
      LabelSelector({LabelRequirement{"compliance", SelectorOperator::kEquals, {"pci"}}});
  selector.Set<&PolicyValues::enforce>(LevelVersion{Level::kBaseline, Version{30}, false});
  std::vector<PolicyError> errors;
  const auto base = PolicySet::Build({selector}, &errors);
  ASSERT_NE(base, nullptr);
  auto labels = std::make_shared<NamespaceLabels>();
  labels->by_name["psa"] = {{"pod-security.kubernetes.io/enforce", "baseline"}};
  labels->by_name["shop"] = {{"compliance", "pci"}};
  labels->by_name["plain"] = {{"team", "a"}};
  const auto set = base->WithNamespaceLabels(labels);
  EXPECT_EQ(Judge(PodReview("psa"), {}, Endpoint::kValidate, set.get()).message,
            "violates PodSecurity \"baseline:v1.37\" (namespace label "
            "pod-security.kubernetes.io/enforce): host namespaces (hostNetwork=true)");
  EXPECT_EQ(Judge(PodReview("shop"), {}, Endpoint::kValidate, set.get()).message,
            "violates PodSecurity \"baseline:v1.30\" (policy \"pci\" "
            "rev abc123): host namespaces (hostNetwork=true)");
  EXPECT_TRUE(Judge(PodReview("plain"), {}, Endpoint::kValidate, set.get()).allowed);
  EXPECT_TRUE(Judge(PodReview("unknown"), {}, Endpoint::kValidate, set.get()).allowed);
}

}  // namespace
}  // namespace palisade::policy
