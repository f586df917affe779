#pragma once

// AdmissionReview decoding and encoding (admission.k8s.io/v1 and v1beta1, answered in kind).

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace palisade::policy {

// A decoded review. Views point into `buffer_`/`document_`; not copyable.
class AdmissionRequest {
 public:
  AdmissionRequest() = default;
  AdmissionRequest(const AdmissionRequest&) = delete;
  AdmissionRequest& operator=(const AdmissionRequest&) = delete;

  // kJudged builds only what admission reads: a value it never reads (the request's requestKind,
  // requestResource and options, metadata.managedFields and ownerReferences, status, a container's
  // env, envFrom, resources, volumeMounts, volumeDevices, args, command and resizePolicy, a pod
  // spec's affinity, tolerations and other scheduling fields, a volume's source object, kubectl's
  // last-applied annotation) is checked as strictly, then kept as its JSON text, a string. kWhole
  // builds everything.
  enum class Decode { kJudged, kWhole };

  // Parses `body` (nesting deeper than 512 levels is refused, so it cannot overflow the stack). On
  // failure returns false and sets *error to a reason for a 400 answer; malformed JSON, invalid
  // UTF-8 and duplicate keys are refused alike, wherever they are, whichever `decode`.
  bool Parse(std::string_view body, std::string* error, Decode decode = Decode::kJudged);

  std::string_view api_version;  // "admission.k8s.io/v1" or "admission.k8s.io/v1beta1"
  std::string_view uid;
  std::string_view operation;  // CREATE, UPDATE, DELETE, CONNECT
  std::string_view kind;       // request.kind.kind
  std::string_view group;      // request.resource.group
  std::string_view resource;   // request.resource.resource
  std::string_view sub_resource;
  std::string_view namespace_name;
  std::string_view name;
  std::string_view username;
  const rapidjson::Value* object = nullptr;      // null when absent or JSON null
  const rapidjson::Value* old_object = nullptr;  // likewise

  // The review as parsed (after a successful Parse).
  const rapidjson::Document& document() const { return document_; }
  // Whether document() is whole: asked for, or the fast decoder left the body to RapidJSON.
  bool whole() const { return whole_; }
  // Whether Parse refused the review for holding more values than Palisade judges (a 413, not a
  // 400: the text may be well-formed).
  bool too_large() const { return too_large_; }

 private:
  bool ParseWhole(std::size_t size, bool ascii, std::string* error);
  static std::string TooLargeError();

  std::string buffer_;  // in-situ parse target
  rapidjson::Document document_;
  bool whole_ = false;
  bool too_large_ = false;
};

struct AdmissionResponse {
  bool allowed = true;
  int code = 0;             // status.code when denied
  std::string_view reason;  // status.reason when denied
  std::string message;      // status.message when denied
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> audit_annotations;  // keys sorted
  std::string patch;  // JSON Patch text; "" for none
};

// The whole AdmissionReview answer for `request` (apiVersion echoed, uid echoed).
std::string EncodeResponse(std::string_view api_version, std::string_view uid,
                           const AdmissionResponse& response);

std::string Base64(std::string_view data);

// Appends `text` to `out` as a quoted JSON string, escaped as rapidjson::Writer does by default.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace palisade::policy
