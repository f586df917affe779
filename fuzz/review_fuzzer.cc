// Bytes -> Review(kValidate) and Review(kMutate) against the example policies. Beyond "no crash,
// no UB": the judged decoder agrees with the whole one, which agrees with stock RapidJSON; a 200
// answer is an AdmissionReview echoing apiVersion and uid; a denial carries a code and a message; a
// mutate patch is base64 JSON Patch whose every "add" has an existing parent and adds a new member
// (the defaulted annotation excepted), and mutating the patched pod again yields no patch (defaults
// are idempotent).

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "policy/admission.h"
#include "policy/mutator.h"
#include "policy/review.h"

namespace {

using palisade::fuzz::Check;
using palisade::policy::AdmissionResult;
using palisade::policy::Endpoint;
using rapidjson::Value;

std::string Base64Decode(std::string_view in, bool* ok) {
  std::string out;
  unsigned value = 0;
  int bits = 0;
  std::size_t padding = 0;
  *ok = in.size() % 4 == 0;
  for (char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z') {
      d = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      d = c - '0' + 52;
    } else if (c == '+') {
      d = 62;
    } else if (c == '/') {
      d = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else {
      *ok = false;
      return out;
    }
    if (padding != 0) *ok = false;  // data after padding
    value = (value << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xFF);
    }
  }
  return out;
}

std::string Write(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

const Value* Get(const Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// The response document of a 200 answer, checked against the request.
void CheckAnswer(const AdmissionResult& result, const Value& request_doc,
                 rapidjson::Document* answer) {
  Check(result.decision == "allowed" || result.decision == "denied", "200 with a decision",
        result.decision);
  answer->Parse(result.body.data(), result.body.size());
  Check(!answer->HasParseError() && answer->IsObject(), "200 body is a JSON object", result.body);
  const Value* api_version = Get(*answer, "apiVersion");
  const Value* request_api_version = Get(request_doc, "apiVersion");
  Check(api_version != nullptr && request_api_version != nullptr &&
            *api_version == *request_api_version,
        "apiVersion echoed", result.body);
  const Value* response = Get(*answer, "response");
  Check(response != nullptr && response->IsObject(), "response object", result.body);
  const Value* uid = Get(*response, "uid");
  Check(uid != nullptr && uid->IsString() && uid->GetStringLength() > 0 &&
            std::string_view(uid->GetString(), uid->GetStringLength()) == result.uid,
        "response.uid echoed", result.body);
  const Value* allowed = Get(*response, "allowed");
  Check(allowed != nullptr && allowed->IsBool(), "response.allowed is a bool", result.body);
  Check(allowed->GetBool() == (result.decision == "allowed"), "decision matches allowed",
        result.body);
  // The API server stores audit annotations as `<webhook>/<key>` and drops keys with two `/`.
  if (const Value* audit = Get(*response, "auditAnnotations")) {
    Check(audit->IsObject(), "auditAnnotations is an object", result.body);
    for (const auto& member : audit->GetObject()) {
      const std::string_view key(member.name.GetString(), member.name.GetStringLength());
      Check(!key.empty() && key.find('/') == std::string_view::npos,
            "audit annotation keys have no '/'", result.body);
    }
  }
  if (!allowed->GetBool()) {
    const Value* status = Get(*response, "status");
    const Value* code = status ? Get(*status, "code") : nullptr;
    const Value* message = status ? Get(*status, "message") : nullptr;
    Check(code != nullptr && code->IsInt() && code->GetInt() == 403, "denial code 403",
          result.body);
    Check(message != nullptr && message->IsString() && message->GetStringLength() > 0,
          "denial message", result.body);
  }
}

// RFC 6902 "add": the parent exists; an object member is new (except the defaulted annotation,
// which a later invocation rewrites); an array index is "-" or within bounds.
void CheckAddApplies(const Value& op, const rapidjson::Document& target, const std::string& body) {
  const Value* kind = Get(op, "op");
  Check(kind != nullptr && kind->IsString() && std::string_view(kind->GetString()) == "add",
        "patch has only add ops", body);
  const Value* path = Get(op, "path");
  Check(path != nullptr && path->IsString() && Get(op, "value") != nullptr,
        "patch op has path and value", body);
  const std::string text(path->GetString(), path->GetStringLength());
  const std::size_t slash = text.rfind('/');
  Check(slash != std::string::npos, "patch path is a pointer", text);
  const rapidjson::Pointer parent_pointer(text.substr(0, slash).c_str());
  const rapidjson::Pointer full_pointer(text.c_str());
  Check(parent_pointer.IsValid() && full_pointer.IsValid(), "patch path is valid", text);
  const Value* parent = parent_pointer.Get(target);
  Check(parent != nullptr, "patch parent exists", text + "\n" + body);
  if (parent->IsArray()) {
    const std::string last = text.substr(slash + 1);
    Check(last == "-", "array adds append", text);
  } else {
    Check(parent->IsObject(), "patch parent is an object or array", text);
    const bool annotation = text == "/metadata/annotations/palisade.dev~1defaulted";
    Check(annotation || full_pointer.Get(target) == nullptr, "patch adds only new members",
          text + "\n" + body);
  }
}

void CheckMutation(const AdmissionResult& result, const rapidjson::Document& answer,
                   rapidjson::Document& request_doc,
                   const palisade::policy::AdmissionConfig& config) {
  const Value& response = answer["response"];
  const Value* patch_type = Get(response, "patchType");
  const Value* patch = Get(response, "patch");
  Check((patch_type == nullptr) == (patch == nullptr), "patch and patchType together", result.body);
  Check((patch != nullptr) == (result.patch_ops > 0), "patch_ops counts the patch", result.body);
  if (patch == nullptr) return;
  Check(patch->IsString(), "patch is a string", result.body);
  bool ok = false;
  const std::string patch_text =
      Base64Decode(std::string_view(patch->GetString(), patch->GetStringLength()), &ok);
  Check(ok, "patch is base64", result.body);
  rapidjson::Document patch_doc;
  patch_doc.Parse(patch_text.data(), patch_text.size());
  Check(!patch_doc.HasParseError() && patch_doc.IsArray() &&
            static_cast<int>(patch_doc.Size()) == result.patch_ops,
        "patch is a JSON array of patch_ops ops", patch_text);

  Value& object = request_doc["request"]["object"];
  rapidjson::Document pod;
  pod.CopyFrom(object, pod.GetAllocator());
  for (const Value& op : patch_doc.GetArray()) {
    CheckAddApplies(op, pod, patch_text);
    palisade::policy::ApplyPatch(rapidjson::Value(rapidjson::kArrayType)
                                     .PushBack(Value(op, pod.GetAllocator()), pod.GetAllocator()),
                                 pod);
  }

  // Mutating the patched pod again adds nothing.
  object.CopyFrom(pod, request_doc.GetAllocator());
  const std::string again_body = Write(request_doc);
  const AdmissionResult again = palisade::policy::Review(Endpoint::kMutate, again_body,
                                                         palisade::fuzz::ExamplePolicies(), config);
  Check(again.http_status == 200 && again.patch_ops == 0, "defaults are idempotent",
        patch_text + "\nthen: " + again.body + "\nfor: " + again_body);
}

// A value of the judged decode against the whole one: the same, or (a skipped value) a string
// holding JSON text that reads as the whole decode's value.
bool SameOrItsText(const Value& judged, const Value& whole) {
  if (judged.IsString() && !(whole.IsString() && judged == whole)) {
    rapidjson::Document text;
    text.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
        judged.GetString(), judged.GetStringLength());
    return !text.HasParseError() && text == whole;
  }
  if (judged.GetType() != whole.GetType()) return false;
  if (judged.IsObject()) {
    if (judged.MemberCount() != whole.MemberCount()) return false;
    for (auto j = judged.MemberBegin(), w = whole.MemberBegin(); j != judged.MemberEnd();
         ++j, ++w) {
      if (j->name != w->name || !SameOrItsText(j->value, w->value)) return false;
    }
    return true;
  }
  if (judged.IsArray()) {
    if (judged.Size() != whole.Size()) return false;
    for (rapidjson::SizeType i = 0; i < judged.Size(); ++i) {
      if (!SameOrItsText(judged[i], whole[i])) return false;
    }
    return true;
  }
  return judged == whole;
}

// Two decoders: the judged one (admission's) builds only what is read and keeps the rest as
// checked text; the whole one parses in place with RapidJSON and its own string scan. The judged
// decode refuses exactly what the whole one refuses, with the same reason, and what it takes is
// judged alike. Whatever the whole decode accepts, stock RapidJSON (validating UTF-8) parses to the
// same document; whatever valid JSON it refuses is refused for its nesting, a duplicate key or a
// lone surrogate.
void CheckDecode(std::string_view body, int kubernetes_minor) {
  using palisade::policy::AdmissionRequest;
  AdmissionRequest whole;
  std::string error;
  const bool decoded = whole.Parse(body, &error, AdmissionRequest::Decode::kWhole);
  AdmissionRequest judged;
  std::string judged_error;
  const bool judged_decoded = judged.Parse(body, &judged_error);
  Check(judged_decoded == decoded && judged_error == error,
        "the judged decode refuses exactly what the whole decode refuses",
        judged_error + " / " + error);
  if (decoded) {
    Check(SameOrItsText(judged.document(), whole.document()),
          "the judged decode keeps what it reads and the text of what it skips", std::string(body));
    palisade::policy::AdmissionConfig config;
    config.kubernetes_minor = kubernetes_minor;
    for (const Endpoint endpoint : {Endpoint::kValidate, Endpoint::kMutate}) {
      const AdmissionResult a =
          palisade::policy::Review(endpoint, judged, palisade::fuzz::ExamplePolicies(), config);
      const AdmissionResult b =
          palisade::policy::Review(endpoint, whole, palisade::fuzz::ExamplePolicies(), config);
      Check(a.http_status == b.http_status && a.body == b.body && a.decision == b.decision,
            "the judged and whole decodes are answered alike", a.body + "\n" + b.body);
    }
  }

  // A NUL ends the text for stock RapidJSON, where the decoder refuses the body.
  if (body.find('\0') != std::string_view::npos) return;
  rapidjson::Document stock;
  // From a NUL-terminated copy (the length-taking Parse would skip BOM-like leading bytes), with
  // two more NULs: RapidJSON's UTF-8 validation reads a cut-off sequence's continuation bytes.
  std::string text(body);
  text.append(3, '\0');
  stock.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.c_str());
  if (decoded) {
    Check(!stock.HasParseError() && stock == whole.document(),
          "a decoded review is the document RapidJSON reads", std::string(body));
  } else if (error.rfind("malformed JSON: ", 0) == 0 && !stock.HasParseError()) {
    // RapidJSON decodes an escaped lone low surrogate to invalid UTF-8; the decoder refuses it.
    Check(error.find("nesting deeper than") != std::string::npos ||
              error.find("duplicate key") != std::string::npos ||
              error.find("surrogate pair in string is invalid") != std::string::npos,
          "valid JSON is refused only for nesting, a duplicate key or a lone surrogate", error);
  }
}

void RunOne(Endpoint endpoint, std::string_view body, int kubernetes_minor) {
  palisade::policy::AdmissionConfig config;
  config.kubernetes_minor = kubernetes_minor;
  const AdmissionResult result =
      palisade::policy::Review(endpoint, body, palisade::fuzz::ExamplePolicies(), config);
  if (result.http_status != 200) {
    Check(result.http_status == 400 && result.decision == "error" && !result.body.empty(),
          "non-200 is a 400 with a reason", result.body);
    return;
  }
  rapidjson::Document request_doc;
  request_doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  Check(!request_doc.HasParseError(), "a 200 answer came from valid JSON");
  rapidjson::Document answer;
  CheckAnswer(result, request_doc, &answer);
  if (endpoint == Endpoint::kMutate) {
    CheckMutation(result, answer, request_doc, config);
  } else {
    Check(result.patch_ops == 0 && Get(answer["response"], "patch") == nullptr,
          "validate never patches", result.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // The length parity picks the cluster version: field vs annotation for AppArmor.
  const int minor = size % 2 == 1 ? 29 : 31;
  CheckDecode(body, minor);
  RunOne(Endpoint::kValidate, body, minor);
  RunOne(Endpoint::kMutate, body, minor);
  return 0;
}
