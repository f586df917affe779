#pragma once

// The fast review decoder behind AdmissionRequest::Parse (see review_decoder.cc).

#include <rapidjson/document.h>

#include <cstddef>

namespace palisade::policy {

// Deeper than any Kubernetes object; bounds the recursive parsers' stack use.
constexpr int kMaxReviewNesting = 512;

// Parses the review `text` (`size` bytes, then a NUL and json_scan::kScanPadding zero bytes) in
// place into `document`, building whole only the parts the admission code reads; a value it never
// reads (managedFields, status, a container's env, ...) is checked as strictly as the rest and kept
// as its JSON text, a string. `ascii`: the text has no byte above 0x7F (no UTF-8 to validate).
// False for anything it does not take, well-formed or not (a malformed text, a duplicate key, a
// number that is not a plain integer, nesting deeper than kMaxReviewNesting): the caller then
// parses the whole review the slow way from a fresh copy, which finds the exact error if any.
bool DecodeJudgedParts(char* text, std::size_t size, bool ascii, rapidjson::Document& document);

}  // namespace palisade::policy
