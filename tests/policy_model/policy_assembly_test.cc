// AssemblePolicySet: a bad document's blast radius is what it covers, not the cluster.

#include "policy/policy_assembly.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "policy/admission.h"
#include "policy/policy_changes.h"

namespace palisade::policy {
namespace {

// A document as JSON text: name, namespaces (a JSON list) and the enforce level.
std::string Doc(const std::string& name, const std::string& namespaces,
                const std::string& enforce = "baseline") {
  return R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":")" + name +
         R"("},"spec":{"namespaces":)" + namespaces + R"(,"podSecurity":{"enforce":")" + enforce +
         R"("}}})";
}

SourceDocument Read(const std::string& file, int index, const std::string& text) {
  rapidjson::Document json;
  json.Parse(text.c_str(), text.size());
  SourceDocument document{file, index, std::nullopt, {}, "", json.HasParseError()};
  if (document.unreadable) {
    document.problem = file + ": cannot be read";
    return document;
  }
  std::vector<PolicyError> errors;
  document.policy = ParseNamespacePolicy(json, file, index, &errors, &document.identity);
  if (!errors.empty()) document.problem = errors.front().ToString();
  return document;
}

std::string EnforceOf(const PolicySet& set, const std::string& ns) {
  const auto effective = set.ForNamespace(ns);
  if (!effective->refused.empty()) return "refused";
  return effective->enforce ? effective->enforce->ToString() : "none";
}

TEST(AssemblePolicySet, AtStartABadDocumentRefusesOnlyWhatItCovers) {
  const AssembledPolicies out = AssemblePolicySet(
      {Read("a.yaml", 0, Doc("cluster-default", R"(["*"])")),
       Read("b.yaml", 0, Doc("payments", R"(["payments", "payments-*"])", "strict")),
       Read("b.yaml", 1, Doc("team", R"(["team"])", "restricted"))},
      nullptr);
  EXPECT_EQ(EnforceOf(*out.set, "other"), "baseline:v1.37");
  EXPECT_EQ(EnforceOf(*out.set, "team"), "restricted:v1.37");
  EXPECT_EQ(EnforceOf(*out.set, "payments"), "refused");
  EXPECT_EQ(EnforceOf(*out.set, "payments-eu"), "refused");
  EXPECT_EQ(out.set->ForNamespace("payments")->refused,
            "policy \"payments\" (b.yaml: document 1) is invalid and has no earlier good "
            "revision: its namespaces are refused until it is fixed (b.yaml: document 1: "
            "spec.podSecurity.enforce: unknown level \"strict\" (want privileged, baseline or "
            "restricted))");
  ASSERT_EQ(out.failing.size(), 1u);
  EXPECT_TRUE(out.failing[0].refused);
  EXPECT_EQ(out.failing[0].ToString(),
            "policy \"payments\" (b.yaml: document 1) is invalid; what it covers is refused (no "
            "earlier good revision)");
}

TEST(AssemblePolicySet, RefusedNamespaceIsDeniedByValidateAndLeftAloneByMutate) {
  const AssembledPolicies out =
      AssemblePolicySet({Read("b.yaml", 0, Doc("payments", R"(["payments"])", "strict"))}, nullptr);
  const std::string review =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},)"
      R"("resource":{"group":"","version":"v1","resource":"pods"},"namespace":"payments",)"
      R"("operation":"CREATE","userInfo":{"username":"dev"},"object":{"apiVersion":"v1",)"
      R"("kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}}})";
  const AdmissionResult validate = Review(Endpoint::kValidate, review, *out.set, {});
  EXPECT_EQ(validate.decision, "denied");
  EXPECT_NE(validate.body.find("policy \\\"payments\\\" (b.yaml: document 1) is invalid"),
            std::string::npos)
      << validate.body;
  const AdmissionResult mutate = Review(Endpoint::kMutate, review, *out.set, {});
  EXPECT_EQ(mutate.decision, "allowed");
  EXPECT_EQ(mutate.patch_ops, 0);
}

TEST(AssemblePolicySet, UnreadableNamespacesOrTextRefuseEveryNamespace) {
  // The namespaces of the bad document cannot be read: every namespace is refused.
  const AssembledPolicies bad_namespaces =
      AssemblePolicySet({Read("a.yaml", 0, Doc("cluster-default", R"(["*"])")),
                         Read("b.yaml", 0, Doc("payments", R"("payments")"))},
                        nullptr);
  EXPECT_EQ(EnforceOf(*bad_namespaces.set, "anything"), "refused");
  EXPECT_NE(bad_namespaces.set->ForNamespace("x")->refused.find("every namespace is refused"),
            std::string::npos);

  // Text that is not documents at all, with nothing served from the file before.
  const AssembledPolicies unreadable = AssemblePolicySet(
      {Read("a.yaml", 0, Doc("cluster-default", R"(["*"])")), Read("b.yaml", 0, "{broken")},
      nullptr);
  EXPECT_EQ(unreadable.set->ForNamespace("x")->refused,
            "policy file \"b.yaml\" cannot be read and nothing from it was served before: every "
            "namespace is refused until it is fixed (b.yaml: cannot be read)");
}

TEST(AssemblePolicySet, TwoUnreadableDocumentsOfAFileKeepWhatItServedFromTheFirstOn) {
  const AssembledPolicies first = AssemblePolicySet(
      {Read("a.yaml", 0, Doc("p0", R"(["n0"])")), Read("a.yaml", 1, Doc("p1", R"(["n1"])")),
       Read("a.yaml", 2, Doc("p2", R"(["n2"])")), Read("a.yaml", 3, Doc("p3", R"(["n3"])"))},
      nullptr);
  // Documents 2 and 3 cannot be read now (each past a size limit, say): p1, p2 and p3 keep serving
  // for the first, p2 and p3 for the second, and nothing is refused.
  const AssembledPolicies second =
      AssemblePolicySet({Read("a.yaml", 0, Doc("p0", R"(["n0"])", "restricted")),
                         Read("a.yaml", 1, "{broken"), Read("a.yaml", 2, "{broken")},
                        first.set.get());
  EXPECT_TRUE(second.set->refusals().empty()) << second.set->refusals().front().message;
  EXPECT_EQ(EnforceOf(*second.set, "n0"), "restricted:v1.37");
  for (const std::string ns : {"n1", "n2", "n3"})
    EXPECT_EQ(EnforceOf(*second.set, ns), "baseline:v1.37");
  EXPECT_EQ(EnforceOf(*second.set, "elsewhere"), "none");
  ASSERT_EQ(second.failing.size(), 2u);
  EXPECT_EQ(second.failing[0].kept, "\"p1\" rev " + first.set->policies()[1].revision +
                                        ", \"p2\" rev " + first.set->policies()[2].revision +
                                        ", \"p3\" rev " + first.set->policies()[3].revision);
  EXPECT_EQ(second.failing[1].kept, "\"p2\" rev " + first.set->policies()[2].revision +
                                        ", \"p3\" rev " + first.set->policies()[3].revision);
  EXPECT_FALSE(second.failing[1].refused);
}

TEST(AssemblePolicySet, RunTimeBadEditKeepsItsLastGoodRevisionWhileOthersUpdate) {
  const AssembledPolicies first =
      AssemblePolicySet({Read("a.yaml", 0, Doc("team-a", R"(["team-a"])")),
                         Read("b.yaml", 0, Doc("team-b", R"(["team-b"])"))},
                        nullptr);
  ASSERT_TRUE(first.failing.empty());
  const std::string team_a_revision = first.set->policies()[0].revision;

  const AssembledPolicies second =
      AssemblePolicySet({Read("a.yaml", 0, Doc("team-a", R"(["team-a"])", "strict")),
                         Read("b.yaml", 0, Doc("team-b", R"(["team-b"])", "restricted"))},
                        first.set.get());
  EXPECT_EQ(EnforceOf(*second.set, "team-a"), "baseline:v1.37");  // the last good revision
  EXPECT_EQ(EnforceOf(*second.set, "team-b"), "restricted:v1.37");
  ASSERT_EQ(second.failing.size(), 1u);
  EXPECT_EQ(second.failing[0].ToString(),
            "policy \"team-a\" (a.yaml: document 1) is invalid; rev " + team_a_revision +
                " keeps serving");
  // The changelog names only what really changed.
  const auto changes = DiffPolicySets(first.set.get(), second.set.get());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].policy, "team-b");

  // A YAML error in a.yaml later: its previous policies keep serving.
  const AssembledPolicies third = AssemblePolicySet(
      {Read("a.yaml", 0, "{broken"), Read("b.yaml", 0, Doc("team-b", R"(["team-b"])"))},
      second.set.get());
  EXPECT_EQ(EnforceOf(*third.set, "team-a"), "baseline:v1.37");
  EXPECT_EQ(EnforceOf(*third.set, "team-b"), "baseline:v1.37");
  ASSERT_EQ(third.failing.size(), 1u);
  EXPECT_EQ(third.failing[0].kept, "\"team-a\" rev " + team_a_revision);
}

TEST(AssemblePolicySet, ADocumentWithoutANameIsKnownByFileAndIndex) {
  const AssembledPolicies first =
      AssemblePolicySet({Read("a.yaml", 1, Doc("team", R"(["team"])"))}, nullptr);
  // metadata.name broken: the document at a.yaml #2 is still "team" for this reload.
  const AssembledPolicies second = AssemblePolicySet(
      {Read("a.yaml", 1, Doc("Not A Name", R"(["team"])", "restricted"))}, first.set.get());
  EXPECT_EQ(EnforceOf(*second.set, "team"), "baseline:v1.37");
  ASSERT_EQ(second.failing.size(), 1u);
  EXPECT_EQ(second.failing[0].ToString(),
            "the policy at a.yaml: document 2 is invalid; \"team\" rev " +
                first.set->policies()[0].revision + " keeps serving");
}

TEST(AssemblePolicySet, OneNameTwiceIsInvalidForBoth) {
  const AssembledPolicies first =
      AssemblePolicySet({Read("a.yaml", 0, Doc("team", R"(["team"])"))}, nullptr);
  const AssembledPolicies second =
      AssemblePolicySet({Read("a.yaml", 0, Doc("team", R"(["team"])")),
                         Read("b.yaml", 0, Doc("team", R"(["team-b"])", "restricted"))},
                        first.set.get());
  EXPECT_EQ(EnforceOf(*second.set, "team"), "baseline:v1.37");  // unchanged, still serving
  EXPECT_EQ(EnforceOf(*second.set, "team-b"), "none");          // never served, not refused
  ASSERT_EQ(second.errors.size(), 1u);
  EXPECT_EQ(second.errors[0].ToString(),
            "b.yaml: document 1: metadata.name: duplicate name \"team\" (also in a.yaml document "
            "1)");
  EXPECT_EQ(second.failing.size(), 2u);

  // At start neither has a good revision: what both cover is refused.
  const AssembledPolicies at_start =
      AssemblePolicySet({Read("a.yaml", 0, Doc("team", R"(["team"])")),
                         Read("b.yaml", 0, Doc("team", R"(["team-b"])"))},
                        nullptr);
  EXPECT_EQ(EnforceOf(*at_start.set, "team"), "refused");
  EXPECT_EQ(EnforceOf(*at_start.set, "team-b"), "refused");
  EXPECT_EQ(EnforceOf(*at_start.set, "other"), "none");
}

TEST(AssemblePolicySet, OnePatternTwiceStaysWithItsHolder) {
  const AssembledPolicies first = AssemblePolicySet(
      {Read("a.yaml", 0, Doc("payments", R"(["payments"])", "restricted"))}, nullptr);
  // A new policy claims "payments" too: the holder keeps it, the newcomer has no good revision,
  // so what only it covers is refused.
  const AssembledPolicies second =
      AssemblePolicySet({Read("a.yaml", 0, Doc("payments", R"(["payments"])", "restricted")),
                         Read("b.yaml", 0, Doc("intruder", R"(["payments", "intruder"])"))},
                        first.set.get());
  EXPECT_EQ(EnforceOf(*second.set, "payments"), "restricted:v1.37");
  EXPECT_EQ(EnforceOf(*second.set, "intruder"), "refused");
  ASSERT_EQ(second.errors.size(), 1u);
  EXPECT_EQ(second.errors[0].ToString(),
            "b.yaml: document 1: spec.namespaces[0]: namespace pattern \"payments\" is also in "
            "policy \"payments\" (a.yaml document 1)");
  ASSERT_EQ(second.failing.size(), 1u);
  EXPECT_EQ(second.failing[0].name, "intruder");

  // At start, with no holder, both fall and what they cover is refused.
  const AssembledPolicies at_start =
      AssemblePolicySet({Read("a.yaml", 0, Doc("payments", R"(["payments"])")),
                         Read("b.yaml", 0, Doc("intruder", R"(["payments"])"))},
                        nullptr);
  EXPECT_EQ(EnforceOf(*at_start.set, "payments"), "refused");
  EXPECT_EQ(at_start.failing.size(), 2u);
}

}  // namespace
}  // namespace palisade::policy
