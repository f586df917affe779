// The judged decode (admission's): what it skips is checked as strictly as the whole decode checks
// it, is kept as its JSON text, and the review is answered exactly as after the whole decode.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "policy/admission.h"
#include "policy/json_scan.h"
#include "policy/review.h"
#include "policy/review_decoder.h"
#include "tests/mutation/mutation_support.h"

namespace palisade::policy {
namespace {

using testing_support::Json;
using Decode = AdmissionRequest::Decode;

std::shared_ptr<const PolicySet> Restricted() {
  NamespacePolicy policy;
  policy.name = "payments";
  policy.namespaces = {"payments"};
  policy.Set<&PolicyValues::enforce>(LevelVersion{Level::kRestricted, Version::Latest(), true});
  policy.Set<&PolicyValues::default_run_as_non_root>(true);
  std::vector<PolicyError> errors;
  auto set = PolicySet::Build({policy}, &errors);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors[0].ToString());
  return set;
}

// Single quotes stand for double quotes (Json()); the skipped parts are written with raw double
// quotes where their exact text matters.
std::string Review(const std::string& resource, const std::string& group,
                   const std::string& operation, const std::string& object,
                   const std::string& old_object = "null") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",)"
         R"("kind":{"group":")" +
         group + R"(","version":"v1","kind":"X"},"resource":{"group":")" + group +
         R"(","version":"v1","resource":")" + resource + R"("},"requestKind":{"group":")" + group +
         R"(","version":"v1","kind":"X"},)"
         R"("namespace":"payments","operation":")" +
         operation + R"(","userInfo":{"username":"alice"},"object":)" + object +
         R"(,"oldObject":)" + old_object +
         R"(,"options":{"kind":"CreateOptions","fieldManager":"kubectl"}}})";
}

const std::string kManagedFields =
    R"([{"manager":"kubectl","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:spec":)"
    R"({"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:env":{}}}}}}])";
const std::string kLastApplied = R"("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n")";
const std::string kEnv = R"([{"name":"A","value":"x\u0026y"},{"name":"B","valueFrom":{}}])";

// A pod with every kind of part the judged decode skips, and privileged (denied by restricted).
std::string Pod(const std::string& env = kEnv, const std::string& managed_fields = kManagedFields,
                const std::string& last_applied = kLastApplied) {
  return R"({"metadata":{"name":"p","ownerReferences":[{"kind":"ReplicaSet","name":"r"}],)"
         R"("managedFields":)" +
         managed_fields + R"(,"annotations":{"kubectl.kubernetes.io/last-applied-configuration":)" +
         last_applied +
         R"(,"container.apparmor.security.beta.kubernetes.io/app":"unconfined"}},)"
         R"("spec":{"containers":[{"name":"app","image":"nginx","command":["sh","-c"],)"
         R"("args":["run"],"env":)" +
         env +
         R"(,"resources":{"limits":{"cpu":"1"}},"volumeMounts":[{"name":"v","mountPath":"/v"}],)"
         R"("securityContext":{"privileged":true}}],)"
         R"("volumes":[{"name":"v","emptyDir":{}},{"name":"h","hostPath":{"path":"/etc"},"nfs":null}],)"
         R"("affinity":{"nodeAffinity":{}},"tolerations":[{"key":"k","operator":"Exists"}],)"
         R"("nodeSelector":{"disk":"ssd"},"hostNetwork":false},)"
         R"("status":{"phase":"Pending","conditions":[{"type":"Ready","status":"False"}]}})";
}

std::string Text(const rapidjson::Value& value) {
  return value.IsString() ? std::string(value.GetString(), value.GetStringLength())
                          : "<not a string>";
}

// Both decodes answer alike, through Review() on the decoded request.
void ExpectAnsweredAlike(const std::string& body, const PolicySet& set) {
  AdmissionRequest judged;
  AdmissionRequest whole;
  std::string judged_error;
  std::string whole_error;
  ASSERT_TRUE(judged.Parse(body, &judged_error)) << judged_error;
  ASSERT_TRUE(whole.Parse(body, &whole_error, Decode::kWhole)) << whole_error;
  for (const Endpoint endpoint : {Endpoint::kValidate, Endpoint::kMutate}) {
    const AdmissionResult a = policy::Review(endpoint, judged, set, {});
    const AdmissionResult b = policy::Review(endpoint, whole, set, {});
    EXPECT_EQ(a.http_status, b.http_status);
    EXPECT_EQ(a.body, b.body);
    EXPECT_EQ(a.decision, b.decision);
  }
}

TEST(ReviewDecoder, SkipsOnlyWhatIsNeverReadAndKeepsItsText) {
  const std::string body = Review("pods", "", "CREATE", Pod());
  AdmissionRequest judged;
  std::string error;
  ASSERT_TRUE(judged.Parse(body, &error)) << error;
  EXPECT_FALSE(judged.whole());
  const rapidjson::Value& pod = judged.document()["request"]["object"];
  EXPECT_EQ(Text(pod["metadata"]["managedFields"]), kManagedFields);
  EXPECT_EQ(Text(pod["metadata"]["ownerReferences"]), R"([{"kind":"ReplicaSet","name":"r"}])");
  const rapidjson::Value& request = judged.document()["request"];
  EXPECT_EQ(Text(request["requestKind"]), R"({"group":"","version":"v1","kind":"X"})");
  EXPECT_EQ(Text(request["options"]), R"({"kind":"CreateOptions","fieldManager":"kubectl"})");
  EXPECT_TRUE(request["kind"].IsObject());  // read: built
  EXPECT_EQ(
      Text(pod["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]),
      kLastApplied);
  EXPECT_EQ(Text(pod["status"]),
            R"({"phase":"Pending","conditions":[{"type":"Ready","status":"False"}]})");
  const rapidjson::Value& container = pod["spec"]["containers"][0];
  EXPECT_EQ(Text(container["env"]), kEnv);
  EXPECT_EQ(Text(container["command"]), R"(["sh","-c"])");
  EXPECT_EQ(Text(container["args"]), R"(["run"])");
  EXPECT_EQ(Text(container["resources"]), R"({"limits":{"cpu":"1"}})");
  EXPECT_EQ(Text(container["volumeMounts"]), R"([{"name":"v","mountPath":"/v"}])");
  EXPECT_EQ(Text(pod["spec"]["affinity"]), R"({"nodeAffinity":{}})");
  EXPECT_EQ(Text(pod["spec"]["tolerations"]), R"([{"key":"k","operator":"Exists"}])");
  EXPECT_EQ(Text(pod["spec"]["nodeSelector"]), R"({"disk":"ssd"})");
  // A volume's name is read, its sources only for being there (a null one is none).
  const rapidjson::Value& volumes = pod["spec"]["volumes"];
  EXPECT_EQ(Text(volumes[0]["name"]), "v");
  EXPECT_EQ(Text(volumes[0]["emptyDir"]), "{}");
  EXPECT_EQ(Text(volumes[1]["hostPath"]), R"({"path":"/etc"})");
  EXPECT_TRUE(volumes[1]["nfs"].IsNull());

  // What is read is decoded as the whole decode decodes it.
  AdmissionRequest whole;
  ASSERT_TRUE(whole.Parse(body, &error, Decode::kWhole)) << error;
  EXPECT_TRUE(whole.whole());
  const rapidjson::Value& whole_pod = whole.document()["request"]["object"];
  EXPECT_TRUE(container["securityContext"] ==
              whole_pod["spec"]["containers"][0]["securityContext"]);
  EXPECT_TRUE(pod["spec"]["hostNetwork"] == whole_pod["spec"]["hostNetwork"]);
  EXPECT_EQ(
      Text(pod["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/app"]),
      "unconfined");
  EXPECT_EQ(judged.uid, "u-1");
  EXPECT_EQ(judged.namespace_name, "payments");
  EXPECT_TRUE(whole_pod["metadata"]["managedFields"].IsArray());

  const auto set = Restricted();
  ExpectAnsweredAlike(body, *set);
  const AdmissionResult denied = policy::Review(Endpoint::kValidate, body, *set, {});
  EXPECT_NE(denied.body.find("privileged"), std::string::npos) << denied.body;
  EXPECT_NE(denied.body.find(R"(volume \"h\" uses restricted volume type \"hostPath\")"),
            std::string::npos)
      << denied.body;
  EXPECT_EQ(denied.body.find("nfs"), std::string::npos) << denied.body;
  EXPECT_EQ(denied.decision, "denied");
}

// Each container and pod spec field that nothing reads is skipped (kept as its text), and a key
// that is only like one of them (a letter more, less or in another case) is built.
TEST(ReviewDecoder, SkipsEachUnreadContainerAndSpecFieldByItsExactName) {
  const std::vector<std::string> container_fields = {"env",          "envFrom",       "resources",
                                                     "volumeMounts", "volumeDevices", "args",
                                                     "command",      "resizePolicy"};
  const std::vector<std::string> spec_fields = {
      "affinity",         "tolerations",    "nodeSelector", "topologySpreadConstraints",
      "imagePullSecrets", "readinessGates", "dnsConfig",    "hostAliases",
      "schedulingGates",  "resourceClaims", "overhead"};
  const std::string value = R"({"x":[1]})";
  for (const bool in_container : {true, false}) {
    for (const std::string& field : in_container ? container_fields : spec_fields) {
      std::string upper = field;
      upper[0] = static_cast<char>(upper[0] - 'a' + 'A');
      for (const std::string& key :
           {field, field + "s", field.substr(0, field.size() - 1), upper}) {
        const std::string member = "\"" + key + "\":" + value;
        const std::string pod = in_container
                                    ? R"({"spec":{"containers":[{"name":"app",)" + member + "}]}}"
                                    : R"({"spec":{"containers":[{"name":"app"}],)" + member + "}}";
        AdmissionRequest judged;
        std::string error;
        ASSERT_TRUE(judged.Parse(Review("pods", "", "CREATE", pod), &error)) << error;
        ASSERT_FALSE(judged.whole());
        const rapidjson::Value& spec = judged.document()["request"]["object"]["spec"];
        const rapidjson::Value& parent = in_container ? spec["containers"][0] : spec;
        ASSERT_TRUE(parent.HasMember(key.c_str())) << key;
        if (key == field) {
          EXPECT_EQ(Text(parent[key.c_str()]), value) << key;
        } else {
          EXPECT_TRUE(parent[key.c_str()].IsObject()) << key;
        }
      }
    }
  }
}

// Anything wrong in a skipped part is refused, with the reason the whole decode gives.
TEST(ReviewDecoder, SkippedPartsAreRefusedAlike) {
  struct Case {
    std::string env;
    std::string managed_fields = kManagedFields;
  };
  const std::string deep = std::string(600, '[') + std::string(600, ']');
  const std::vector<Case> cases = {
      {R"([{"name":"A","name":"B"}])"},              // duplicate key
      {R"([{"name":"A","value":"x","name":"B"}])"},  // of three: the first and the last
      {R"([{"value":"x","name":"A","name":"B"}])"},  // the last two
      {kEnv, R"([{"k:{\"name\":\"a\"}":{},"k:{\u0022name\"\u003a\"a\"}":{}}])"},  // same, escaped
      {kEnv, "[{\"k:\\u00e9\":{},\"k:\xc3\xa9\":{}}]"},                           // escaped and not
      {kEnv, "[{\"\\ud83d\\ude00\":{},\"\xf0\x9f\x98\x80\":{}}]"},  // a surrogate pair
      {kEnv, R"([{"a\\b":{},"a\u005cb":{}}])"},            // a backslash, escaped twice over
      {kEnv, R"([{"k:{\"a\"}":{},"k:{\"a\u0022}":{}}])"},  // a quote, likewise
      {kEnv, R"([{"a\/b\n":{},"a/b\u000a":{}}])"},         // escapes of plain characters
      {kEnv, R"([{"f:a":{},"f:b":{},"f:c":{},"f:d":{},"f:e":{},"f:f":{},"f:g":{},"f:h":{},)"
             R"("f:i":{},"f:j":{},"f:k":{},"f:l":{},"f:m":{},"f:n":{},"f:o":{},"f:p":{},"f:q":{},)"
             R"("f:c":{}}])"},  // many keys: the hashed path
      {R"([{"name":"A",}])"},
      {R"([{"name" "A"}])"},
      {R"([1,])"},
      {R"([tru])"},
      {R"([nul])"},
      {R"([01])"},
      {R"([-])"},
      {R"([1.])"},
      {R"(["\x"])"},
      {R"(["\u12G4"])"},
      {R"(["\ud800"])"},
      {R"(["\udc00"])"},
      {"[\"a\tb\"]"},
      {"[\"\xff\"]"},
      {"[\"\xed\xa0\x80\"]"},  // an encoded surrogate
      {"[\"\xc0\xaf\"]"},      // overlong
      {deep},
      {R"([1e999])"},
      {R"([{"name":"A"})"},
      {R"({"a":})"},
  };
  const auto set = Restricted();
  for (const Case& c : cases) {
    const std::string body = Review("pods", "", "CREATE", Pod(c.env, c.managed_fields));
    AdmissionRequest whole;
    std::string whole_error;
    ASSERT_FALSE(whole.Parse(body, &whole_error, Decode::kWhole)) << c.env << c.managed_fields;
    AdmissionRequest judged;
    std::string judged_error;
    EXPECT_FALSE(judged.Parse(body, &judged_error)) << c.env << c.managed_fields;
    EXPECT_EQ(judged_error, whole_error);
    EXPECT_EQ(judged_error.rfind("malformed JSON: ", 0), 0u) << judged_error;
    const AdmissionResult result = policy::Review(Endpoint::kValidate, body, *set, {});
    EXPECT_EQ(result.http_status, 400);
    EXPECT_EQ(result.body, whole_error);
  }
}

// Whitespace between any two tokens of a skipped part (the skipping loop looks for the byte it
// expects before it looks for whitespace) is taken and kept in the part's text; a byte JSON does
// not count as whitespace is refused there, as the whole decode refuses it.
TEST(ReviewDecoder, WhitespaceAnywhereInSkippedPartsIsTakenAlike) {
  const std::string env =
      R"([{"name":"A","value":"x"},{"name":"B","valueFrom":{}},[],[1,true],{}])";
  const std::string managed = R"([{"a":{"k:{\"x\"}":{},"b":[null,false,-1]},"c":{"d":{}}}])";
  // Offsets between tokens: outside strings, before or after a structural character.
  const auto gaps = [](const std::string& text) {
    std::vector<std::size_t> at;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
          at.push_back(i + 1);
        }
        continue;
      }
      if (c == '"') {
        at.push_back(i);
        in_string = true;
      } else if (std::string_view("{}[]:,").find(c) != std::string_view::npos) {
        at.push_back(i);
        at.push_back(i + 1);
      }
    }
    return at;
  };
  int taken = 0;
  for (const bool in_env : {true, false}) {
    const std::string& part = in_env ? env : managed;
    for (const std::size_t at : gaps(part)) {
      if (at == 0 || at == part.size()) continue;  // the part's own ends: not inside it
      for (const std::string space : {" ", "\n", "\r\n", "\t", " \t\n  ", "\f", "\v"}) {
        std::string spaced = part;
        spaced.insert(at, space);
        const std::string pod = in_env ? Pod(spaced, kManagedFields) : Pod(kEnv, spaced);
        const std::string body = Review("pods", "", "CREATE", pod);
        AdmissionRequest whole;
        std::string whole_error;
        const bool whole_ok = whole.Parse(body, &whole_error, Decode::kWhole);
        EXPECT_EQ(whole_ok, space != "\f" && space != "\v") << spaced;
        AdmissionRequest judged;
        std::string judged_error;
        ASSERT_EQ(judged.Parse(body, &judged_error), whole_ok) << spaced;
        EXPECT_EQ(judged_error, whole_error) << spaced;
        if (!whole_ok) continue;
        ++taken;
        EXPECT_FALSE(judged.whole()) << spaced;
        const rapidjson::Value& object = judged.document()["request"]["object"];
        const rapidjson::Value& kept =
            in_env ? object["spec"]["containers"][0]["env"] : object["metadata"]["managedFields"];
        EXPECT_EQ(Text(kept), spaced);
      }
    }
  }
  EXPECT_GT(taken, 200);
}

// Nesting is counted alike in skipped parts, empty objects and arrays included: around the limit,
// the judged decode takes and refuses what the whole decode does.
TEST(ReviewDecoder, SkippedNestingIsLimitedAlike) {
  int refused = 0;
  for (const std::string inner : {"{}", "[]", "{\"a\":{}}"}) {
    for (int levels = kMaxReviewNesting - 12; levels <= kMaxReviewNesting; ++levels) {
      const auto count = static_cast<std::size_t>(levels);
      const std::string env = std::string(count, '[') + inner + std::string(count, ']');
      const std::string body = Review("pods", "", "CREATE", Pod(env, kManagedFields));
      AdmissionRequest whole;
      std::string whole_error;
      const bool whole_ok = whole.Parse(body, &whole_error, Decode::kWhole);
      AdmissionRequest judged;
      std::string judged_error;
      EXPECT_EQ(judged.Parse(body, &judged_error), whole_ok) << inner << " at " << levels;
      EXPECT_EQ(judged_error, whole_error);
      refused += whole_ok ? 0 : 1;
    }
  }
  // The limit fell inside the range for each inner value, not outside it.
  EXPECT_GT(refused, 3);
  EXPECT_LT(refused, 36);
}

// Keys of a skipped object that differ in value are not duplicates, however they are escaped: the
// decoder compares \" and \\ as they are spelled and rewrites every other escape.
TEST(ReviewDecoder, SkippedKeysThatDifferOnlyInTheirEscapesAreTaken) {
  const std::vector<std::string> fields = {
      R"([{"a\\":{},"a\u005c\u005c":{}}])",    // one backslash, two
      R"([{"\"":{},"\\\"":{},"\u005c":{}}])",  // a quote, a backslash and a quote, a backslash
      R"([{"k:{\"a\"}":{},"k:{\u005c\"a\"}":{}}])",  // a quote, and a backslash before it
      R"([{"a\/":{},"a\\/":{}}])",                   // a slash, and a backslash before it
  };
  for (const std::string& managed : fields) {
    const std::string body = Review("pods", "", "CREATE", Pod(kEnv, managed));
    AdmissionRequest whole;
    std::string whole_error;
    EXPECT_TRUE(whole.Parse(body, &whole_error, Decode::kWhole)) << managed << whole_error;
    AdmissionRequest judged;
    std::string judged_error;
    EXPECT_TRUE(judged.Parse(body, &judged_error)) << managed << judged_error;
    EXPECT_FALSE(judged.whole()) << managed;
  }
}

// Duplicate keys are found by their whole text, whatever the shortcuts before the bytes (length,
// first byte, a hash of the first, middle and last eight bytes): keys alike in their length, their
// ends and all but their middle are taken, and a short key is compared by itself, not by what
// follows it; in built and in skipped parts, in objects of two keys, of a few (pairwise) and of
// many (hashed) alike.
TEST(ReviewDecoder, KeysAlikeButForTheirMiddleAreToldApart) {
  const auto object = [](const std::vector<std::string>& keys) {
    std::string text = "{";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      text += (i == 0 ? "\"" : ",\"") + keys[i] + "\":" + std::to_string(i);
    }
    return text + "}";
  };
  std::vector<std::string> many;
  // 150: more keys than the decoder first makes room for (64), so its key stack grows twice.
  for (int i = 0; i < 150; ++i) many.push_back("f:ab" + std::to_string(100 + i) + "wxyz");
  std::vector<std::string> many_repeated = many;
  many_repeated.push_back("f:ab107wxyz");
  const std::vector<std::vector<std::string>> taken = {
      {"f:abXcd", "f:abYcd"},
      {"abcd-1-wxyz", "abcd-2-wxyz", "abcd-3-wxyz"},
      {"k:{\\\"name\\\":\\\"A1\\\"}", "k:{\\\"name\\\":\\\"A2\\\"}", "k:{\\\"name\\\":\\\"B1\\\"}",
       "k:{\\\"name\\\":\\\"B2\\\"}", "k:{\\\"name\\\":\\\"C1\\\"}"},
      {"a", "ab", "abc", "", "abcd"},
      many,
  };
  const std::vector<std::vector<std::string>> refused = {
      {"a", "a"},
      {"", ""},
      {"ab", "x", "ab"},
      {"abc", "abcd", "ab", "abc"},
      {"f:abXcd", "f:abYcd", "f:abXcd", "x", "y"},
      many_repeated,
  };
  for (const bool repeated : {false, true}) {
    for (const auto& keys : repeated ? refused : taken) {
      const std::string text = object(keys);
      // Skipped (managedFields), and built (an unread member of oldObject).
      for (const std::string& body :
           {Review("pods", "", "CREATE", Pod(kEnv, "[" + text + "]")),
            Review("pods", "", "UPDATE", Pod(), R"({"x":)" + text + "}")}) {
        AdmissionRequest whole;
        std::string whole_error;
        EXPECT_EQ(whole.Parse(body, &whole_error, Decode::kWhole), !repeated) << text;
        AdmissionRequest judged;
        std::string judged_error;
        EXPECT_EQ(judged.Parse(body, &judged_error), !repeated) << text;
        EXPECT_EQ(judged_error, whole_error) << text;
        if (repeated) {
          EXPECT_NE(whole_error.find("duplicate key"), std::string::npos) << text;
        } else {
          EXPECT_FALSE(judged.whole()) << text;
        }
      }
    }
  }
  // The keys of the objects around one that made the key stack grow are still there to compare.
  const std::string grown = object(many);
  for (const std::string& body :
       {Review("pods", "", "CREATE", Pod(kEnv, R"([{"a":)" + grown + R"(,"b":{},"a":{}}])")),
        Review("pods", "", "UPDATE", Pod(), R"({"x":)" + grown + R"(,"y":1,"x":2})")}) {
    AdmissionRequest whole;
    std::string whole_error;
    EXPECT_FALSE(whole.Parse(body, &whole_error, Decode::kWhole));
    AdmissionRequest judged;
    std::string judged_error;
    EXPECT_FALSE(judged.Parse(body, &judged_error));
    EXPECT_EQ(judged_error, whole_error);
    EXPECT_NE(whole_error.find("duplicate key"), std::string::npos) << whole_error;
  }
}

// The skipped string's check, which takes 64 bytes at a time and finds escaped bytes from runs of
// backslashes, agrees with the string parse on where each string ends, whether it is refused, and
// whether it holds an escape other than \" and \\: over generated strings whose escapes, runs of
// backslashes and surrogate pairs fall across the 16- and 64-byte steps.
TEST(ReviewDecoder, SkippedStringsEndWhereTheStringParseEnds) {
  const std::vector<std::string> pieces = {"\\\"",
                                           "\\\\",
                                           "\\n",
                                           "\\/",
                                           "\\u0041",
                                           "\\u005C",
                                           "\\ud83d\\ude00",
                                           "\\ud83d",
                                           "\\udc00",
                                           "\\u12G4",
                                           "\\ud83d\\u0041",
                                           "\\x",
                                           "\\",
                                           "\"",
                                           "\x01",
                                           "\x7f",
                                           "u",
                                           "d83d",
                                           "\\\\\\\"",
                                           "\\\\\\\\\\\""};
  std::mt19937 random(20261201);
  int refused = 0;
  int other = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    while (text.size() < random() % 200) {
      if (random() % 3 == 0) {
        text += pieces[random() % pieces.size()];
      } else {
        text.append(random() % 70, static_cast<char>('a' + random() % 26));
      }
    }
    if (random() % 4 != 0) text += '"';
    text.append(1 + json_scan::kScanPadding, '\0');

    std::string copy = text;
    char* parsed = copy.data();
    const char* where = nullptr;
    const bool parse_ok =
        json_scan::ScanString<false, false>(parsed, nullptr, &where) == rapidjson::kParseErrorNone;
    bool expect_other = false;
    if (parse_ok) {  // any escape in the string other than \" and \\ (a \u's digits are plain)
      for (const char* c = copy.data(); c + 1 < parsed; ++c) {
        if (*c != '\\') continue;
        if (c[1] != '"' && c[1] != '\\') expect_other = true;
        ++c;
      }
    }
    bool escaped = false;
    const char* skipped = json_scan::SkipAsciiString(text.data(), &escaped);
    ASSERT_EQ(skipped != nullptr, parse_ok) << text;
    if (!parse_ok) {
      ++refused;
      continue;
    }
    ASSERT_EQ(skipped - text.data(), parsed - copy.data()) << text;
    ASSERT_EQ(escaped, expect_other) << text;
    other += expect_other ? 1 : 0;
  }
  // Both outcomes, and both kinds of escaped string, were tried often.
  EXPECT_GT(refused, 2000);
  EXPECT_GT(20000 - refused, 2000);
  EXPECT_GT(other, 500);
}

// Keys of one object made to collide in the duplicate-key table are checked as well, sorted once
// the probes run past their budget. The table hashes a key's length and its first, middle and last
// eight bytes: these 32-byte keys differ only in bytes 8 to 11, so all of them collide.
TEST(ReviewDecoder, KeysMadeToCollideAreCheckedAlike) {
  std::vector<std::string> keys;
  for (int i = 0; i < 48; ++i) {
    char middle[5];
    std::snprintf(middle, sizeof middle, "%04d", i);
    keys.push_back(std::string("f:aaaaaa") + middle + "bbbbbbbbcccccccc" + "dddd");
    EXPECT_EQ(keys.back().size(), 32u);
  }
  std::string fields = "{";
  for (const std::string& key : keys) fields += "\"" + key + "\":{},";
  for (const bool repeat : {false, true}) {
    const std::string object = fields + "\"" + (repeat ? keys[7] : "f:last") + "\":{}}";
    const std::string body =
        Review("pods", "", "CREATE", Pod(kEnv, R"([{"fieldsV1":)" + object + "}]"));
    AdmissionRequest whole;
    std::string whole_error;
    AdmissionRequest judged;
    std::string judged_error;
    EXPECT_EQ(whole.Parse(body, &whole_error, Decode::kWhole), !repeat);
    EXPECT_EQ(judged.Parse(body, &judged_error), !repeat);
    EXPECT_EQ(judged_error, whole_error);
    if (!repeat) {
      EXPECT_FALSE(judged.whole());
    }
  }
}

// Fractions, exponents and integers beyond 64 bits are left to the whole decode, which reads them
// as RapidJSON does; plain integers are classified alike by both.
TEST(ReviewDecoder, NumbersAreReadAsTheWholeDecodeReadsThem) {
  const auto set = Restricted();
  // (number, taken by the fast decoder where it is read): up to 19 digits, within 64 bits.
  const std::vector<std::pair<std::string, bool>> numbers = {
      {"0", true},
      {"-0", true},
      {"1000", true},
      {"-1", true},
      {"2147483648", true},
      {"-2147483649", true},
      {"9223372036854775808", true},
      {"-9223372036854775808", true},
      {"-9223372036854775809", false},
      {"18446744073709551615", false},
      {"123456789012345678901", false},
      {"30.5", false},
      {"1e3", false},
      {"-1E-2", false},
  };
  for (const auto& [number, fast] : numbers) {
    for (const bool skipped : {true, false}) {
      const std::string pod =
          skipped ? Pod(R"([{"name":"N","value":)" + number + "}]")
                  : Json(
                        "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app','image':"
                        "'nginx','securityContext':{'runAsUser':" +
                        number + "}}]}}");
      const std::string body = Review("pods", "", "CREATE", pod);
      ExpectAnsweredAlike(body, *set);
      AdmissionRequest judged;
      std::string error;
      ASSERT_TRUE(judged.Parse(body, &error)) << error;
      if (!skipped) {
        EXPECT_EQ(judged.whole(), !fast) << number;
      }
      if (!skipped) {
        AdmissionRequest whole;
        ASSERT_TRUE(whole.Parse(body, &error, Decode::kWhole));
        const auto& a = judged.document()["request"]["object"]["spec"]["containers"][0];
        const auto& b = whole.document()["request"]["object"]["spec"]["containers"][0];
        EXPECT_TRUE(a == b) << number;
        EXPECT_EQ(a["securityContext"]["runAsUser"].IsInt64(),
                  b["securityContext"]["runAsUser"].IsInt64())
            << number;
      }
    }
  }
}

// An UPDATE whose template changed only in a skipped part (a container's env) is still judged:
// the templates are compared with the skipped parts' text.
TEST(ReviewDecoder, AWorkloadChangedOnlyWhereSkippedIsJudged) {
  const auto set = Restricted();
  auto deployment = [](const std::string& env, const std::string& managed_fields) {
    return R"({"metadata":{"name":"web","managedFields":)" + managed_fields +
           R"(},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"app",)"
           R"("image":"nginx","env":)" +
           env + R"(,"securityContext":{"privileged":true}}]}}},"status":{"replicas":1}})";
  };
  const std::string before = deployment(kEnv, kManagedFields);
  const std::string env_changed = deployment(R"([{"name":"A","value":"2"}])", kManagedFields);
  const std::string metadata_changed = deployment(kEnv, "[]");

  const std::string judged_body = Review("deployments", "apps", "UPDATE", env_changed, before);
  const AdmissionResult judged = policy::Review(Endpoint::kValidate, judged_body, *set, {});
  EXPECT_EQ(judged.decision, "denied") << judged.body;
  ExpectAnsweredAlike(judged_body, *set);

  // Outside the template (managedFields) or nothing: not judged, as with the whole decode.
  for (const std::string& object : {metadata_changed, before}) {
    const std::string body = Review("deployments", "apps", "UPDATE", object, before);
    EXPECT_EQ(policy::Review(Endpoint::kValidate, body, *set, {}).decision, "allowed");
    ExpectAnsweredAlike(body, *set);
  }
}

// A skipped annotation that is not a string is kept for the reader, which reports its type.
TEST(ReviewDecoder, ALastAppliedAnnotationOfTheWrongTypeIsReported) {
  const auto set = Restricted();
  const std::string body = Review("pods", "", "CREATE", Pod(kEnv, kManagedFields, "5"));
  const AdmissionResult result = policy::Review(Endpoint::kValidate, body, *set, {});
  EXPECT_EQ(result.decision, "denied");
  EXPECT_NE(result.body.find("must be a string"), std::string::npos) << result.body;
  ExpectAnsweredAlike(body, *set);
}

// Strings the judge reads are scanned 16 bytes at a time: an escape, a byte above 0x7F or an
// invalid one past the first 16 bytes is read (or refused) as the whole decode reads it.
TEST(ReviewDecoder, ReadStringsPastSixteenBytesAreReadAlike) {
  const auto set = Restricted();
  for (const std::string value :
       {"0123456789abcdef\xc3\xa9-0123456789abcdef", "0123456789abcdef\\u00e9\\\"x",
        "0123456789abcdef0123456789abcdef\\n", "0123456789abcdef0123456789abcde\xf0\x9f\x98\x80"}) {
    const std::string pod = R"({"metadata":{"name":"p","annotations":{"note":")" + value +
                            R"("}},"spec":{"containers":[{"name":"app","image":"nginx"}]}})";
    AdmissionRequest judged;
    std::string error;
    ASSERT_TRUE(judged.Parse(Review("pods", "", "CREATE", pod), &error)) << error;
    EXPECT_FALSE(judged.whole()) << value;
    ExpectAnsweredAlike(Review("pods", "", "CREATE", pod), *set);
  }
  for (const std::string value : {"0123456789abcdef\xff", "0123456789abcdef0123\xc0\xaf",
                                  "0123456789abcdef\x01", "0123456789abcdef\\x"}) {
    const std::string body =
        Review("pods", "", "CREATE",
               R"({"metadata":{"name":"p","annotations":{"note":")" + value +
                   R"("}},"spec":{"containers":[{"name":"app","image":"nginx"}]}})");
    AdmissionRequest whole;
    std::string whole_error;
    ASSERT_FALSE(whole.Parse(body, &whole_error, Decode::kWhole)) << value;
    AdmissionRequest judged;
    std::string judged_error;
    EXPECT_FALSE(judged.Parse(body, &judged_error)) << value;
    EXPECT_EQ(judged_error, whole_error);
  }
}

// The shared realistic review (managedFields, env) is taken by the fast decoder and answered as
// after the whole decode.
TEST(ReviewDecoder, TheRealisticReviewIsAnsweredAlike) {
  std::ifstream file(std::string(PALISADE_SHARED_DIR) + "/testdata/review_realistic.json");
  std::stringstream text;
  text << file.rdbuf();
  ASSERT_FALSE(text.str().empty());
  AdmissionRequest judged;
  std::string error;
  ASSERT_TRUE(judged.Parse(text.str(), &error)) << error;
  EXPECT_FALSE(judged.whole());
  ExpectAnsweredAlike(text.str(), *Restricted());
}

// `count` items, comma-separated.
std::string Repeated(const std::string& item, std::size_t count) {
  std::string out;
  out.reserve(count * (item.size() + 1));
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    out += item;
  }
  return out;
}

// A pod whose first container adds `count` capabilities (each an element the judge reads), with
// `skipped` more elements in its env (skipped: checked, kept as text, not built).
std::string PodWithCapabilities(std::size_t count, std::size_t skipped = 0) {
  return R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"app","env":[)" +
         Repeated("[]", skipped) + R"(],"securityContext":{"capabilities":{"add":[)" +
         Repeated(R"("")", count) + "]}}}]}}";
}

// Members and elements a review of PodWithCapabilities(0) builds besides the capabilities: 30 in
// the judged decode (the review 3, its request 10, kind 3, resource 3, userInfo 1, the object 2,
// metadata 1, spec 1, the container list 1, the container 3, its securityContext 1, capabilities
// 1), and 5 more in the whole one (requestKind's 3 and options' 2, which the judged one skips).
std::size_t AroundCapabilities(Decode decode) { return decode == Decode::kJudged ? 30 : 35; }

TEST(ReviewDecoder, AReviewBuildingMoreThanTheCapIsRefusedAs413ByEitherDecode) {
  std::string over;
  for (const Decode decode : {Decode::kJudged, Decode::kWhole}) {
    const std::size_t around = AroundCapabilities(decode);
    const std::string at_cap =
        Review("pods", "", "CREATE", PodWithCapabilities(kMaxReviewValues - around));
    over = Review("pods", "", "CREATE", PodWithCapabilities(kMaxReviewValues - around + 1));
    AdmissionRequest taken;
    std::string error;
    EXPECT_TRUE(taken.Parse(at_cap, &error, decode)) << error;
    EXPECT_FALSE(taken.too_large());
    AdmissionRequest refused;
    EXPECT_FALSE(refused.Parse(over, &error, decode));
    EXPECT_TRUE(refused.too_large());
    EXPECT_EQ(error,
              "review too large to judge: more than 500000 JSON values (object members and array "
              "elements) in the parts Palisade reads");
  }
  // Answered (after the judged decode) as content too large.
  over = Review("pods", "", "CREATE",
                PodWithCapabilities(kMaxReviewValues - AroundCapabilities(Decode::kJudged) + 1));
  const AdmissionResult result = policy::Review(Endpoint::kValidate, over, *Restricted(), {});
  EXPECT_EQ(result.http_status, 413);
  EXPECT_EQ(result.decision, "error");
  // A malformed text after the point of refusal does not change the answer: it stops there.
  std::string cut = over;
  cut.pop_back();
  EXPECT_EQ(policy::Review(Endpoint::kMutate, cut, *Restricted(), {}).http_status, 413);
}

TEST(ReviewDecoder, SkippedValuesAreNotBuiltSoTheyDoNotCountTowardTheCap) {
  // 600,000 elements in a container's env: checked, kept as text, not built.
  const std::string body =
      Review("pods", "", "CREATE", PodWithCapabilities(1, kMaxReviewValues + 100'000));
  AdmissionRequest judged;
  std::string error;
  EXPECT_TRUE(judged.Parse(body, &error)) << error;
  EXPECT_FALSE(judged.whole());
  // The whole decode builds them, and refuses.
  AdmissionRequest whole;
  EXPECT_FALSE(whole.Parse(body, &error, Decode::kWhole));
  EXPECT_TRUE(whole.too_large());
  // The judged one is answered: the capability fails restricted.
  const AdmissionResult result = policy::Review(Endpoint::kValidate, body, *Restricted(), {});
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.decision, "denied");
}

// A pod of more containers than Palisade judges is denied with the count, and left unpatched.
TEST(ReviewDecoder, APodOfMoreContainersThanJudgedIsDeniedAndNotPatched) {
  const auto pod = [](std::size_t init, std::size_t regular) {
    return R"({"metadata":{"name":"p"},"spec":{"initContainers":[)" +
           Repeated(R"({"name":"i"})", init) + R"(],"containers":[)" +
           Repeated(R"({"name":"c"})", regular) + "]}}";
  };
  const std::string at_cap = Review("pods", "", "CREATE", pod(10, kMaxPodContainers - 10));
  const std::string over = Review("pods", "", "CREATE", pod(11, kMaxPodContainers - 10));
  const std::shared_ptr<const PolicySet> policies = Restricted();
  const PolicySet& set = *policies;

  const AdmissionResult judged = policy::Review(Endpoint::kValidate, at_cap, set, {});
  ASSERT_EQ(judged.http_status, 200);
  EXPECT_NE(judged.body.find("runAsNonRoot != true"), std::string::npos)
      << judged.body.substr(0, 400);
  const AdmissionResult patched = policy::Review(Endpoint::kMutate, at_cap, set, {});
  EXPECT_GT(patched.patch_ops, 0);  // the default runAsNonRoot

  const AdmissionResult denied = policy::Review(Endpoint::kValidate, over, set, {});
  ASSERT_EQ(denied.http_status, 200);
  EXPECT_EQ(denied.decision, "denied");
  EXPECT_NE(
      denied.body.find("spec: has 50001 containers (initContainers, containers and "
                       "ephemeralContainers together); Palisade judges pods of at most 50000"),
      std::string::npos)
      << denied.body.substr(0, 600);
  const AdmissionResult unpatched = policy::Review(Endpoint::kMutate, over, set, {});
  EXPECT_EQ(unpatched.http_status, 200);
  EXPECT_EQ(unpatched.patch_ops, 0);
  EXPECT_EQ(unpatched.body.find("\"patch\""), std::string::npos);
}

}  // namespace
}  // namespace palisade::policy
