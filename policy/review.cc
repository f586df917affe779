#include "policy/review.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "policy/json_access.h"

namespace palisade::policy {
namespace {

// A RapidJSON output stream appending to a std::string (no intermediate buffer copy).
class StringOutput {
 public:
  using Ch = char;
  explicit StringOutput(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

 private:
  std::string& out_;
};

// Deeper than any Kubernetes object; bounds the recursive parser's stack use.
constexpr int kMaxNesting = 512;

// Forwards the reader's events to the document, refusing nesting deeper than kMaxNesting. This lets
// the fast recursive parser take untrusted input (the iterative one costs about 1.5x).
class NestingLimit {
 public:
  using Ch = char;
  explicit NestingLimit(rapidjson::Document& document) : document_(document) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned u) { return document_.Uint(u); }
  bool Int64(std::int64_t i) { return document_.Int64(i); }
  bool Uint64(std::uint64_t u) { return document_.Uint64(u); }
  bool Double(double d) { return document_.Double(d); }
  bool RawNumber(const Ch* text, rapidjson::SizeType length, bool copy) {
    return document_.RawNumber(text, length, copy);
  }
  bool String(const Ch* text, rapidjson::SizeType length, bool copy) {
    return document_.String(text, length, copy);
  }
  bool Key(const Ch* text, rapidjson::SizeType length, bool copy) {
    return document_.Key(text, length, copy);
  }
  bool StartObject() { return ++depth_ <= kMaxNesting && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return ++depth_ <= kMaxNesting && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

  bool too_deep() const { return depth_ > kMaxNesting; }

 private:
  rapidjson::Document& document_;
  int depth_ = 0;
};

// Member names are strings: compare length first, then bytes (GenericValue::operator== switches on
// the type first and costs several times more in this n^2 loop).
bool SameName(const rapidjson::Value& a, const rapidjson::Value& b) {
  const rapidjson::SizeType length = a.GetStringLength();
  return length == b.GetStringLength() && std::memcmp(a.GetString(), b.GetString(), length) == 0;
}

// True when every byte is below 0x80: such a text cannot hold invalid UTF-8, so the parser need not
// validate it character by character.
bool AllAscii(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  std::uint64_t high = 0;
  for (; end - p >= 8; p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    high |= word;
  }
  for (; p != end; ++p) high |= static_cast<unsigned char>(*p);
  return (high & 0x8080808080808080ULL) == 0;
}

// The first key that appears twice in one object, anywhere in `value`, or nullptr. Go keeps the
// last of duplicate keys and we would read the first: refusing them leaves nothing to disagree on.
const rapidjson::Value* FindDuplicateKey(const rapidjson::Value& value,
                                         std::vector<std::string_view>& scratch) {
  if (value.IsArray()) {
    for (const rapidjson::Value& item : value.GetArray()) {
      if (const rapidjson::Value* duplicate = FindDuplicateKey(item, scratch)) return duplicate;
    }
    return nullptr;
  }
  if (!value.IsObject()) return nullptr;
  const auto begin = value.MemberBegin();
  const auto end = value.MemberEnd();
  const auto count = static_cast<std::size_t>(end - begin);
  if (count <= 16) {  // the usual object: pairwise is cheaper than sorting
    for (auto i = begin; i != end; ++i) {
      for (auto j = begin; j != i; ++j) {
        if (SameName(i->name, j->name)) return &i->name;
      }
    }
  } else {
    scratch.clear();
    for (auto i = begin; i != end; ++i) scratch.push_back(json::View(i->name));
    std::sort(scratch.begin(), scratch.end());
    const auto repeated = std::adjacent_find(scratch.begin(), scratch.end());
    if (repeated != scratch.end()) {
      for (auto i = begin; i != end; ++i) {
        if (json::View(i->name) == *repeated) return &i->name;
      }
    }
  }
  for (auto i = begin; i != end; ++i) {
    if (const rapidjson::Value* duplicate = FindDuplicateKey(i->value, scratch)) return duplicate;
  }
  return nullptr;
}

}  // namespace

bool AdmissionRequest::Parse(std::string_view body, std::string* error) {
  buffer_.assign(body.data(), body.size());
  rapidjson::Reader reader;
  rapidjson::InsituStringStream stream(buffer_.data());
  bool too_deep = false;
  rapidjson::ParseResult parsed;
  // Invalid UTF-8 is refused: it could not be echoed back in a valid JSON answer. An all-ASCII
  // body has none, and skips the per-character check (about a third of the parse).
  const bool ascii = AllAscii(body);
  auto generate = [&](rapidjson::Document& document) {
    NestingLimit handler(document);
    if (ascii) {
      parsed = reader.Parse<rapidjson::kParseInsituFlag>(stream, handler);
    } else {
      parsed = reader.Parse<rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag>(
          stream, handler);
    }
    too_deep = handler.too_deep();
    // In situ, a NUL byte ends the text early: whatever follows it is left over.
    if (parsed && stream.Tell() != body.size()) {
      parsed.Set(rapidjson::kParseErrorDocumentRootNotSingular, stream.Tell());
    }
    return !parsed.IsError();
  };
  document_.Populate(generate);
  if (parsed.IsError()) {
    *error = std::string("malformed JSON: ") +
             (too_deep ? "nesting deeper than " + std::to_string(kMaxNesting) + " levels"
                       : rapidjson::GetParseError_En(parsed.Code())) +
             " (at offset " + std::to_string(parsed.Offset()) + ")";
    return false;
  }
  if (!document_.IsObject()) {
    *error = "not an AdmissionReview: the body is not a JSON object";
    return false;
  }
  std::vector<std::string_view> scratch;
  if (const rapidjson::Value* duplicate = FindDuplicateKey(document_, scratch)) {
    *error = "malformed JSON: duplicate key \"" + std::string(json::View(*duplicate)) + "\"";
    return false;
  }
  api_version = json::String(document_, "apiVersion");
  if (api_version != "admission.k8s.io/v1" && api_version != "admission.k8s.io/v1beta1") {
    *error =
        "not an AdmissionReview: apiVersion must be admission.k8s.io/v1 or "
        "admission.k8s.io/v1beta1";
    return false;
  }
  if (json::String(document_, "kind") != "AdmissionReview") {
    *error = "not an AdmissionReview: kind must be AdmissionReview";
    return false;
  }
  const rapidjson::Value* request = json::Object(document_, "request");
  if (request == nullptr) {
    *error = "not an AdmissionReview: request is missing or not an object";
    return false;
  }
  uid = json::String(*request, "uid");
  if (uid.empty()) {
    *error = "not an AdmissionReview: request.uid is missing or not a string";
    return false;
  }
  operation = json::String(*request, "operation");
  if (const rapidjson::Value* k = json::Object(*request, "kind")) kind = json::String(*k, "kind");
  if (const rapidjson::Value* r = json::Object(*request, "resource")) {
    group = json::String(*r, "group");
    resource = json::String(*r, "resource");
  }
  sub_resource = json::String(*request, "subResource");
  namespace_name = json::String(*request, "namespace");
  name = json::String(*request, "name");
  if (const rapidjson::Value* user = json::Object(*request, "userInfo")) {
    username = json::String(*user, "username");
  }
  object = json::Member(*request, "object");
  old_object = json::Member(*request, "oldObject");
  return true;
}

std::string Base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned n = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string EncodeResponse(std::string_view api_version, std::string_view uid,
                           const AdmissionResponse& response) {
  std::string out;
  out.reserve(256 + response.message.size() + response.patch.size() * 4 / 3);
  StringOutput stream(out);
  rapidjson::Writer<StringOutput> w(stream);
  auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  str("apiVersion");
  str(api_version);
  str("kind");
  str("AdmissionReview");
  str("response");
  w.StartObject();
  str("uid");
  str(uid);
  str("allowed");
  w.Bool(response.allowed);
  if (!response.allowed) {
    str("status");
    w.StartObject();
    str("code");
    w.Int(response.code);
    str("reason");
    str(response.reason);
    str("message");
    str(response.message);
    w.EndObject();
  }
  if (!response.patch.empty()) {
    str("patchType");
    str("JSONPatch");
    str("patch");
    str(Base64(response.patch));
  }
  if (!response.warnings.empty()) {
    str("warnings");
    w.StartArray();
    for (const std::string& warning : response.warnings) str(warning);
    w.EndArray();
  }
  if (!response.audit_annotations.empty()) {
    str("auditAnnotations");
    w.StartObject();
    for (const auto& [key, value] : response.audit_annotations) {
      str(key);
      str(value);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return out;
}

}  // namespace palisade::policy
