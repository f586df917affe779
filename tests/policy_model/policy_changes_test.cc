#include "policy/policy_changes.h"

#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

std::shared_ptr<const PolicySet> Set(std::vector<std::pair<std::string, std::string>> revisions) {
  std::vector<NamespacePolicy> policies;
  for (auto& [name, revision] : revisions) {
    NamespacePolicy policy;
    policy.name = name;
    policy.namespaces = {name};
    policy.revision = revision;
    policies.push_back(std::move(policy));
  }
  std::vector<PolicyError> errors;
  auto set = PolicySet::Build(std::move(policies), &errors);
  EXPECT_TRUE(errors.empty());
  return set;
}

std::vector<std::string> Strings(const std::vector<PolicyChange>& changes) {
  std::vector<std::string> out;
  for (const auto& change : changes) out.push_back(change.ToString());
  return out;
}

TEST(DiffPolicySets, AddedChangedRemovedSortedByName) {
  const auto before = Set({{"zeta", "aaaaaa"}, {"beta", "bbbbbb"}, {"gamma", "cccccc"}});
  const auto after = Set({{"gamma", "cccccc"}, {"beta", "dddddd"}, {"alpha", "eeeeee"}});
  const auto changes = DiffPolicySets(before.get(), after.get());
  EXPECT_EQ(changes, (std::vector<PolicyChange>{
                         {PolicyChange::Kind::kAdded, "alpha", "", "eeeeee", ""},
                         {PolicyChange::Kind::kChanged, "beta", "bbbbbb", "dddddd", ""},
                         {PolicyChange::Kind::kRemoved, "zeta", "aaaaaa", "", ""},
                     }));
  EXPECT_EQ(Strings(changes), (std::vector<std::string>{
                                  "policy \"alpha\" added (rev eeeeee)",
                                  "policy \"beta\" changed (rev bbbbbb -> dddddd)",
                                  "policy \"zeta\" removed (rev aaaaaa)",
                              }));
}

TEST(DiffPolicySets, FirstLoadAddsEverything) {
  const auto after = Set({{"b", "222222"}, {"a", "111111"}});
  EXPECT_EQ(Strings(DiffPolicySets(nullptr, after.get())),
            (std::vector<std::string>{"policy \"a\" added (rev 111111)",
                                      "policy \"b\" added (rev 222222)"}));
  EXPECT_EQ(Strings(DiffPolicySets(after.get(), nullptr)),
            (std::vector<std::string>{"policy \"a\" removed (rev 111111)",
                                      "policy \"b\" removed (rev 222222)"}));
}

TEST(DiffPolicySets, SameRevisionsAreNoChange) {
  const auto before = Set({{"a", "111111"}, {"b", "222222"}});
  const auto after = Set({{"b", "222222"}, {"a", "111111"}});
  EXPECT_TRUE(DiffPolicySets(before.get(), after.get()).empty());
  EXPECT_TRUE(DiffPolicySets(nullptr, nullptr).empty());
}

// metadata.annotations["palisade.dev/reason"] of the new revision travels into the changelog.
TEST(DiffPolicySets, CarriesTheReasonAnnotation) {
  rapidjson::Document doc;
  doc.Parse(R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":"a",)"
            R"("annotations":{"palisade.dev/reason":"tighten to restricted; SEC-99"}},)"
            R"("spec":{"namespaces":["a"]}})");
  std::vector<PolicyError> errors;
  auto parsed = ParseNamespacePolicy(doc, "a.yaml", 0, &errors);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->change_reason, "tighten to restricted; SEC-99");
  std::vector<NamespacePolicy> policies;
  policies.push_back(std::move(*parsed));
  const std::string revision = policies[0].revision;
  auto after = PolicySet::Build(std::move(policies), &errors);
  const auto before = Set({{"a", "111111"}});
  EXPECT_EQ(Strings(DiffPolicySets(before.get(), after.get())),
            (std::vector<std::string>{"policy \"a\" changed (rev 111111 -> " + revision +
                                      "): tighten to restricted; SEC-99"}));
}

TEST(PolicyChangeKindName, NamesEveryKind) {
  EXPECT_EQ(PolicyChangeKindName(PolicyChange::Kind::kAdded), "added");
  EXPECT_EQ(PolicyChangeKindName(PolicyChange::Kind::kChanged), "changed");
  EXPECT_EQ(PolicyChangeKindName(PolicyChange::Kind::kRemoved), "removed");
}

}  // namespace
}  // namespace palisade::policy
