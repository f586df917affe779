// Namespace labels: spec.namespaceSelector, PSA's labels, the precedence of layers and
// PolicySet::WithNamespaceLabels.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "policy/namespace_policy.h"

namespace palisade::policy {
namespace {

// A policy from the JSON members of its spec.
NamespacePolicy Policy(const std::string& name, const std::string& spec) {
  const std::string text =
      R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":")" + name +
      R"("},"spec":{)" + spec + "}}";
  rapidjson::Document document;
  document.Parse(text.c_str());
  EXPECT_FALSE(document.HasParseError()) << text;
  std::vector<PolicyError> errors;
  auto policy = ParseNamespacePolicy(document, "p.yaml", 0, &errors);
  for (const auto& error : errors) ADD_FAILURE() << error.ToString();
  return policy.value_or(NamespacePolicy{});
}

std::vector<std::string> Errors(const std::string& spec) {
  const std::string text =
      R"({"apiVersion":"palisade.dev/v1","kind":"NamespacePolicy","metadata":{"name":"p"},"spec":{)" +
      spec + "}}";
  rapidjson::Document document;
  document.Parse(text.c_str());
  std::vector<PolicyError> errors;
  EXPECT_FALSE(ParseNamespacePolicy(document, "p.yaml", 0, &errors));
  std::vector<std::string> out;
  for (const auto& error : errors) out.push_back(error.ToString());
  return out;
}

std::shared_ptr<const PolicySet> Build(std::vector<NamespacePolicy> policies) {
  std::vector<PolicyError> errors;
  auto set = PolicySet::Build(std::move(policies), &errors);
  for (const auto& error : errors) ADD_FAILURE() << error.ToString();
  EXPECT_NE(set, nullptr);
  return set;
}

std::shared_ptr<const NamespaceLabels> LabelsOf(
    std::initializer_list<std::pair<const std::string, Labels>> namespaces) {
  auto labels = std::make_shared<NamespaceLabels>();
  for (const auto& [name, each] : namespaces) labels->by_name.emplace(name, each);
  return labels;
}

std::string Enforce(const EffectivePolicy& effective) {
  return effective.enforce ? effective.enforce->ToString() : "<unset>";
}

std::string SourceOf(const EffectivePolicy& effective, const std::string& field) {
  const FieldSource* source = effective.SourceOf(field);
  return source == nullptr ? "<none>" : source->ToString();
}

TEST(NamespaceSelector, PolicyNeedsNamespacesOrSelectorOrBoth) {
  EXPECT_FALSE(Policy("s", R"("namespaceSelector":{"matchLabels":{"team":"a"}})")
                   .namespace_selector->Empty());
  const NamespacePolicy both =
      Policy("b", R"("namespaces":["x"],"namespaceSelector":{"matchLabels":{"team":"a"}})");
  EXPECT_EQ(both.namespaces, std::vector<std::string>{"x"});
  EXPECT_EQ(both.namespace_selector->ToString(), "team=a");
  EXPECT_EQ(Errors(R"("podSecurity":{"enforce":"baseline"})"),
            std::vector<std::string>{"p.yaml: document 1: spec.namespaces: required field is "
                                     "missing (a policy needs namespaces, namespaceSelector or "
                                     "both)"});
  EXPECT_EQ(
      Errors(R"("namespaceSelector":null)"),
      std::vector<std::string>{"p.yaml: document 1: spec.namespaceSelector: must not be null"});
  EXPECT_EQ(Errors(R"("namespaceSelector":{"matchLabels":{"team":"-"}})"),
            std::vector<std::string>{
                "p.yaml: document 1: spec.namespaceSelector.matchLabels.team: a valid label must "
                "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character"});
}

TEST(NamespaceSelector, SelectsLabelledNamespacesOnly) {
  const auto base = Build({
      Policy("cluster", R"("namespaces":["*"],"podSecurity":{"enforce":"baseline"})"),
      Policy("pci", R"("namespaceSelector":{"matchLabels":{"compliance":"pci"}},
                      "podSecurity":{"enforce":"restricted:v1.30"})"),
  });
  const auto set = base->WithNamespaceLabels(LabelsOf({
      {"shop", {{"compliance", "pci"}}},
      {"blog", {{"compliance", "none"}}},
  }));
  EXPECT_EQ(Enforce(*set->ForNamespace("shop")), "restricted:v1.30");
  EXPECT_EQ(set->ForNamespace("shop")->matched, (std::vector<std::string>{"cluster", "pci"}));
  EXPECT_EQ(Enforce(*set->ForNamespace("blog")), "baseline:v1.37");
  // Unknown namespaces are judged as unlabelled; without labels nothing is selected.
  EXPECT_EQ(Enforce(*set->ForNamespace("unknown")), "baseline:v1.37");
  EXPECT_EQ(Enforce(*base->ForNamespace("shop")), "baseline:v1.37");
  EXPECT_EQ(set->LabelsOf("shop")->at("compliance"), "pci");
  EXPECT_EQ(set->LabelsOf("unknown"), std::nullopt);
  // The base set is unchanged (immutable), and re-resolving replaces the labels.
  const auto relabelled = set->WithNamespaceLabels(LabelsOf({{"blog", {{"compliance", "pci"}}}}));
  EXPECT_EQ(Enforce(*relabelled->ForNamespace("blog")), "restricted:v1.30");
  EXPECT_EQ(Enforce(*relabelled->ForNamespace("shop")), "baseline:v1.37");
}

TEST(NamespaceSelector, SelectorsThatMatchNoLabelsApplyToUnlabelledNamespaces) {
  const auto base = Build({
      Policy("everything", R"("namespaceSelector":{},"podSecurity":{"warn":"restricted"})"),
      Policy("not-legacy", R"("namespaceSelector":{"matchExpressions":[
                               {"key":"legacy","operator":"DoesNotExist"}]},
                             "podSecurity":{"enforce":"baseline"})"),
      Policy("not-dev", R"("namespaceSelector":{"matchExpressions":[
                            {"key":"env","operator":"NotIn","values":["dev"]}]},
                          "defaults":{"runAsNonRoot":true})"),
  });
  for (const auto& set : {base, base->WithNamespaceLabels(
                                    LabelsOf({{"old", {{"legacy", "true"}, {"env", "dev"}}}}))}) {
    const auto unknown = set->ForNamespace("anything");
    EXPECT_EQ(unknown->matched, (std::vector<std::string>{"everything", "not-dev", "not-legacy"}));
    EXPECT_EQ(Enforce(*unknown), "baseline:v1.37");
    EXPECT_EQ(unknown->default_run_as_non_root, true);
  }
  const auto old =
      base->WithNamespaceLabels(LabelsOf({{"old", {{"legacy", "true"}, {"env", "dev"}}}}))
          ->ForNamespace("old");
  EXPECT_EQ(old->matched, std::vector<std::string>{"everything"});
  EXPECT_FALSE(old->enforce);
}

// `*`, PSA labels, globs (shorter first), selectors (fewer requirements first, then name), exact.
TEST(Precedence, LeastSpecificFirst) {
  const auto base = Build({
      Policy("exact", R"("namespaces":["team-a"],"defaults":{"runtimeClassName":"exact"})"),
      Policy("two-reqs", R"("namespaceSelector":{"matchLabels":{"team":"a","tier":"web"}},
                           "defaults":{"runtimeClassName":"two-reqs","runAsNonRoot":true},
                           "rules":{"allowedRuntimeClasses":["two-reqs"]})"),
      Policy("b-one-req", R"("namespaceSelector":{"matchLabels":{"team":"a"}},
                            "defaults":{"runtimeClassName":"b-one-req","allowPrivilegeEscalation":false},
                            "rules":{"allowedRuntimeClasses":["b-one-req"]},
                            "exemptions":{"usernames":["b"]})"),
      Policy("a-one-req",
             R"("namespaceSelector":{"matchExpressions":[{"key":"tier","operator":"Exists"}]},
                            "exemptions":{"usernames":["a"]},
                            "workloads":"warn")"),
      Policy("long-glob", R"("namespaces":["team-*"],"podSecurity":{"enforce":"restricted"},
                            "workloads":"enforce")"),
      Policy("short-glob", R"("namespaces":["t*"],"podSecurity":{"enforce":"privileged",
                             "audit":"restricted"})"),
      Policy("star",
             R"("namespaces":["*"],"podSecurity":{"enforce":"baseline","warn":"baseline"})"),
  });
  const auto set = base->WithNamespaceLabels(LabelsOf({
      {"team-a",
       {{"team", "a"}, {"tier", "web"}, {"pod-security.kubernetes.io/warn", "restricted"}}},
  }));
  const auto team_a = set->ForNamespace("team-a");
  EXPECT_EQ(team_a->matched,
            (std::vector<std::string>{"star", "short-glob", "long-glob", "a-one-req", "b-one-req",
                                      "two-reqs", "exact"}));
  EXPECT_EQ(SourceOf(*team_a, "podSecurity.warn"),
            "namespace label pod-security.kubernetes.io/warn");
  EXPECT_EQ(team_a->warn->ToString(), "restricted:v1.37");
  EXPECT_EQ(SourceOf(*team_a, "podSecurity.enforce").substr(0, 18), "policy \"long-glob\"");
  EXPECT_EQ(SourceOf(*team_a, "podSecurity.audit").substr(0, 19), "policy \"short-glob\"");
  EXPECT_EQ(team_a->workloads, WorkloadMode::kWarn);  // a-one-req is more specific than globs
  EXPECT_EQ(team_a->exempt_usernames, std::vector<std::string>{"b"});  // b-one-req after a-one-req
  EXPECT_EQ(team_a->allowed_runtime_classes, std::vector<std::string>{"two-reqs"});
  EXPECT_EQ(team_a->default_runtime_class_name, "exact");
  EXPECT_EQ(team_a->default_allow_privilege_escalation, false);
  EXPECT_EQ(team_a->default_run_as_non_root, true);
}

TEST(Precedence, APolicyAppliesOnceAtItsMostSpecificMatch) {
  const auto base = Build({
      Policy("both", R"("namespaces":["team-*"],"namespaceSelector":{"matchLabels":{"x":"y"}},
                       "defaults":{"runtimeClassName":"both"})"),
      Policy("selector", R"("namespaceSelector":{},"defaults":{"runtimeClassName":"selector"})"),
      Policy("glob", R"("namespaces":["team-?"],"defaults":{"runtimeClassName":"glob"})"),
  });
  const auto set = base->WithNamespaceLabels(LabelsOf({{"team-a", {{"x", "y"}}}}));
  // "both" matches as a glob and as a selector: it applies as a selector (its requirement makes it
  // more specific than the empty selector).
  EXPECT_EQ(set->ForNamespace("team-a")->matched,
            (std::vector<std::string>{"glob", "selector", "both"}));
  EXPECT_EQ(set->ForNamespace("team-a")->default_runtime_class_name, "both");
  // Unlabelled, "both" matches by its glob only, which "selector" overrides.
  EXPECT_EQ(set->ForNamespace("team-b")->matched,
            (std::vector<std::string>{"both", "glob", "selector"}));
  EXPECT_EQ(set->ForNamespace("team-b")->default_runtime_class_name, "selector");
  EXPECT_EQ(MatchedBy(set->policies()[0], "team-a", {{"x", "y"}}), "selector \"x=y\"");
  EXPECT_EQ(MatchedBy(set->policies()[0], "team-b", {}), "team-*");
  EXPECT_EQ(MatchedBy(set->policies()[1], "team-b", {}), "selector {}");
  EXPECT_EQ(MatchedBy(set->policies()[2], "other", {}), "");
}

TEST(PsaLabels, HonouredAboveTheClusterDefault) {
  const auto base = Build({
      Policy("cluster", R"("namespaces":["*"],"podSecurity":{"enforce":"baseline:v1.30",
                          "warn":"restricted:v1.30"}, "defaults":{"runAsNonRoot":true})"),
      Policy("payments", R"("namespaces":["payments"],"podSecurity":{"audit":"restricted"})"),
      Policy("locked", R"("namespaces":["locked"],"podSecurity":{"enforce":"restricted"})"),
  });
  const std::string kPsa = "pod-security.kubernetes.io/";
  const auto set = base->WithNamespaceLabels(LabelsOf({
      {"payments", {{kPsa + "enforce", "restricted"}}},
      {"versioned", {{kPsa + "enforce-version", "v1.25"}, {kPsa + "audit", "baseline"}}},
      {"latest", {{kPsa + "enforce", "privileged"}, {kPsa + "enforce-version", "latest"}}},
      {"future", {{kPsa + "enforce-version", "v1.99"}}},
      {"locked", {{kPsa + "enforce", "privileged"}}},
  }));
  // A level label keeps the inherited version (PSA keeps its default version).
  const auto payments = set->ForNamespace("payments");
  EXPECT_EQ(Enforce(*payments), "restricted:v1.30");
  EXPECT_EQ(SourceOf(*payments, "podSecurity.enforce"),
            "namespace label pod-security.kubernetes.io/enforce");
  EXPECT_EQ(payments->audit->ToString(), "restricted:v1.37");
  EXPECT_EQ(payments->default_run_as_non_root, true);  // defaults on top of PSA
  EXPECT_EQ(payments->warn->ToString(), "restricted:v1.30");
  // A version label keeps the inherited level; an unset mode starts from privileged:latest.
  const auto versioned = set->ForNamespace("versioned");
  EXPECT_EQ(Enforce(*versioned), "baseline:v1.25");
  EXPECT_EQ(SourceOf(*versioned, "podSecurity.enforce"),
            "namespace label pod-security.kubernetes.io/enforce-version");
  EXPECT_EQ(versioned->audit->ToString(), "baseline:v1.37");
  EXPECT_EQ(Enforce(*set->ForNamespace("latest")), "privileged:v1.37");
  EXPECT_TRUE(set->ForNamespace("latest")->enforce->latest);
  EXPECT_EQ(SourceOf(*set->ForNamespace("latest"), "podSecurity.enforce"),
            "namespace label pod-security.kubernetes.io/enforce, "
            "pod-security.kubernetes.io/enforce-version");
  EXPECT_EQ(Enforce(*set->ForNamespace("future")), "baseline:v1.37");
  // An exact-name policy is more specific than the namespace's labels.
  EXPECT_EQ(Enforce(*set->ForNamespace("locked")), "restricted:v1.37");
}

TEST(PsaLabels, InvalidValuesFollowPsa) {
  const auto base = Build({Policy("cluster", R"("namespaces":["*"],"podSecurity":{
                                               "enforce":"baseline:v1.30","warn":"baseline",
                                               "audit":"baseline"})")});
  const std::string kPsa = "pod-security.kubernetes.io/";
  const auto set = base->WithNamespaceLabels(LabelsOf({
      {"bad",
       {{kPsa + "enforce", "strict"},
        {kPsa + "warn", "Restricted"},
        {kPsa + "audit", ""},
        {kPsa + "audit-version", "v1.030"},
        {kPsa + "warn-version", "1.30"}}},
  }));
  const auto bad = set->ForNamespace("bad");
  // enforce fails closed (restricted), warn and audit fail open (privileged), versions -> latest.
  EXPECT_EQ(Enforce(*bad), "restricted:v1.30");
  EXPECT_EQ(bad->warn->ToString(), "privileged:v1.37");
  EXPECT_EQ(bad->audit->ToString(), "privileged:v1.37");
  EXPECT_EQ(bad->label_errors,
            (std::vector<std::string>{
                kPsa + "enforce: \"strict\" (must be one of privileged, baseline, restricted; "
                       "restricted is used)",
                kPsa + "warn: \"Restricted\" (must be one of privileged, baseline, restricted; "
                       "privileged is used)",
                kPsa + "warn-version: \"1.30\" (must be \"latest\" or \"v1.x\"; latest is used)",
                kPsa + "audit: \"\" (must be one of privileged, baseline, restricted; privileged "
                       "is used)",
                kPsa + "audit-version: \"v1.030\" (must be \"latest\" or \"v1.x\"; latest is "
                       "used)"}));
}

// Every recorded source, "path: source", in the order they iterate (by path).
std::vector<std::string> Sources(const EffectivePolicy& effective) {
  std::vector<std::string> lines;
  for (const auto& [path, source] : effective.sources) {
    lines.push_back(std::string(path) + ": " + source->ToString());
  }
  return lines;
}

TEST(FieldSources, EachFieldKeepsTheDocumentOrLabelsThatSetItLast) {
  auto base = Build({
      Policy("star", R"("namespaces":["*"],"podSecurity":{"enforce":"baseline","warn":"baseline",
                       "audit":"baseline"},"defaults":{"seccompProfile":{"type":"RuntimeDefault"}},
                       "rules":{"action":"warn"})"),
      Policy("glob", R"("namespaces":["team-*"],"defaults":{"runAsNonRoot":true},
                       "exemptions":{"usernames":["ci"]})"),
      Policy("exact", R"("namespaces":["team-a"],"podSecurity":{"enforce":"restricted"},
                        "defaults":{"seccompProfile":null},
                        "rules":{"allowedCapabilities":["NET_BIND_SERVICE"]})"),
  });
  std::map<std::string, std::string> by;  // `policy "star" rev 4c1e9a`, by name
  for (const NamespacePolicy& policy : base->policies()) {
    by[policy.name] = "policy \"" + policy.name + "\" rev " + policy.revision;
  }
  const std::string kPsa = "pod-security.kubernetes.io/";
  auto set = base->WithNamespaceLabels(LabelsOf({
      {"team-a",
       {{kPsa + "enforce", "baseline"},
        {kPsa + "warn-version", "v1.30"},
        {kPsa + "audit", "restricted"},
        {kPsa + "audit-version", "v1.29"}}},
      {"team-b", {{kPsa + "warn", "restricted"}}},
  }));
  const auto team_a = set->ForNamespace("team-a");
  const auto team_b = set->ForNamespace("team-b");
  const auto team_c = set->ForNamespace("team-c");  // unlabelled
  // The effective policies keep their sources alive.
  base.reset();
  set.reset();
  // Labels override "*", documents more specific than "*" override labels; a null drops the
  // source with the value (team-a's seccompProfile).
  EXPECT_EQ(Sources(*team_a),
            (std::vector<std::string>{
                "defaults.runAsNonRoot: " + by["glob"],
                "exemptions.usernames: " + by["glob"],
                "podSecurity.audit: namespace label " + kPsa + "audit, " + kPsa + "audit-version",
                "podSecurity.enforce: " + by["exact"],
                "podSecurity.warn: namespace label " + kPsa + "warn-version",
                "rules.action: " + by["star"],
                "rules.allowedCapabilities: " + by["exact"],
            }));
  EXPECT_EQ(Sources(*team_b), (std::vector<std::string>{
                                  "defaults.runAsNonRoot: " + by["glob"],
                                  "defaults.seccompProfile: " + by["star"],
                                  "exemptions.usernames: " + by["glob"],
                                  "podSecurity.audit: " + by["star"],
                                  "podSecurity.enforce: " + by["star"],
                                  "podSecurity.warn: namespace label " + kPsa + "warn",
                                  "rules.action: " + by["star"],
                              }));
  EXPECT_EQ(SourceOf(*team_c, "podSecurity.warn"), by["star"]);
  EXPECT_EQ(SourceOf(*team_c, "exemptions.usernames"), by["glob"]);
  EXPECT_EQ(team_c->SourceOf("rules.allowedCapabilities"), nullptr);
  EXPECT_EQ(team_c->SourceOf("no.such.field"), nullptr);
  // One source per document, shared by every field it sets in every namespace.
  EXPECT_EQ(team_a->SourceOf("exemptions.usernames"), team_b->SourceOf("defaults.runAsNonRoot"));
  EXPECT_EQ(team_a->SourceOf("rules.action"), team_c->SourceOf("podSecurity.enforce"));
}

TEST(WithNamespaceLabels, SharesEqualResultsAndKeepsRefusals) {
  const auto base = PolicySet::BuildServing(
      {Policy("cluster", R"("namespaces":["*"],"podSecurity":{"enforce":"baseline"})"),
       Policy("web", R"("namespaceSelector":{"matchLabels":{"tier":"web"}},
                       "podSecurity":{"enforce":"restricted"})")},
      {Refusal{{"broken-*"}, "policy \"broken\" is invalid"}});
  auto labels = std::make_shared<NamespaceLabels>();
  for (int i = 0; i < 100; ++i) {
    labels->by_name["web-" + std::to_string(i)] = {{"tier", "web"}, {"id", std::to_string(i)}};
    labels->by_name["db-" + std::to_string(i)] = {{"tier", "db"}};
  }
  labels->by_name["broken-web"] = {{"tier", "web"}};
  const auto set = base->WithNamespaceLabels(labels);
  EXPECT_EQ(set->ForNamespace("web-1"), set->ForNamespace("web-99"));
  EXPECT_EQ(set->ForNamespace("db-1"), set->ForNamespace("db-2"));
  EXPECT_NE(set->ForNamespace("db-1"), set->ForNamespace("web-1"));
  EXPECT_EQ(Enforce(*set->ForNamespace("web-7")), "restricted:v1.37");
  EXPECT_EQ(set->ForNamespace("broken-web")->refused, "policy \"broken\" is invalid");
  EXPECT_EQ(Enforce(*set->ForNamespace("broken-web")), "restricted:v1.37");
  EXPECT_EQ(set->namespace_labels().size(), 201u);
  EXPECT_EQ(set->namespace_labels().Label("web-42", "id"), "42");
  // The policies themselves are kept once: every set resolved from `base` shares them.
  EXPECT_EQ(&set->policies(), &base->policies());
  EXPECT_EQ(&set->WithNamespaceLabels(std::shared_ptr<const NamespaceLabelTable>())->policies(),
            &base->policies());
  ASSERT_EQ(set->policies().size(), 2u);
  EXPECT_EQ(set->policies()[1].name, "web");
}

}  // namespace
}  // namespace palisade::policy
