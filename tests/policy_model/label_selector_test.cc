// Label selectors against Kubernetes' own cases (apimachinery pkg/labels/selector_test.go,
// pkg/apis/meta/v1/helpers_test.go and validation), written as metav1.LabelSelector documents.

#include "policy/label_selector.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "policy/document_reader.h"

namespace palisade::policy {
namespace {

struct Read {
  std::optional<LabelSelector> selector;
  std::vector<std::string> errors;
};

Read ReadSelector(const std::string& json) {
  rapidjson::Document document;
  document.Parse(json.c_str(), json.size());
  EXPECT_FALSE(document.HasParseError()) << json;
  std::vector<PolicyError> errors;
  DocumentReader reader("p.yaml", 0, &errors);
  Read out;
  out.selector = ReadLabelSelector(reader, document, "spec.namespaceSelector");
  for (const PolicyError& error : errors) out.errors.push_back(error.field + ": " + error.reason);
  EXPECT_EQ(out.selector.has_value(), out.errors.empty()) << json;
  return out;
}

LabelSelector Selector(const std::string& json) {
  Read read = ReadSelector(json);
  EXPECT_TRUE(read.selector) << json << ": " << (read.errors.empty() ? "" : read.errors[0]);
  return read.selector.value_or(LabelSelector());
}

struct MatchCase {
  std::string selector;  // metav1.LabelSelector as JSON
  Labels labels;
  bool match;
};

class SelectorMatches : public testing::TestWithParam<MatchCase> {};

TEST_P(SelectorMatches, AsKubernetes) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(Selector(c.selector).Matches(c.labels), c.match)
      << c.selector << " on " << testing::PrintToString(c.labels);
}

const Labels kFooBar = {{"foo", "bar"}, {"baz", "blah"}};

INSTANTIATE_TEST_SUITE_P(
    Kubernetes, SelectorMatches,
    testing::Values(
        // TestSelectorMatches
        MatchCase{R"({"matchLabels":{"x":"y"}})", {{"x", "y"}}, true},
        MatchCase{R"({"matchLabels":{"x":"y","z":"w"}})", {{"x", "y"}, {"z", "w"}}, true},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"NotIn","values":["y"]},
                     {"key":"z","operator":"NotIn","values":["w"]}]})",
                  {{"x", "z"}, {"z", "a"}},
                  true},
        MatchCase{R"({"matchLabels":{"notin":"in"}})", {{"notin", "in"}}, true},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"Exists"}]})", {{"x", "z"}}, true},
        MatchCase{
            R"({"matchExpressions":[{"key":"x","operator":"DoesNotExist"}]})", {{"y", "z"}}, true},
        MatchCase{R"({"matchLabels":{"x":"z"}})", {}, false},
        MatchCase{R"({"matchLabels":{"x":"y"}})", {{"x", "z"}}, false},
        MatchCase{R"({"matchLabels":{"x":"y","z":"w"}})", {{"x", "w"}, {"z", "w"}}, false},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"NotIn","values":["y"]},
                     {"key":"z","operator":"NotIn","values":["w"]}]})",
                  {{"x", "z"}, {"z", "w"}},
                  false},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"Exists"}]})", {{"y", "z"}}, false},
        MatchCase{
            R"({"matchExpressions":[{"key":"x","operator":"DoesNotExist"}]})", {{"x", "z"}}, false},
        MatchCase{R"({"matchLabels":{"foo":"bar"}})", kFooBar, true},
        MatchCase{R"({"matchLabels":{"baz":"blah"}})", kFooBar, true},
        MatchCase{R"({"matchLabels":{"foo":"bar","baz":"blah"}})", kFooBar, true},
        MatchCase{R"({"matchLabels":{"foo":"blah"}})", kFooBar, false},
        MatchCase{R"({"matchLabels":{"baz":"bar"}})", kFooBar, false},
        MatchCase{R"({"matchLabels":{"foo":"bar","foobar":"bar","baz":"blah"}})", kFooBar, false},
        // TestSetMatches / LabelSelectorAsSelector: an empty selector selects everything.
        MatchCase{R"({})", kFooBar, true}, MatchCase{R"({})", {}, true},
        MatchCase{R"({"matchLabels":{},"matchExpressions":[]})", kFooBar, true},
        MatchCase{R"({"matchLabels":null,"matchExpressions":null})", {}, true},
        // TestRequirementSelectorMatching
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"In","values":["foo"]},
                     {"key":"y","operator":"NotIn","values":["alpha"]}]})",
                  {{"x", "foo"}, {"y", "baz"}},
                  true},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"In","values":["foo"]},
                     {"key":"y","operator":"In","values":["alpha"]}]})",
                  {{"x", "foo"}, {"y", "baz"}},
                  false},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"NotIn","values":[""]},
                     {"key":"y","operator":"Exists"}]})",
                  {{"y", ""}},
                  true},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"DoesNotExist"},
                     {"key":"y","operator":"Exists"}]})",
                  {{"y", ""}},
                  true},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"NotIn","values":[""]},
                     {"key":"y","operator":"DoesNotExist"}]})",
                  {{"y", ""}},
                  false},
        MatchCase{R"({"matchExpressions":[{"key":"x","operator":"In","values":[""]}]})",
                  {{"y", "baz"}},
                  false},
        // matchLabels AND matchExpressions
        MatchCase{R"({"matchLabels":{"foo":"bar"},
                     "matchExpressions":[{"key":"baz","operator":"In","values":["qux","norf"]}]})",
                  {{"foo", "bar"}, {"baz", "norf"}},
                  true},
        MatchCase{R"({"matchLabels":{"foo":"bar"},
                     "matchExpressions":[{"key":"baz","operator":"In","values":["qux","norf"]}]})",
                  {{"foo", "bar"}, {"baz", "blah"}},
                  false},
        MatchCase{R"({"matchLabels":{"foo":"bar"},
                     "matchExpressions":[{"key":"baz","operator":"In","values":["qux","norf"]}]})",
                  {{"foo", "other"}, {"baz", "qux"}},
                  false},
        // Prefixed keys, as namespaces carry them.
        MatchCase{R"({"matchLabels":{"kubernetes.io/metadata.name":"payments"}})",
                  {{"kubernetes.io/metadata.name", "payments"}},
                  true},
        MatchCase{R"({"matchExpressions":[{"key":"this-is-a-dns.domain.com/key-with-dash",
                     "operator":"Exists"}]})",
                  {{"this-is-a-dns.domain.com/key-with-dash", ""}},
                  true}));

// TestToString and LabelSelectorAsSelector: requirements sorted by key, values sorted.
TEST(LabelSelector, StringsAsKubernetes) {
  EXPECT_EQ(Selector(R"({"matchExpressions":[{"key":"x","operator":"In","values":["def","abc"]},
                       {"key":"y","operator":"NotIn","values":["jkl"]},
                       {"key":"z","operator":"Exists"}]})")
                .ToString(),
            "x in (abc,def),y notin (jkl),z");
  EXPECT_EQ(Selector(R"({"matchExpressions":[{"key":"z","operator":"DoesNotExist"},
                       {"key":"x","operator":"NotIn","values":["abc","def"]}]})")
                .ToString(),
            "x notin (abc,def),!z");
  EXPECT_EQ(Selector(R"({"matchLabels":{"foo":"bar"},
                       "matchExpressions":[{"key":"baz","operator":"In","values":["qux","norf"]}]})")
                .ToString(),
            "baz in (norf,qux),foo=bar");
  EXPECT_EQ(
      Selector(R"({"matchExpressions":[{"key":"x","operator":"NotIn","values":[""]}]})").ToString(),
      "x notin ()");
  EXPECT_EQ(Selector("{}").ToString(), "");
  EXPECT_TRUE(Selector("{}").Empty());
  EXPECT_EQ(Selector(R"({"matchLabels":{"a":"b"},"matchExpressions":[
                       {"key":"a","operator":"Exists"}]})")
                .size(),
            2u);
}

struct ErrorCase {
  std::string selector;
  std::vector<std::string> errors;
};

class SelectorErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(SelectorErrors, RefusedAsTheApiServerRefuses) {
  EXPECT_EQ(ReadSelector(GetParam().selector).errors, GetParam().errors);
}

const std::string kAt = "spec.namespaceSelector";

INSTANTIATE_TEST_SUITE_P(
    Kubernetes, SelectorErrors,
    testing::Values(
        // TestRequirementConstructor: In/NotIn need values, Exists/DoesNotExist take none.
        ErrorCase{R"({"matchExpressions":[{"key":"x","operator":"In"}]})",
                  {kAt + ".matchExpressions[0].values: must be specified when `operator` is 'In' "
                         "or 'NotIn'"}},
        ErrorCase{R"({"matchExpressions":[{"key":"x","operator":"NotIn","values":[]}]})",
                  {kAt + ".matchExpressions[0].values: must be specified when `operator` is 'In' "
                         "or 'NotIn'"}},
        ErrorCase{R"({"matchExpressions":[{"key":"x","operator":"Exists","values":["a"]}]})",
                  {kAt + ".matchExpressions[0].values: may not be specified when `operator` is "
                         "'Exists' or 'DoesNotExist'"}},
        ErrorCase{
            R"({"matchExpressions":[{"key":"x","operator":"DoesNotExist","values":["a"]}]})",
            {kAt + ".matchExpressions[0].values: may not be specified when `operator` is 'Exists' "
                   "or 'DoesNotExist'"}},
        // Operators are exactly those of metav1 (Gt, Lt and "=" are not LabelSelector operators).
        ErrorCase{R"({"matchExpressions":[{"key":"y","operator":"Gt","values":["1"]}]})",
                  {kAt + ".matchExpressions[0].operator: invalid value \"Gt\" (want In, NotIn, "
                         "Exists or DoesNotExist)"}},
        ErrorCase{R"({"matchExpressions":[{"key":"y","operator":"in","values":["1"]}]})",
                  {kAt + ".matchExpressions[0].operator: invalid value \"in\" (want In, NotIn, "
                         "Exists or DoesNotExist)"}},
        ErrorCase{R"({"matchExpressions":[{"operator":"Exists"}]})",
                  {kAt + ".matchExpressions[0].key: required field is missing"}},
        // Keys: qualified names.
        ErrorCase{R"({"matchExpressions":[{"key":")" + std::string(254, 'a') +
                      R"(","operator":"Exists"}]})",
                  {kAt + ".matchExpressions[0].key: name part must be no more than 63 "
                         "characters"}},
        ErrorCase{R"({"matchLabels":{"a/b/c":"x"}})",
                  {kAt + ".matchLabels.a/b/c: a qualified name must be NAME or PREFIX/NAME with "
                         "one '/' (e.g. 'example.com/MyName')"}},
        ErrorCase{R"({"matchLabels":{"/a":"x"}})",
                  {kAt + ".matchLabels./a: prefix part must be non-empty"}},
        ErrorCase{R"({"matchLabels":{"example.com/":"x"}})",
                  {kAt + ".matchLabels.example.com/: name part must be non-empty"}},
        ErrorCase{R"({"matchLabels":{"Example.com/a":"x"}})",
                  {kAt + ".matchLabels.Example.com/a: prefix part a lowercase RFC 1123 subdomain "
                         "must consist of lower case alphanumeric characters, '-' or '.', and "
                         "must start and end with an alphanumeric character"}},
        ErrorCase{R"({"matchLabels":{"-a":"x"}})",
                  {kAt + ".matchLabels.-a: name part must consist of alphanumeric characters, "
                         "'-', '_' or '.', and must start and end with an alphanumeric "
                         "character"}},
        // Values: empty or a label value of at most 63 characters.
        ErrorCase{R"({"matchLabels":{"a":")" + std::string(64, 'v') + R"("}})",
                  {kAt + ".matchLabels.a: must be no more than 63 characters"}},
        ErrorCase{R"({"matchExpressions":[{"key":"a","operator":"In","values":["ok","b c"]}]})",
                  {kAt + ".matchExpressions[0].values[1]: a valid label must be an empty string "
                         "or consist of alphanumeric characters, '-', '_' or '.', and must start "
                         "and end with an alphanumeric character"}},
        ErrorCase{R"({"matchLabels":{"a":1}})",
                  {kAt + ".matchLabels.a: expected a string, got number"}},
        ErrorCase{R"({"matchLabel":{"a":"b"}})",
                  {kAt + ".matchLabel: unknown field (did you mean matchLabels?)"}},
        // Every problem is reported, not only the first.
        ErrorCase{R"({"matchLabels":{"-a":"x","b":"-"},
                     "matchExpressions":[{"key":"c","operator":"In"}]})",
                  {kAt + ".matchLabels.-a: name part must consist of alphanumeric characters, "
                         "'-', '_' or '.', and must start and end with an alphanumeric character",
                   kAt + ".matchLabels.b: a valid label must be an empty string or consist of "
                         "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                         "alphanumeric character",
                   kAt + ".matchExpressions[0].values: must be specified when `operator` is 'In' "
                         "or 'NotIn'"}}));

TEST(LabelSelector, ValidKeysAndValuesAsKubernetes) {
  for (const char* key : {"x", "1foo", "1234", "this-is-a-dns.domain.com/key-with-dash",
                          "0.1.2.domain/99", "pod-security.kubernetes.io/enforce", "A_b.C-9"}) {
    EXPECT_EQ(ValidateLabelKey(key), "") << key;
  }
  EXPECT_EQ(ValidateLabelKey(std::string(63, 'a')), "");
  EXPECT_EQ(ValidateLabelKey(std::string(253, 'a') + "/" + std::string(63, 'a')), "");
  EXPECT_NE(ValidateLabelKey(std::string(254, 'a') + "/a"), "");
  EXPECT_NE(ValidateLabelKey(""), "");
  EXPECT_NE(ValidateLabelKey("a."), "");
  EXPECT_NE(ValidateLabelKey("a..b/c"), "");
  for (const char* value : {"", "bar", "10.10.100.1", "tick.tack.clock", "A-b_c.9"}) {
    EXPECT_EQ(ValidateLabelValue(value), "") << value;
  }
  EXPECT_EQ(ValidateLabelValue(std::string(63, 'v')), "");
  EXPECT_NE(ValidateLabelValue("-a"), "");
  EXPECT_NE(ValidateLabelValue("a_"), "");
}

TEST(LabelSelector, LabelList) {
  std::string error;
  EXPECT_EQ(ParseLabelList("team=payments,pod-security.kubernetes.io/enforce=baseline", &error),
            (Labels{{"team", "payments"}, {"pod-security.kubernetes.io/enforce", "baseline"}}));
  EXPECT_EQ(ParseLabelList("", &error), Labels{});
  EXPECT_EQ(ParseLabelList("empty=", &error), (Labels{{"empty", ""}}));
  EXPECT_FALSE(ParseLabelList("team", &error));
  EXPECT_EQ(error, "\"team\": want KEY=VALUE");
  EXPECT_FALSE(ParseLabelList("a=b,a=c", &error));
  EXPECT_EQ(error, "label \"a\" given twice");
  EXPECT_FALSE(ParseLabelList("a=-", &error));
  EXPECT_FALSE(ParseLabelList("-a=b", &error));
}

}  // namespace
}  // namespace palisade::policy
