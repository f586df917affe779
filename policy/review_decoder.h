#pragma once

// The fast review decoder behind AdmissionRequest::Parse (see review_decoder.cc).

#include <rapidjson/document.h>

#include <cstddef>

namespace palisade::policy {

// Deeper than any Kubernetes object; bounds the recursive parsers' stack use.
constexpr int kMaxReviewNesting = 512;

// The most object members and array elements a review may build (what is skipped is not built):
// 1.7 times the heaviest review of bench/worst_case_bench.cc (294,506, a 2.9 MB
// ephemeral-containers update), 3,000 times a real 50 KB pod's review (169). It keeps a review's
// memory in tens of MiB: a body of tiny values (8 MiB of `[],` is 2.8 million) built a view,
// findings and an answer of gigabytes. Counted as each member or element is built.
constexpr std::size_t kMaxReviewValues = 500'000;

// Parses the review `text` (`size` bytes, then a NUL and json_scan::kScanPadding zero bytes) in
// place into `document`, building whole only the parts the admission code reads; a value it never
// reads (managedFields, status, a container's env, ...) is checked as strictly as the rest and kept
// as its JSON text, a string. `ascii`: the text has no byte above 0x7F (no UTF-8 to validate).
// False for anything it does not take, well-formed or not (a malformed text, a duplicate key, a
// number that is not a plain integer, nesting deeper than kMaxReviewNesting): the caller then
// parses the whole review the slow way from a fresh copy, which finds the exact error if any.
// *too_large: false was for building more than kMaxReviewValues; the whole parse would build more,
// so the caller refuses the review instead.
bool DecodeJudgedParts(char* text, std::size_t size, bool ascii, rapidjson::Document& document,
                       bool* too_large);

}  // namespace palisade::policy
