// Review(): AdmissionReview bytes in, response bytes out. Whole messages compared.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "policy/admission.h"
#include "tests/mutation/mutation_support.h"

namespace palisade::policy {
namespace {

using testing_support::Json;

LevelVersion Restricted() { return LevelVersion{Level::kRestricted, Version::Latest(), true}; }
LevelVersion Baseline() { return LevelVersion{Level::kBaseline, Version::Latest(), true}; }

NamespacePolicy Payments() {
  NamespacePolicy policy;
  policy.name = "payments";
  policy.namespaces = {"payments"};
  policy.revision = "4c1e9a";
  policy.Set<&PolicyValues::enforce>(Restricted());
  policy.Set<&PolicyValues::exempt_usernames>(
      std::vector<std::string>{"system:serviceaccount:ci:break-glass"});
  policy.Set<&PolicyValues::exempt_runtime_classes>(std::vector<std::string>{"kata"});
  policy.Set<&PolicyValues::exempt_images>(
      std::vector<std::string>{"registry.example.com/debug/*"});
  return policy;
}

struct Fixture {
  std::shared_ptr<const PolicySet> set;
  explicit Fixture(std::vector<NamespacePolicy> policies) {
    std::vector<PolicyError> errors;
    set = PolicySet::Build(std::move(policies), &errors);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors[0].ToString());
  }
};

struct Request {
  std::string api_version = "admission.k8s.io/v1";
  std::string operation = "CREATE";
  std::string group = "";
  std::string resource = "pods";
  std::string sub_resource = "";
  std::string namespace_name = "payments";
  std::string username = "alice";
  std::string object = "null";
  std::string old_object = "null";

  std::string Body() const {
    return "{\"apiVersion\":\"" + api_version +
           "\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u-1\",\"kind\":{\"group\":\"" +
           group + "\",\"version\":\"v1\",\"kind\":\"X\"},\"resource\":{\"group\":\"" + group +
           "\",\"version\":\"v1\",\"resource\":\"" + resource + "\"}," +
           (sub_resource.empty() ? "" : "\"subResource\":\"" + sub_resource + "\",") +
           "\"namespace\":\"" + namespace_name + "\",\"operation\":\"" + operation +
           "\",\"userInfo\":{\"username\":\"" + username + "\"},\"object\":" + Json(object) +
           ",\"oldObject\":" + Json(old_object) + "}}";
  }
};

struct Answer {
  AdmissionResult result;
  rapidjson::Document body;
  const rapidjson::Value& response() const { return body["response"]; }
  bool allowed() const { return response()["allowed"].GetBool(); }
  std::string message() const {
    return response().HasMember("status") ? response()["status"]["message"].GetString() : "";
  }
  std::vector<std::string> warnings() const {
    std::vector<std::string> out;
    if (!response().HasMember("warnings")) return out;
    for (const auto& w : response()["warnings"].GetArray()) out.emplace_back(w.GetString());
    return out;
  }
  std::string annotation(const char* key) const {
    if (!response().HasMember("auditAnnotations")) return "";
    const auto& a = response()["auditAnnotations"];
    return a.HasMember(key) ? a[key].GetString() : "";
  }
};

Answer Call(Endpoint endpoint, const std::string& body, const PolicySet& set, int minor = 31,
            std::optional<Day> today = std::nullopt) {
  Answer answer;
  AdmissionConfig config;
  config.kubernetes_minor = minor;
  config.today = today;
  answer.result = Review(endpoint, body, set, config);
  EXPECT_EQ(answer.result.http_status, 200) << answer.result.body;
  answer.body.Parse(answer.result.body);
  EXPECT_TRUE(answer.body.IsObject()) << answer.result.body;
  return answer;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  int bits = 0, value = 0;
  for (char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z')
      d = c - 'A';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      d = c - '0' + 52;
    else if (c == '+')
      d = 62;
    else if (c == '/')
      d = 63;
    else
      break;
    value = (value << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xFF);
    }
  }
  return out;
}

// Fails allowPrivilegeEscalation and capabilities_restricted only.
const std::string kBadPod =
    "{'metadata':{'name':'p'},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{"
    "'type':'RuntimeDefault'}},'containers':[{'name':'app','image':'nginx'}]}}";
const std::string kGoodPod =
    "{'metadata':{'name':'p'},'spec':{'securityContext':{'runAsNonRoot':true,'seccompProfile':{"
    "'type':'RuntimeDefault'}},'containers':[{'name':'app','image':'nginx','securityContext':{"
    "'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL']}}}]}}";
const std::string kBadDetails =
    "allowPrivilegeEscalation != false (container \"app\" must set "
    "securityContext.allowPrivilegeEscalation=false); unrestricted capabilities (container \"app\" "
    "must set securityContext.capabilities.drop=[\"ALL\"])";

TEST(Review, DeniesWithExactMessageAndEchoesUidAndVersion) {
  Fixture f({Payments()});
  for (const char* version : {"admission.k8s.io/v1", "admission.k8s.io/v1beta1"}) {
    Request r;
    r.api_version = version;
    r.object = kBadPod;
    Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
    EXPECT_EQ(std::string(a.body["apiVersion"].GetString()), version);
    EXPECT_EQ(std::string(a.body["kind"].GetString()), "AdmissionReview");
    EXPECT_EQ(std::string(a.response()["uid"].GetString()), "u-1");
    EXPECT_FALSE(a.allowed());
    EXPECT_EQ(a.response()["status"]["code"].GetInt(), 403);
    EXPECT_EQ(std::string(a.response()["status"]["reason"].GetString()), "Forbidden");
    EXPECT_EQ(a.message(),
              "violates PodSecurity \"restricted:v1.37\" (policy \"payments\" rev 4c1e9a): " +
                  kBadDetails);
    EXPECT_FALSE(a.response().HasMember("patch"));
    EXPECT_EQ(a.result.decision, "denied");
    EXPECT_EQ(a.result.policy, "payments");
    EXPECT_EQ(a.result.checks,
              (std::vector<std::string>{"allowPrivilegeEscalation", "capabilities_restricted"}));
  }
  Request good;
  good.object = kGoodPod;
  Answer a = Call(Endpoint::kValidate, good.Body(), *f.set);
  EXPECT_TRUE(a.allowed());
  EXPECT_EQ(a.result.body,
            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{"
            "\"uid\":\"u-1\",\"allowed\":true}}");
}

// The API server's `?timeout=` is asked between decoding and judging: a review whose deadline
// has passed is not judged (504), on both endpoints; one still in time is.
TEST(Review, DeadlinePassedBeforeJudgingStopsThere) {
  Fixture f({Payments()});
  Request r;
  r.object = kBadPod;
  int asked = 0;
  const std::function<bool()> passed = [&] {
    ++asked;
    return true;
  };
  for (Endpoint endpoint : {Endpoint::kValidate, Endpoint::kMutate}) {
    const AdmissionResult result = Review(endpoint, r.Body(), *f.set, {}, &passed);
    EXPECT_EQ(result.http_status, 504);
    EXPECT_EQ(result.body, "the request's timeout passed before it was judged");
    EXPECT_TRUE(result.checks.empty());
    EXPECT_EQ(result.patch_ops, 0);
  }
  EXPECT_EQ(asked, 2);
  const std::function<bool()> in_time = [] { return false; };
  const AdmissionResult judged = Review(Endpoint::kValidate, r.Body(), *f.set, {}, &in_time);
  EXPECT_EQ(judged.http_status, 200);
  EXPECT_EQ(judged.decision, "denied");
  // Malformed input is still a 400, whatever the deadline.
  EXPECT_EQ(Review(Endpoint::kValidate, "{", *f.set, {}, &passed).http_status, 400);
}

TEST(Review, BadRequestsGet400) {
  Fixture f({Payments()});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"apiVersion\":", "malformed JSON: Invalid value. (at offset 14)"},
      {"[1]", "not an AdmissionReview: the body is not a JSON object"},
      {"{\"apiVersion\":\"v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\"}}",
       "not an AdmissionReview: apiVersion must be admission.k8s.io/v1 or "
       "admission.k8s.io/v1beta1"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\",\"request\":{\"uid\":\"x\"}}",
       "not an AdmissionReview: kind must be AdmissionReview"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
       "not an AdmissionReview: request is missing or not an object"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
       "not an AdmissionReview: request.uid is missing or not a string"},
      {"{} x",
       "malformed JSON: The document root must not be followed by other values. (at offset 3)"},
  };
  for (const auto& [body, reason] : cases) {
    for (Endpoint e : {Endpoint::kValidate, Endpoint::kMutate}) {
      const AdmissionResult result = Review(e, body, *f.set, {});
      EXPECT_EQ(result.http_status, 400) << body;
      EXPECT_EQ(result.body, reason);
      EXPECT_EQ(result.decision, "error");
    }
  }
  const std::string deep(100000, '[');
  const AdmissionResult result = Review(Endpoint::kValidate, deep, *f.set, {});
  EXPECT_EQ(result.http_status, 400);
  EXPECT_EQ(result.body.rfind("malformed JSON: ", 0), 0u) << result.body;
}

// The parser is recursive with a nesting limit: deep objects are judged up to the limit and a
// 400 past it (a workload UPDATE compares templates recursively, so depth must stay bounded).
TEST(Review, NestingLimitAndEmbeddedNul) {
  Fixture f({Payments()});
  auto nested = [](int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); };
  Request d;
  d.group = "apps";
  d.resource = "deployments";
  d.operation = "UPDATE";
  // 500 levels of the template's own, inside 7 of the review's: allowed, nothing changed.
  d.object = d.old_object =
      "{'metadata':{'name':'web'},'spec':{'template':{'spec':{'containers':[]},'deep':" +
      nested(500) + "}}}";
  EXPECT_TRUE(Call(Endpoint::kValidate, d.Body(), *f.set).allowed());

  d.object = d.old_object =
      "{'metadata':{'name':'web'},'spec':{'template':{'spec':{'containers':[]},'deep':" +
      nested(600) + "}}}";
  const std::string deep_body = d.Body();
  // The 513th level is the 508th '[' (review, request, object, spec and template come first); the
  // offset is just past it.
  const std::size_t offset = deep_body.find("\"deep\":") + 7 + 508;
  for (Endpoint e : {Endpoint::kValidate, Endpoint::kMutate}) {
    const AdmissionResult result = Review(e, deep_body, *f.set, {});
    EXPECT_EQ(result.http_status, 400);
    EXPECT_EQ(result.body, "malformed JSON: nesting deeper than 512 levels (at offset " +
                               std::to_string(offset) + ")");
  }

  // In situ parsing stops at a NUL byte; what follows must not be ignored.
  Request r;
  r.object = kGoodPod;
  std::string with_nul = r.Body();
  const std::size_t size = with_nul.size();
  with_nul += std::string("\0{}", 3);
  const AdmissionResult result = Review(Endpoint::kValidate, with_nul, *f.set, {});
  EXPECT_EQ(result.http_status, 400);
  EXPECT_EQ(result.body,
            "malformed JSON: The document root must not be followed by other values. (at offset " +
                std::to_string(size) + ")");
}

// Go keeps the last of duplicate keys, so `privileged:false,privileged:true` is privileged to the
// cluster; invalid UTF-8 could not be echoed back as JSON. Both are refused before judging.
TEST(Review, DuplicateKeysAndInvalidUtf8Refused) {
  Fixture f({Payments()});
  Request r;
  // Two and three keys are compared apart from larger objects: each pair of them.
  for (const std::string security_context :
       {"'privileged':false,'privileged':true",
        "'privileged':false,'runAsUser':1,'privileged':true",
        "'runAsUser':1,'privileged':false,'privileged':true",
        "'privileged':false,'privileged':true,'runAsUser':1"}) {
    r.object =
        "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app','image':'nginx',"
        "'securityContext':{" +
        security_context + "}}]}}";
    for (Endpoint e : {Endpoint::kValidate, Endpoint::kMutate}) {
      const AdmissionResult result = Review(e, r.Body(), *f.set, {});
      EXPECT_EQ(result.http_status, 400) << security_context;
      EXPECT_EQ(result.body, "malformed JSON: duplicate key \"privileged\"");
    }
  }

  // An object too big for the pairwise comparison takes the hashed path.
  std::string labels;
  for (int i = 0; i < 40; ++i) labels += "'l" + std::to_string(i) + "':'v',";
  r.object = "{'metadata':{'name':'p','labels':{" + labels +
             "'l7':'again'}},'spec':{'containers':[{'name':'app','image':'nginx'}]}}";
  const AdmissionResult labelled = Review(Endpoint::kValidate, r.Body(), *f.set, {});
  EXPECT_EQ(labelled.http_status, 400);
  EXPECT_EQ(labelled.body, "malformed JSON: duplicate key \"l7\"");

  Request bad_utf8;
  bad_utf8.object = kGoodPod;
  std::string body = bad_utf8.Body();
  const std::size_t at = body.find("\"app\"") + 1;
  body.replace(at, 3, "\xff\xfe\xc3");
  const AdmissionResult invalid = Review(Endpoint::kValidate, body, *f.set, {});
  EXPECT_EQ(invalid.http_status, 400);
  EXPECT_EQ(invalid.body,
            "malformed JSON: Invalid encoding in string. (at offset " + std::to_string(at) + ")");

  // Multi-byte sequences cut off by the end of the body, or by the quote that closes the string
  // (found by http_fuzzer: the validating parser read past the buffer; ASan in CI catches a
  // regression).
  for (const char* tail :
       {"\xc3", "\xe2\x82", "\xf0", "\xf0\x9f\x98", "\xf4\xf4\xf4\xf4\xf4\"}", "\xf4\xf4\"}"}) {
    const std::string cut = std::string(R"({"apiVersion":")") + tail;
    const AdmissionResult truncated = Review(Endpoint::kValidate, cut, *f.set, {});
    EXPECT_EQ(truncated.http_status, 400) << truncated.body;
    EXPECT_EQ(truncated.body.rfind("malformed JSON: ", 0), 0u) << truncated.body;
  }
}

// Strings are decoded in place by Palisade's own scan: escapes come out as RapidJSON decodes them,
// errors carry RapidJSON's reasons and offsets (at the backslash of a bad escape), and an escaped
// lone surrogate, which would decode to invalid UTF-8, is refused.
TEST(Review, EscapesDecodedAndBadEscapesRefusedWhereTheyBegin) {
  Fixture f({Payments()});
  Request r;
  r.object = kGoodPod;
  r.username = R"(a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z)";
  const AdmissionResult decoded = Review(Endpoint::kValidate, r.Body(), *f.set, {});
  EXPECT_EQ(decoded.http_status, 200) << decoded.body;
  EXPECT_EQ(decoded.user, "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80z");

  // Runs longer than one 16-byte block, with escapes moving the rest of the string back.
  r.username = std::string(40, 'x') + R"(\n)" + std::string(37, 'y') + R"(\u0041)";
  EXPECT_EQ(Review(Endpoint::kValidate, r.Body(), *f.set, {}).user,
            std::string(40, 'x') + "\n" + std::string(37, 'y') + "A");

  // Raw UTF-8 is taken as it is; invalid UTF-8 is refused where its sequence begins.
  r.username = "caf\xc3\xa9";
  EXPECT_EQ(Review(Endpoint::kValidate, r.Body(), *f.set, {}).user, "caf\xc3\xa9");

  const struct {
    std::string username;
    std::string reason;
  } cases[] = {
      {R"(ab\udc00)", "The surrogate pair in string is invalid."},
      {R"(ab\ud800x)", "The surrogate pair in string is invalid."},
      {R"(ab\ud800\u0041)", "The surrogate pair in string is invalid."},
      {R"(ab\u12g4)", "Incorrect hex digit after \\u escape in string."},
      {R"(ab\ud800\u12g4)", "Incorrect hex digit after \\u escape in string."},
      {R"(ab\x)", "Invalid escape character in string."},
      {"ab\x01", "Invalid escape character in string."},
      {"ab\xed\xa0\x80", "Invalid encoding in string."},      // a surrogate in raw UTF-8
      {"ab\xc0\xaf", "Invalid encoding in string."},          // an overlong '/'
      {"ab\xf4\x90\x80\x80", "Invalid encoding in string."},  // above U+10FFFF
  };
  for (const auto& c : cases) {
    r.username = c.username;
    const std::string body = r.Body();
    const std::size_t at = body.find("\"ab") + 3;
    const AdmissionResult refused = Review(Endpoint::kValidate, body, *f.set, {});
    EXPECT_EQ(refused.http_status, 400) << c.username;
    EXPECT_EQ(refused.body,
              "malformed JSON: " + c.reason + " (at offset " + std::to_string(at) + ")")
        << c.username;
  }
}

TEST(Review, DeleteConnectSubresourcesAndUnknownResourcesAllowed) {
  Fixture f({Payments()});
  for (const char* op : {"DELETE", "CONNECT"}) {
    Request r;
    r.operation = op;
    r.object = kBadPod;
    EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed()) << op;
  }
  Request status;
  status.operation = "UPDATE";
  status.sub_resource = "status";
  status.object = kBadPod;
  EXPECT_TRUE(Call(Endpoint::kValidate, status.Body(), *f.set).allowed());
  Request crd;
  crd.group = "example.com";
  crd.resource = "deployments";
  crd.object = "{'spec':{'template':" + kBadPod + "}}";
  EXPECT_TRUE(Call(Endpoint::kValidate, crd.Body(), *f.set).allowed());
}

TEST(Review, PodUpdatesJudgedOnlyWhenSignificant) {
  Fixture f({Payments()});
  Request r;
  r.operation = "UPDATE";
  r.object = kBadPod;
  r.old_object = kBadPod;
  EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());  // metadata-only
  std::string old_pod = kBadPod;
  old_pod.replace(old_pod.find("nginx"), 5, "nginx:1");
  r.old_object = old_pod;
  EXPECT_FALSE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());  // image changed
}

// As PSA's loop, a new ephemeral container is compared with the first old one of its name.
TEST(Review, EphemeralContainersComparedWithTheFirstOfTheirName) {
  Fixture f({Payments()});
  auto with = [](const std::string& ephemeral) {
    std::string pod = kGoodPod;
    pod.insert(pod.size() - 2, ",'ephemeralContainers':[" + ephemeral + "]");
    return pod;
  };
  Request r;
  r.operation = "UPDATE";
  r.old_object = with("{'name':'dbg','image':'busybox'},{'name':'dbg','image':'alpine'}");
  r.object = with("{'name':'dbg','image':'busybox'}");
  EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());
  r.object = with("{'name':'dbg','image':'alpine'}");
  EXPECT_FALSE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());
  r.object = with("{'name':'other','image':'busybox'}");
  EXPECT_FALSE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());
}

// As PSA: the pod's and each container's seccomp annotations count, other metadata does not.
TEST(Review, PodUpdatesChangingSeccompAnnotationsAreJudged) {
  Fixture f({Payments()});
  auto annotated = [](const std::string& annotations) {
    std::string pod = kBadPod;
    pod.replace(pod.find("'name':'p'"), 10, "'name':'p','annotations':{" + annotations + "}");
    return pod;
  };
  Request r;
  r.operation = "UPDATE";
  r.old_object = annotated("'team':'a'");
  r.object = annotated("'team':'b'");
  EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed()) << "other annotations";
  r.object = annotated("'team':'a','container.seccomp.security.alpha.kubernetes.io/other':'x'");
  EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed()) << "no such container";
  for (const char* changed :
       {"'seccomp.security.alpha.kubernetes.io/pod':'unconfined'",
        "'container.seccomp.security.alpha.kubernetes.io/app':'unconfined'"}) {
    r.object = annotated(std::string("'team':'a',") + changed);
    EXPECT_FALSE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed()) << changed;
    // Removed is a change too ("" against the old value).
    Request back = r;
    std::swap(back.object, back.old_object);
    EXPECT_FALSE(Call(Endpoint::kValidate, back.Body(), *f.set).allowed()) << changed;
  }
  // Ephemeral containers: looked up by name, their annotation compared likewise.
  std::string old_pod = kGoodPod;
  old_pod.insert(old_pod.size() - 2, ",'ephemeralContainers':[{'name':'dbg','image':'busybox'}]");
  std::string pod = old_pod;
  pod.replace(pod.find("'name':'p'"), 10,
              "'name':'p','annotations':{'container.seccomp.security.alpha.kubernetes.io/dbg':'"
              "unconfined'}");
  Request e;
  e.operation = "UPDATE";
  e.object = old_pod;
  e.old_object = old_pod;
  EXPECT_TRUE(Call(Endpoint::kValidate, e.Body(), *f.set).allowed());
  e.object = pod;
  EXPECT_FALSE(Call(Endpoint::kValidate, e.Body(), *f.set).allowed());
  // Annotations that are not a map of strings are judged, and the reader names them.
  r.object =
      "{'metadata':{'name':'p','annotations':{'a':1}},'spec':{'containers':[{'name':'app',"
      "'image':'nginx'}]}}";
  r.old_object = r.object;
  EXPECT_FALSE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());
}

TEST(Review, EphemeralContainersSubresourceJudgedAndPatched) {
  Fixture f({Payments()});
  Request r;
  r.operation = "UPDATE";
  r.sub_resource = "ephemeralcontainers";
  r.old_object = kGoodPod;
  std::string pod = kGoodPod;
  pod.insert(pod.size() - 2, ",'ephemeralContainers':[{'name':'dbg','image':'busybox'}]");
  r.object = pod;
  Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
  EXPECT_EQ(a.message(),
            "violates PodSecurity \"restricted:v1.37\" (policy \"payments\" rev 4c1e9a): "
            "allowPrivilegeEscalation != false (container \"dbg\" must set "
            "securityContext.allowPrivilegeEscalation=false); unrestricted capabilities "
            "(container \"dbg\" must set securityContext.capabilities.drop=[\"ALL\"])");

  NamespacePolicy with_defaults = Payments();
  with_defaults.Set<&PolicyValues::default_allow_privilege_escalation>(false);
  with_defaults.Set<&PolicyValues::default_capabilities_drop>(std::vector<std::string>{"ALL"});
  Fixture g({with_defaults});
  Answer m = Call(Endpoint::kMutate, r.Body(), *g.set);
  EXPECT_TRUE(m.allowed());
  EXPECT_EQ(std::string(m.response()["patchType"].GetString()), "JSONPatch");
  EXPECT_EQ(Base64Decode(m.response()["patch"].GetString()),
            Json("[{'op':'add','path':'/spec/ephemeralContainers/0/securityContext','value':{"
                 "'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL']}}}]"));
  EXPECT_EQ(m.annotation("defaulted"), "allowPrivilegeEscalation,capabilities.drop");
  EXPECT_EQ(m.result.patch_ops, 1);
}

struct WorkloadCase {
  std::string group, resource, kind_word, object;
};

TEST(Review, EveryWorkloadKindJudgesItsTemplate) {
  Fixture f({Payments()});
  const std::string tmpl = "{'metadata':{},'spec':" + kBadPod.substr(kBadPod.find("'spec':") + 7);
  const std::vector<WorkloadCase> cases = {
      {"apps", "deployments", "deployment",
       "{'metadata':{'name':'web'},'spec':{'template':" + tmpl + "}}"},
      {"apps", "replicasets", "replicaset",
       "{'metadata':{'name':'web'},'spec':{'template':" + tmpl + "}}"},
      {"apps", "statefulsets", "statefulset",
       "{'metadata':{'name':'web'},'spec':{'template':" + tmpl + "}}"},
      {"apps", "daemonsets", "daemonset",
       "{'metadata':{'name':'web'},'spec':{'template':" + tmpl + "}}"},
      {"batch", "jobs", "job", "{'metadata':{'name':'web'},'spec':{'template':" + tmpl + "}}"},
      {"batch", "cronjobs", "cronjob",
       "{'metadata':{'name':'web'},'spec':{'jobTemplate':{'spec':{'template':" + tmpl + "}}}}"},
      {"", "replicationcontrollers", "replicationcontroller",
       "{'metadata':{'name':'web'},'spec':{'template':" + tmpl + "}}"},
      {"", "podtemplates", "podtemplate", "{'metadata':{'name':'web'},'template':" + tmpl + "}"},
  };
  for (const WorkloadCase& c : cases) {
    Request r;
    r.group = c.group;
    r.resource = c.resource;
    r.object = c.object;
    Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
    EXPECT_EQ(a.message(), c.kind_word +
                               " \"web\" would create pods that violate PodSecurity "
                               "\"restricted:v1.37\" (policy \"payments\" rev 4c1e9a): " +
                               kBadDetails);
    // Unchanged template on UPDATE: not judged. /mutate never patches workloads.
    r.operation = "UPDATE";
    r.old_object = c.object;
    EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed()) << c.resource;
    EXPECT_FALSE(Call(Endpoint::kMutate, r.Body(), *f.set).response().HasMember("patch"));
  }
}

TEST(Review, WorkloadThatDefaultsWouldFixIsAllowed) {
  NamespacePolicy policy = Payments();
  policy.Set<&PolicyValues::default_allow_privilege_escalation>(false);
  policy.Set<&PolicyValues::default_capabilities_drop>(std::vector<std::string>{"ALL"});
  Fixture f({policy});
  Request r;
  r.group = "apps";
  r.resource = "deployments";
  r.object = "{'metadata':{'name':'web'},'spec':{'template':" + kBadPod + "}}";
  EXPECT_TRUE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());
}

TEST(Review, WorkloadsWarnTurnsDenialIntoWarnings) {
  NamespacePolicy policy = Payments();
  policy.Set<&PolicyValues::workloads>(WorkloadMode::kWarn);
  Fixture f({policy});
  Request r;
  r.group = "apps";
  r.resource = "deployments";
  r.object = "{'metadata':{'name':'web'},'spec':{'template':" + kBadPod + "}}";
  Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
  EXPECT_TRUE(a.allowed());
  // One warning per level, the checks joined as PSA joins them (", ").
  EXPECT_EQ(a.warnings(),
            (std::vector<std::string>{
                "would violate PodSecurity \"restricted:v1.37\" (policy \"payments\" rev 4c1e9a): "
                "allowPrivilegeEscalation != false (container \"app\" must set "
                "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
                "(container \"app\" must set securityContext.capabilities.drop=[\"ALL\"])"}));
  // Pods in the same namespace are still denied.
  Request pod;
  pod.object = kBadPod;
  EXPECT_FALSE(Call(Endpoint::kValidate, pod.Body(), *f.set).allowed());
}

TEST(Review, ExemptionsAreRecorded) {
  Fixture f({Payments()});
  Request user;
  user.username = "system:serviceaccount:ci:break-glass";
  user.object = kBadPod;
  Answer a = Call(Endpoint::kValidate, user.Body(), *f.set);
  EXPECT_TRUE(a.allowed());
  EXPECT_EQ(a.annotation("exempt"), "username");

  Request runtime;
  std::string pod = kBadPod;
  pod.insert(pod.find("'securityContext'"), "'runtimeClassName':'kata',");
  runtime.object = pod;
  a = Call(Endpoint::kValidate, runtime.Body(), *f.set);
  EXPECT_TRUE(a.allowed());
  EXPECT_EQ(a.annotation("exempt"), "runtimeClass");

  Request image;
  std::string mixed = kGoodPod;
  mixed.insert(mixed.size() - 3, ",{'name':'debug','image':'registry.example.com/debug/sh:1'}");
  image.object = mixed;
  a = Call(Endpoint::kValidate, image.Body(), *f.set);
  EXPECT_TRUE(a.allowed()) << a.message();
  EXPECT_EQ(a.annotation("exempt"), "image:debug");
  EXPECT_EQ(a.result.exemptions, (std::vector<std::string>{"image:debug"}));
}

TEST(Review, WarnAndAuditModes) {
  NamespacePolicy policy;
  policy.name = "staging";
  policy.namespaces = {"*"};
  policy.revision = "77aa01";
  policy.Set<&PolicyValues::warn>(Restricted());
  policy.Set<&PolicyValues::audit>(LevelVersion{Level::kRestricted, Version{30}, false});
  policy.Set<&PolicyValues::enforce>(Baseline());
  Fixture f({policy});
  Request r;
  r.namespace_name = "anything";
  r.object = kBadPod;
  Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
  EXPECT_TRUE(a.allowed());
  // PSA's warning: one per level, checks joined with ", " (policy/admission.go, ForbiddenDetail).
  EXPECT_EQ(a.warnings(),
            (std::vector<std::string>{
                "would violate PodSecurity \"restricted:v1.37\" (policy \"staging\" rev 77aa01): "
                "allowPrivilegeEscalation != false (container \"app\" must set "
                "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
                "(container \"app\" must set securityContext.capabilities.drop=[\"ALL\"])"}));
  EXPECT_EQ(a.annotation("audit-violations"),
            "would violate PodSecurity \"restricted:v1.30\" (policy \"staging\" rev 77aa01): " +
                kBadDetails);
  EXPECT_TRUE(a.result.worth_logging);
}

TEST(Review, RulesWithEachAction) {
  const std::string pod =
      "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app','image':'nginx',"
      "'securityContext':{'capabilities':{'add':['SYS_TIME']}}}]}}";
  const std::string items =
      "capabilities not allowed (container \"app\" must not add \"SYS_TIME\" (allowed: "
      "\"NET_BIND_SERVICE\")); required capabilities not dropped (container \"app\" must drop "
      "\"ALL\" in securityContext.capabilities.drop); seccomp profile not allowed (container "
      "\"app\" must set securityContext.seccompProfile to one of \"RuntimeDefault\", "
      "\"Localhost/profiles/*\" (has Unconfined)); runtime class not allowed (pod must set "
      "spec.runtimeClassName to one of \"gvisor\" (unset))";
  const std::string warn_items =
      "capabilities not allowed (container \"app\" must not add \"SYS_TIME\" (allowed: "
      "\"NET_BIND_SERVICE\")), required capabilities not dropped (container \"app\" must drop "
      "\"ALL\" in securityContext.capabilities.drop), seccomp profile not allowed (container "
      "\"app\" must set securityContext.seccompProfile to one of \"RuntimeDefault\", "
      "\"Localhost/profiles/*\" (has Unconfined)), runtime class not allowed (pod must set "
      "spec.runtimeClassName to one of \"gvisor\" (unset))";
  for (Action action : {Action::kEnforce, Action::kWarn, Action::kAudit}) {
    NamespacePolicy policy;
    policy.name = "rules";
    policy.namespaces = {"payments"};
    policy.revision = "abc123";
    policy.Set<&PolicyValues::rules_action>(action);
    policy.Set<&PolicyValues::allowed_capabilities>(std::vector<std::string>{"NET_BIND_SERVICE"});
    policy.Set<&PolicyValues::required_drop_capabilities>(std::vector<std::string>{"ALL"});
    policy.Set<&PolicyValues::allowed_seccomp_profiles>(
        std::vector<std::string>{"RuntimeDefault", "Localhost/profiles/*"});
    policy.Set<&PolicyValues::allowed_runtime_classes>(std::vector<std::string>{"gvisor"});
    Fixture f({policy});
    Request r;
    r.object = pod;
    Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
    switch (action) {
      case Action::kEnforce:
        EXPECT_EQ(a.message(), "violates rules of policy \"rules\" rev abc123: " + items);
        break;
      case Action::kWarn:
        EXPECT_TRUE(a.allowed());
        ASSERT_EQ(a.warnings().size(), 1u);
        EXPECT_EQ(a.warnings()[0],
                  "would violate rules of policy \"rules\" rev abc123: " + warn_items);
        break;
      case Action::kAudit:
        EXPECT_TRUE(a.allowed());
        EXPECT_EQ(a.annotation("audit-violations"),
                  "would violate rules of policy \"rules\" rev abc123: " + items);
        break;
    }
  }
}

// The API server stores each audit annotation as `<webhook name>/<key>` and drops a key that then
// holds two `/`: a key must be a valid name part of a qualified name, without `/`.
bool ApiServerKeepsAuditKey(std::string_view key) {
  if (key.empty() || key.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(key.front()) || !alnum(key.back())) return false;
  return std::all_of(key.begin(), key.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

TEST(Review, EveryAuditAnnotationKeyIsKeptByTheApiServer) {
  NamespacePolicy policy = Payments();
  policy.Set<&PolicyValues::audit>(Restricted());
  policy.Set<&PolicyValues::default_capabilities_drop>(std::vector<std::string>{"ALL"});
  Fixture f({policy});
  std::set<std::string> keys;
  auto collect = [&](const Answer& answer) {
    ASSERT_TRUE(answer.response().HasMember("auditAnnotations")) << answer.result.body;
    for (const auto& member : answer.response()["auditAnnotations"].GetObject()) {
      keys.insert(member.name.GetString());
    }
  };
  Request audited;  // enforce fails too, audit-violations still recorded
  audited.object = kBadPod;
  collect(Call(Endpoint::kValidate, audited.Body(), *f.set));
  Request exempt;
  exempt.username = "system:serviceaccount:ci:break-glass";
  exempt.object = kBadPod;
  collect(Call(Endpoint::kValidate, exempt.Body(), *f.set));
  collect(Call(Endpoint::kMutate, exempt.Body(), *f.set));
  Request image;
  std::string mixed = kGoodPod;
  mixed.insert(mixed.size() - 3, ",{'name':'debug','image':'registry.example.com/debug/sh:1'}");
  image.object = mixed;
  collect(Call(Endpoint::kValidate, image.Body(), *f.set));
  Request defaulted;
  defaulted.object = kBadPod;
  collect(Call(Endpoint::kMutate, defaulted.Body(), *f.set));
  EXPECT_EQ(keys, (std::set<std::string>{"audit-violations", "defaulted", "exempt"}));
  for (const std::string& key : keys) EXPECT_TRUE(ApiServerKeepsAuditKey(key)) << key;
}

TEST(Review, UnreadableObjectDeniedByValidateAndLeftAloneByMutate) {
  NamespacePolicy policy = Payments();
  policy.Set<&PolicyValues::default_run_as_non_root>(true);
  Fixture f({policy});
  Request r;
  r.object =
      "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app','securityContext':{"
      "'privileged':'yes'}}]}}";
  Answer a = Call(Endpoint::kValidate, r.Body(), *f.set);
  EXPECT_EQ(a.message(),
            "cannot read the object as a Pod: spec.containers[0].securityContext.privileged: must "
            "be a boolean, got string");
  Answer m = Call(Endpoint::kMutate, r.Body(), *f.set);
  EXPECT_TRUE(m.allowed());
  EXPECT_FALSE(m.response().HasMember("patch"));

  r.object = "{'metadata':{'name':'p'},'spec':'nope'}";
  EXPECT_FALSE(Call(Endpoint::kValidate, r.Body(), *f.set).allowed());
  r.object = "null";
  EXPECT_EQ(Call(Endpoint::kValidate, r.Body(), *f.set).message(),
            "request.object is missing: cannot judge the Pod");
  Request d;
  d.group = "apps";
  d.resource = "deployments";
  d.object = "{'metadata':{'name':'web'},'spec':{}}";
  EXPECT_EQ(Call(Endpoint::kValidate, d.Body(), *f.set).message(),
            "cannot read the object as a Deployment: spec.template: required: must be an object");
}

// A pod as large as the API server sends: thousands of containers, half with their own AppArmor
// annotation. Only the answers are checked here (bench/worst_case_bench.cc times them).
TEST(Review, HugePodGetsTheRightAnswers) {
  constexpr int kContainers = 6000;
  std::string annotations, containers;
  for (int i = 0; i < kContainers; ++i) {
    const std::string name = "c" + std::to_string(i);
    if (i % 2 == 0) {
      if (!annotations.empty()) annotations += ',';
      annotations += "'container.apparmor.security.beta.kubernetes.io/" + name + "':'unconfined'";
    }
    if (!containers.empty()) containers += ',';
    containers += "{'name':'" + name + "','image':'x'}";
  }
  const std::string pod = "{'metadata':{'name':'p','annotations':{" + annotations +
                          "}},'spec':{'containers':[" + containers + "]}}";
  NamespacePolicy policy;
  policy.name = "huge";
  policy.namespaces = {"*"};
  policy.revision = "1";
  policy.Set<&PolicyValues::allowed_app_armor_profiles>(std::vector<std::string>{"RuntimeDefault"});
  policy.Set<&PolicyValues::default_app_armor_profile>(Profile{"RuntimeDefault", ""});
  Fixture f({policy});
  Request r;
  r.object = pod;
  Answer v = Call(Endpoint::kValidate, r.Body(), *f.set);
  EXPECT_FALSE(v.allowed());
  const std::string message = v.message();
  EXPECT_EQ(std::count(message.begin(), message.end(), '"'), 2 * kContainers / 2 + 4)
      << message.substr(0, 300);
  EXPECT_NE(message.find("\"c5998\" must set securityContext.appArmorProfile"), std::string::npos);
  EXPECT_EQ(message.find("\"c5999\""), std::string::npos);
  // Before 1.30 the default is the annotation, added to exactly the containers without one.
  Answer m = Call(Endpoint::kMutate, r.Body(), *f.set, 29);
  EXPECT_EQ(m.result.patch_ops, kContainers / 2 + 1);  // + palisade.dev/defaulted
  const std::string patch = Base64Decode(m.response()["patch"].GetString());
  EXPECT_NE(patch.find("kubernetes.io~1c5999"), std::string::npos);
  EXPECT_EQ(patch.find("kubernetes.io~1c5998"), std::string::npos);
}

std::string ReadShared(const char* name) {
  std::stringstream text;
  text << std::ifstream(std::string(PALISADE_SHARED_DIR) + "/testdata/" + name).rdbuf();
  return text.str();
}

TEST(Review, RealisticReview) {
  NamespacePolicy policy = Payments();
  policy.Set<&PolicyValues::default_seccomp_profile>(Profile{"RuntimeDefault", ""});
  policy.Set<&PolicyValues::default_capabilities_drop>(std::vector<std::string>{"ALL"});
  policy.Set<&PolicyValues::default_allow_privilege_escalation>(false);
  policy.Set<&PolicyValues::default_run_as_non_root>(true);
  Fixture f({policy});
  const std::string body = ReadShared("review_realistic.json");
  ASSERT_FALSE(body.empty());
  Answer m = Call(Endpoint::kMutate, body, *f.set);
  EXPECT_EQ(Base64Decode(m.response()["patch"].GetString()),
            Json("[{'op':'add','path':'/spec/securityContext','value':{'runAsNonRoot':true,"
                 "'seccompProfile':{'type':'RuntimeDefault'}}},{'op':'add','path':'/spec/"
                 "initContainers/0/securityContext','value':{'allowPrivilegeEscalation':false,"
                 "'capabilities':{'drop':['ALL']}}},{'op':'add','path':'/spec/containers/0/"
                 "securityContext/allowPrivilegeEscalation','value':false},{'op':'add','path':'/"
                 "spec/containers/0/securityContext/capabilities','value':{'drop':['ALL']}},{'op':"
                 "'add','path':'/spec/containers/1/securityContext','value':{"
                 "'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL']}}},{'op':'add',"
                 "'path':'/metadata/annotations/palisade.dev~1defaulted','value':"
                 "'allowPrivilegeEscalation,capabilities.drop,runAsNonRoot,seccompProfile'}]"));
  Answer v = Call(Endpoint::kValidate, body, *f.set);
  EXPECT_FALSE(v.allowed());
  EXPECT_EQ(v.result.name, "checkout-7d9f8b6c5d-x2x9k");
  EXPECT_EQ(v.result.user, "system:serviceaccount:kube-system:replicaset-controller");

  // decode + evaluate + encode, averaged; printed for the record (sanitizer builds are slower).
  constexpr int kRounds = 2000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    AdmissionResult r = Review(Endpoint::kValidate, body, *f.set, {});
    ASSERT_EQ(r.http_status, 200);
  }
  const double micros =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  std::printf("validate realistic review: %.2f us per request\n", micros);
}

// spec.exceptions through Review: the waiver, the audit annotation naming it, the warning in its
// last 14 days, and nothing once it has expired (the date comes with the call).
TEST(AdmissionExceptions, WaiveWarnExpire) {
  NamespacePolicy policy = Payments();
  PolicyException exception;
  exception.name = "app-escalation";
  exception.checks = {"allowPrivilegeEscalation", "capabilities_restricted"};
  exception.containers = {"app"};
  exception.reason = "legacy agent; SEC-1";
  exception.expires = "2027-03-31";
  exception.expires_day = ParseDate("2027-03-31");
  policy.Set<&PolicyValues::exceptions>(std::vector<PolicyException>{exception});
  Fixture fixture({policy});
  Request request;
  request.object = kBadPod;
  const std::string body = request.Body();

  const Answer early = Call(Endpoint::kValidate, body, *fixture.set, 31, ParseDate("2027-01-01"));
  EXPECT_TRUE(early.allowed()) << early.message();
  EXPECT_EQ(early.annotation("exceptions-used"), "app-escalation");
  EXPECT_TRUE(early.warnings().empty());

  const Answer late = Call(Endpoint::kValidate, body, *fixture.set, 31, ParseDate("2027-03-29"));
  EXPECT_TRUE(late.allowed()) << late.message();
  EXPECT_EQ(late.warnings(),
            std::vector<std::string>{
                R"(exception "app-escalation" (policy "payments" rev 4c1e9a) expires 2027-03-31 )"
                R"((in 2 days): legacy agent; SEC-1)"});

  const Answer expired = Call(Endpoint::kValidate, body, *fixture.set, 31, ParseDate("2027-04-01"));
  EXPECT_FALSE(expired.allowed());
  EXPECT_EQ(expired.annotation("exceptions-used"), "");
  const Answer no_date = Call(Endpoint::kValidate, body, *fixture.set);
  EXPECT_FALSE(no_date.allowed());
}

}  // namespace
}  // namespace palisade::policy
