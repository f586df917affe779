// Matching, merge, duplicate detection and lookup of a PolicySet.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {
namespace {

NamespacePolicy Policy(const std::string& name, const std::string& namespaces,
                       const std::string& spec = "", const std::string& file = "p.yaml",
                       int index = 0) {
  const std::string text =
      R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":")" + name +
      R"("},"spec":{"namespaces":)" + namespaces + (spec.empty() ? "" : "," + spec) + "}}";
  rapidjson::Document document;
  document.Parse(text.c_str());
  EXPECT_FALSE(document.HasParseError()) << text;
  std::vector<PolicyError> errors;
  auto policy = ParseNamespacePolicy(document, file, index, &errors);
  for (const auto& error : errors) ADD_FAILURE() << error.ToString();
  return policy.value_or(NamespacePolicy{});
}

std::shared_ptr<const PolicySet> Build(std::vector<NamespacePolicy> policies) {
  std::vector<PolicyError> errors;
  auto set = PolicySet::Build(std::move(policies), &errors);
  for (const auto& error : errors) ADD_FAILURE() << error.ToString();
  EXPECT_NE(set, nullptr);
  return set;
}

std::vector<std::string> BuildErrors(std::vector<NamespacePolicy> policies) {
  std::vector<PolicyError> errors;
  EXPECT_EQ(PolicySet::Build(std::move(policies), &errors), nullptr);
  std::vector<std::string> messages;
  for (const auto& error : errors) messages.push_back(error.ToString());
  return messages;
}

std::string SourceName(const EffectivePolicy& effective, const std::string& field) {
  const FieldSource* source = effective.SourceOf(field);
  return source == nullptr ? "<none>" : source->policy;
}

TEST(GlobMatch, ShellStyle) {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  for (const Case& c : std::vector<Case>{{"*", "", true},
                                         {"*", "anything", true},
                                         {"team-*", "team-a", true},
                                         {"team-*", "team-", true},
                                         {"team-*", "team", false},
                                         {"team-?", "team-a", true},
                                         {"team-?", "team-ab", false},
                                         {"*-prod", "payments-prod", true},
                                         {"*-prod", "payments-prod-2", false},
                                         {"a*b*c", "axxbyyc", true},
                                         {"a*b*c", "axxbyy", false},
                                         {"a**", "a", true},
                                         {"exact", "exact", true},
                                         {"exact", "exactly", false},
                                         {"", "", true},
                                         {"", "x", false}}) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
  }
}

TEST(PolicySet, NothingMatchesGivesAnEmptyPolicy) {
  const auto set =
      Build({Policy("team", R"(["team"])", R"("podSecurity":{"enforce":"baseline"})")});
  const auto effective = set->ForNamespace("other");
  ASSERT_NE(effective, nullptr);
  EXPECT_TRUE(effective->matched.empty());
  EXPECT_FALSE(effective->enforce.has_value());
  EXPECT_FALSE(effective->HasDefaults());
  EXPECT_TRUE(effective->sources.empty());
  EXPECT_EQ(effective->rules_action, Action::kEnforce);
  EXPECT_EQ(effective->workloads, WorkloadMode::kEnforce);
}

TEST(PolicySet, StarThenGlobThenExactFieldByField) {
  const auto set = Build({
      Policy(
          "exact", R"(["team-a"])",
          R"("podSecurity":{"enforce":"restricted"},"defaults":{"seccompProfile":null},"rules":{"allowedCapabilities":["NET_ADMIN"]},"exemptions":{"images":null})"),
      Policy(
          "glob", R"(["team-*"])",
          R"("podSecurity":{"warn":"restricted:v1.30"},"defaults":{"runAsNonRoot":true,"capabilities":{"add":["NET_BIND_SERVICE"]}},"rules":{"action":"warn","allowedCapabilities":["NET_BIND_SERVICE"]},"workloads":"warn")"),
      Policy(
          "default", R"(["*"])",
          R"("podSecurity":{"enforce":"baseline","warn":"baseline","audit":"restricted"},"defaults":{"seccompProfile":{"type":"RuntimeDefault"},"capabilities":{"drop":["ALL"]}},"exemptions":{"images":["debug/*"],"usernames":["admin"]})"),
  });
  const auto& policies = set->policies();
  ASSERT_EQ(policies.size(), 3u);

  const auto a = set->ForNamespace("team-a");
  EXPECT_EQ(a->matched, (std::vector<std::string>{"default", "glob", "exact"}));
  EXPECT_EQ(a->enforce->ToString(), "restricted:v1.37");
  EXPECT_EQ(a->warn->ToString(), "restricted:v1.30");
  EXPECT_EQ(a->audit->ToString(), "restricted:v1.37");
  EXPECT_FALSE(a->default_seccomp_profile.has_value());  // nulled by the exact policy
  EXPECT_EQ(a->default_capabilities_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(a->default_capabilities_add, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(a->default_run_as_non_root, true);
  EXPECT_EQ(a->rules_action, Action::kWarn);
  EXPECT_EQ(a->allowed_capabilities, std::vector<std::string>{"NET_ADMIN"});
  EXPECT_EQ(a->workloads, WorkloadMode::kWarn);
  EXPECT_TRUE(a->exempt_images.empty());
  EXPECT_EQ(a->exempt_usernames, std::vector<std::string>{"admin"});
  EXPECT_EQ(SourceName(*a, "podSecurity.enforce"), "exact");
  EXPECT_EQ(SourceName(*a, "podSecurity.warn"), "glob");
  EXPECT_EQ(SourceName(*a, "podSecurity.audit"), "default");
  EXPECT_EQ(SourceName(*a, "defaults.seccompProfile"), "<none>");
  EXPECT_EQ(SourceName(*a, "defaults.capabilities.drop"), "default");
  EXPECT_EQ(SourceName(*a, "defaults.capabilities.add"), "glob");
  EXPECT_EQ(SourceName(*a, "rules.action"), "glob");
  EXPECT_EQ(SourceName(*a, "rules.allowedCapabilities"), "exact");
  EXPECT_EQ(SourceName(*a, "workloads"), "glob");
  EXPECT_EQ(SourceName(*a, "exemptions.images"), "<none>");
  EXPECT_EQ(SourceName(*a, "exemptions.usernames"), "default");
  EXPECT_EQ(a->SourceOf("podSecurity.enforce")->revision, policies[0].revision);
  EXPECT_EQ(a->SourceOf("podSecurity.audit")->revision, policies[2].revision);
  EXPECT_EQ(a->sources.size(), 10u);

  const auto b = set->ForNamespace("team-b");
  EXPECT_EQ(b->matched, (std::vector<std::string>{"default", "glob"}));
  EXPECT_EQ(b->enforce->ToString(), "baseline:v1.37");
  EXPECT_EQ(b->default_seccomp_profile, (Profile{"RuntimeDefault", ""}));
  EXPECT_EQ(b->allowed_capabilities, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(b->exempt_images, std::vector<std::string>{"debug/*"});

  const auto other = set->ForNamespace("kube-public");
  EXPECT_EQ(other->matched, std::vector<std::string>{"default"});
  EXPECT_EQ(other->warn->ToString(), "baseline:v1.37");
  EXPECT_EQ(other->rules_action, Action::kEnforce);
  EXPECT_FALSE(other->default_run_as_non_root.has_value());
  // Namespaces that only "*" matches share one precomputed policy.
  EXPECT_EQ(other.get(), set->ForNamespace("another").get());
}

TEST(PolicySet, InheritedListsAndProfilesAreSharedNotCopied) {
  const auto set = Build({
      Policy(
          "default", R"(["*"])",
          R"("defaults":{"seccompProfile":{"type":"RuntimeDefault"},"capabilities":{"drop":["ALL"]}},"rules":{"allowedSeccompProfiles":["RuntimeDefault","Localhost/profiles/*"]})"),
      Policy("a", R"(["team-a"])", R"("podSecurity":{"enforce":"restricted"})"),
      Policy("b", R"(["team-b"])", R"("rules":{"allowedSeccompProfiles":["RuntimeDefault"]})"),
  });
  const auto a = set->ForNamespace("team-a");
  const auto b = set->ForNamespace("team-b");
  ASSERT_NE(a.get(), b.get());
  // One copy of the default document's values, whichever namespace inherits them.
  EXPECT_EQ(&*a->default_seccomp_profile, &*b->default_seccomp_profile);
  EXPECT_EQ(&*a->default_capabilities_drop, &*b->default_capabilities_drop);
  EXPECT_EQ(&*a->default_capabilities_drop, &*set->policies()[0].values.default_capabilities_drop);
  // A more specific document's own value replaces it; values compare by content.
  EXPECT_NE(&*a->allowed_seccomp_profiles, &*b->allowed_seccomp_profiles);
  EXPECT_EQ(a->allowed_seccomp_profiles,
            (std::vector<std::string>{"RuntimeDefault", "Localhost/profiles/*"}));
  EXPECT_EQ(b->allowed_seccomp_profiles, std::vector<std::string>{"RuntimeDefault"});
  EXPECT_FALSE(a->allowed_seccomp_profiles == b->allowed_seccomp_profiles);
  EXPECT_FALSE(a->default_app_armor_profile.has_value());
  EXPECT_TRUE(a->default_app_armor_profile == std::nullopt);
}

TEST(PolicySet, NullRestoresBuiltInDefaultsOfPlainFields) {
  const auto set = Build({
      Policy("default", R"(["*"])", R"("rules":{"action":"audit"},"workloads":"warn")"),
      Policy("team", R"(["team"])", R"("rules":{"action":null},"workloads":null)"),
  });
  const auto team = set->ForNamespace("team");
  EXPECT_EQ(team->rules_action, Action::kEnforce);
  EXPECT_EQ(team->workloads, WorkloadMode::kEnforce);
  EXPECT_EQ(team->SourceOf("rules.action"), nullptr);
  EXPECT_EQ(set->ForNamespace("x")->rules_action, Action::kAudit);
}

TEST(PolicySet, GlobsFromShorterToLongerTiesByText) {
  const auto set = Build({
      Policy("long", R"(["team-a*"])", R"("podSecurity":{"enforce":"restricted"})"),
      Policy("short", R"(["t*"])",
             R"("podSecurity":{"enforce":"baseline","warn":"baseline","audit":"baseline"})"),
      Policy("mid", R"(["team-*"])",
             R"("podSecurity":{"enforce":"privileged","warn":"restricted"})"),
      Policy("qa", R"(["?eam-ab"])", R"("podSecurity":{"audit":"privileged"})"),
      Policy("ab", R"(["team-a?"])", R"("podSecurity":{"audit":"restricted"})"),
  });
  const auto effective = set->ForNamespace("team-ab");
  // The three 7-character globs sort by text: "?eam-ab" < "team-a*" < "team-a?".
  EXPECT_EQ(effective->matched, (std::vector<std::string>{"short", "mid", "qa", "long", "ab"}));
  EXPECT_EQ(effective->enforce->ToString(), "restricted:v1.37");
  EXPECT_EQ(effective->warn->ToString(), "restricted:v1.37");
  EXPECT_EQ(effective->audit->ToString(), "restricted:v1.37");
  EXPECT_EQ(SourceName(*effective, "podSecurity.audit"), "ab");
}

TEST(PolicySet, PolicyWithSeveralPatternsAppliesOnceAtItsMostSpecific) {
  const auto set = Build({
      Policy("payments", R"(["p*","pay"])", R"("podSecurity":{"enforce":"restricted"})"),
      Policy("pa", R"(["pa*"])", R"("podSecurity":{"enforce":"baseline"})"),
  });
  const auto exact = set->ForNamespace("pay");
  EXPECT_EQ(exact->matched, (std::vector<std::string>{"pa", "payments"}));
  EXPECT_EQ(exact->enforce->ToString(), "restricted:v1.37");
  const auto glob = set->ForNamespace("pax");
  EXPECT_EQ(glob->matched, (std::vector<std::string>{"payments", "pa"}));
  EXPECT_EQ(glob->enforce->ToString(), "baseline:v1.37");
  EXPECT_EQ(set->ForNamespace("pb")->matched, std::vector<std::string>{"payments"});
}

TEST(PolicySet, DuplicateNamesAndPatternsNameBothDocuments) {
  EXPECT_EQ(BuildErrors({Policy("team", R"(["a"])", "", "a.yaml", 0),
                         Policy("team", R"(["b"])", "", "b.yaml", 2)}),
            std::vector<std::string>{
                "b.yaml: document 3: metadata.name: duplicate name \"team\" (also in a.yaml "
                "document 1)"});
  EXPECT_EQ(BuildErrors({Policy("one", R"(["x","team-*"])", "", "a.yaml", 1),
                         Policy("two", R"(["y","team-*"])", "", "a.yaml", 2)}),
            std::vector<std::string>{
                "a.yaml: document 3: spec.namespaces[1]: namespace pattern \"team-*\" is also "
                "in policy \"one\" (a.yaml document 2)"});
  EXPECT_EQ(BuildErrors({Policy("one", R"(["*"])"), Policy("two", R"(["*"])", "", "c.json", 0)}),
            std::vector<std::string>{"c.json: document 1: spec.namespaces[0]: namespace pattern "
                                     "\"*\" is also in policy \"one\" (p.yaml document 1)"});
}

TEST(PolicySet, TenThousandExactPolicies) {
  std::vector<NamespacePolicy> policies;
  policies.push_back(Policy("default", R"(["*"])", R"("podSecurity":{"enforce":"baseline"})"));
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "ns-" + std::to_string(i);
    policies.push_back(
        Policy(name, "[\"" + name + "\"]",
               R"("podSecurity":{"warn":"restricted:v1.)" + std::to_string(i % 30) + "\"}"));
  }
  const auto set = Build(std::move(policies));
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "ns-" + std::to_string(i);
    const auto effective = set->ForNamespace(name);
    ASSERT_EQ(effective->matched, (std::vector<std::string>{"default", name}));
    ASSERT_EQ(effective->warn->version.minor, i % 30);
    ASSERT_EQ(effective->enforce->level, Level::kBaseline);
  }
  EXPECT_EQ(set->ForNamespace("ns-10000")->matched, std::vector<std::string>{"default"});
}

TEST(PolicySet, EmptySet) {
  const auto set = Build({});
  EXPECT_TRUE(set->policies().empty());
  EXPECT_TRUE(set->ForNamespace("default")->matched.empty());
}

}  // namespace
}  // namespace palisade::policy
