#include "policy/review.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "policy/json_access.h"
#include "policy/json_scan.h"
#include "policy/review_decoder.h"

namespace palisade::policy {
namespace {

// Forwards the reader's events to the document, refusing nesting deeper than kMaxReviewNesting.
// This lets the fast recursive parser take untrusted input (the iterative one costs about 1.5x).
class NestingLimit {
 public:
  using Ch = char;
  explicit NestingLimit(rapidjson::Document& document) : document_(document) {}

  bool Null() { return Built() && document_.Null(); }
  bool Bool(bool b) { return Built() && document_.Bool(b); }
  bool Int(int i) { return Built() && document_.Int(i); }
  bool Uint(unsigned u) { return Built() && document_.Uint(u); }
  bool Int64(std::int64_t i) { return Built() && document_.Int64(i); }
  bool Uint64(std::uint64_t u) { return Built() && document_.Uint64(u); }
  bool Double(double d) { return Built() && document_.Double(d); }
  bool RawNumber(const Ch* text, rapidjson::SizeType length, bool copy) {
    return Built() && document_.RawNumber(text, length, copy);
  }
  bool String(const Ch* text, rapidjson::SizeType length, bool copy) {
    return Built() && document_.String(text, length, copy);
  }
  bool Key(const Ch* text, rapidjson::SizeType length, bool copy) {
    return document_.Key(text, length, copy);
  }
  bool StartObject() { return Built() && ++depth_ <= kMaxReviewNesting && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return Built() && ++depth_ <= kMaxReviewNesting && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

  bool too_deep() const { return depth_ > kMaxReviewNesting; }
  bool too_large() const { return values_ > kMaxReviewValues + 1; }

 private:
  // As the judged decoder counts (see kMaxReviewValues) but over everything, which this parse
  // builds: every value but the root is a member or an element.
  bool Built() { return ++values_ <= kMaxReviewValues + 1; }

  rapidjson::Document& document_;
  int depth_ = 0;
  std::size_t values_ = 0;
};

// Member names are strings: compare length first, then bytes (GenericValue::operator== switches on
// the type first and costs several times more in this n^2 loop).
bool SameName(const rapidjson::Value& a, const rapidjson::Value& b) {
  const rapidjson::SizeType length = a.GetStringLength();
  return length == b.GetStringLength() && std::memcmp(a.GetString(), b.GetString(), length) == 0;
}

// The first key that appears twice in one object, anywhere in `value`, or nullptr. Go keeps the
// last of duplicate keys and we would read the first: refusing them leaves nothing to disagree on.
const rapidjson::Value* FindDuplicateKey(const rapidjson::Value& value,
                                         std::vector<std::string_view>& scratch) {
  if (value.IsArray()) {
    for (const rapidjson::Value& item : value.GetArray()) {
      if (!item.IsObject() && !item.IsArray()) continue;  // no call for a scalar
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
    if (!i->value.IsObject() && !i->value.IsArray()) continue;
    if (const rapidjson::Value* duplicate = FindDuplicateKey(i->value, scratch)) return duplicate;
  }
  return nullptr;
}

// The review's text, parsed in place (followed by json_scan::kScanPadding zero bytes).
struct ReviewStream : rapidjson::InsituStringStream {
  using rapidjson::InsituStringStream::InsituStringStream;
};

// Found by RapidJSON's reader through argument-dependent lookup, and preferred to its generic
// template, which is not inlined. Reviews from the API server are compact: usually no whitespace.
inline void SkipWhitespace(ReviewStream& is) { json_scan::SkipWhitespace(is.src_); }

// RapidJSON's in-situ string parse, done by json_scan::ScanString.
template <bool kValidate>
rapidjson::ParseErrorCode ParseStringInPlace(ReviewStream& is, std::size_t* offset) {
  char* end = nullptr;
  const char* where = nullptr;
  const rapidjson::ParseErrorCode code =
      json_scan::ScanString<kValidate, true>(is.src_, &end, &where);
  if (code != rapidjson::kParseErrorNone) {
    *offset = static_cast<std::size_t>(where - is.head_);
    return code;
  }
  is.dst_ = end + 1;  // past the NUL, as RapidJSON's PutEnd expects
  return code;
}

}  // namespace
}  // namespace palisade::policy

namespace rapidjson {

template <>
struct StreamTraits<palisade::policy::ReviewStream> {
  enum { copyOptimization = 1 };
};

// The in-situ string parse for reviews, with and without UTF-8 validation (see ParseStringInPlace).
template <>
template <>
void GenericReader<UTF8<>, UTF8<>, CrtAllocator>::ParseStringToStream<
    kParseInsituFlag, UTF8<>, UTF8<>, palisade::policy::ReviewStream,
    palisade::policy::ReviewStream>(palisade::policy::ReviewStream& is,
                                    palisade::policy::ReviewStream&) {
  std::size_t offset = 0;
  const ParseErrorCode code = palisade::policy::ParseStringInPlace<false>(is, &offset);
  if (code != kParseErrorNone) RAPIDJSON_PARSE_ERROR(code, offset);
}

template <>
template <>
void GenericReader<UTF8<>, UTF8<>, CrtAllocator>::ParseStringToStream<
    kParseInsituFlag | kParseValidateEncodingFlag, UTF8<>, UTF8<>, palisade::policy::ReviewStream,
    palisade::policy::ReviewStream>(palisade::policy::ReviewStream& is,
                                    palisade::policy::ReviewStream&) {
  std::size_t offset = 0;
  const ParseErrorCode code = palisade::policy::ParseStringInPlace<true>(is, &offset);
  if (code != kParseErrorNone) RAPIDJSON_PARSE_ERROR(code, offset);
}

}  // namespace rapidjson

namespace palisade::policy {

std::string AdmissionRequest::TooLargeError() {
  return "review too large to judge: more than " + std::to_string(kMaxReviewValues) +
         " JSON values (object members and array elements) in the parts Palisade reads";
}

bool AdmissionRequest::ParseWhole(std::size_t size, bool ascii, std::string* error) {
  rapidjson::Reader reader;
  ReviewStream stream(buffer_.data());
  bool too_deep = false;
  rapidjson::ParseResult parsed;
  auto generate = [&](rapidjson::Document& document) {
    NestingLimit handler(document);
    if (ascii) {
      parsed = reader.Parse<rapidjson::kParseInsituFlag>(stream, handler);
    } else {
      parsed = reader.Parse<rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag>(
          stream, handler);
    }
    too_deep = handler.too_deep();
    too_large_ = handler.too_large();
    // In situ, a NUL byte ends the text early: whatever follows it is left over.
    if (parsed && stream.Tell() != size) {
      parsed.Set(rapidjson::kParseErrorDocumentRootNotSingular, stream.Tell());
    }
    return !parsed.IsError();
  };
  document_.Populate(generate);
  if (too_large_) {
    *error = TooLargeError();
    return false;
  }
  if (parsed.IsError()) {
    *error = std::string("malformed JSON: ") +
             (too_deep ? "nesting deeper than " + std::to_string(kMaxReviewNesting) + " levels"
                       : rapidjson::GetParseError_En(parsed.Code())) +
             " (at offset " + std::to_string(parsed.Offset()) + ")";
    return false;
  }
  std::vector<std::string_view> scratch;
  if (const rapidjson::Value* duplicate = FindDuplicateKey(document_, scratch)) {
    *error = "malformed JSON: duplicate key \"" + std::string(json::View(*duplicate)) + "\"";
    return false;
  }
  return true;
}

bool AdmissionRequest::Parse(std::string_view body, std::string* error, Decode decode) {
  const auto copy_in = [&] {
    buffer_.reserve(body.size() + 1 + json_scan::kScanPadding);
    buffer_.assign(body.data(), body.size());
    buffer_.append(1 + json_scan::kScanPadding, '\0');
  };
  copy_in();
  // Invalid UTF-8 is refused: it could not be echoed back in a valid JSON answer. An all-ASCII
  // body has none, and its strings skip the per-run UTF-8 check.
  const bool ascii = json_scan::AllAscii(body);
  too_large_ = false;
  if (decode == Decode::kJudged &&
      DecodeJudgedParts(buffer_.data(), body.size(), ascii, document_, &too_large_)) {
    whole_ = false;
  } else if (too_large_) {
    // The whole parse would build more still.
    *error = TooLargeError();
    return false;
  } else {
    // The whole review, with RapidJSON's reader: what the fast decoder does not take (malformed
    // or unusual text) is refused, or taken, here with the exact reason.
    if (decode == Decode::kJudged) copy_in();  // the fast decoder unescaped strings in place
    whole_ = true;
    if (!ParseWhole(body.size(), ascii, error)) return false;
  }
  if (!document_.IsObject()) {
    *error = "not an AdmissionReview: the body is not a JSON object";
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

// Escapes exactly as rapidjson::Writer does by default (so answers are byte-for-byte what they
// were): '"', '\\' and control characters; other bytes as they are.
namespace {

bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// The letter after the backslash, or 0 for the \u00XX form.
char ShortEscape(unsigned char c) {
  switch (c) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '\b':
      return 'b';
    case '\t':
      return 't';
    case '\n':
      return 'n';
    case '\f':
      return 'f';
    case '\r':
      return 'r';
    default:
      return 0;
  }
}

// Bytes an escape adds to the text.
std::size_t EscapeGrowth(unsigned char c) { return ShortEscape(c) != 0 ? 1 : 5; }

char* PutEscape(char* p, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  *p++ = '\\';
  if (const char letter = ShortEscape(c); letter != 0) {
    *p++ = letter;
    return p;
  }
  *p++ = 'u';
  *p++ = '0';
  *p++ = '0';
  *p++ = kHex[c >> 4];
  *p++ = kHex[c & 0xF];
  return p;
}

// Whether any of the eight bytes of `word` needs an escape: a '"', a '\\' or a control character
// (the exact tests of "has a zero byte" and "has a byte below n" of Bit Twiddling Hacks).
bool WordNeedsEscape(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t quote = word ^ (kOnes * '"');
  const std::uint64_t backslash = word ^ (kOnes * '\\');
  return (has_zero(quote) | has_zero(backslash) | ((word - kOnes * 0x20) & ~word & kHigh)) != 0;
}

// Where `text` may first need an escape (the start of its block of sixteen, or the byte); its size
// when it needs none.
std::size_t EscapeFreePrefix(const char* in, std::size_t size) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= size; i += 16) {
    if (json_scan::StopMask(in + i) != 0) return i;
  }
  // The last few bytes (most strings are shorter than sixteen) as two words that may overlap, read
  // from within the text: two word tests cost less than a test per byte or a copy into a block.
  const std::size_t rest = size - i;
  if (rest >= 4) {
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
    if (rest >= 8) {
      std::memcpy(&head, in + i, 8);
      std::memcpy(&tail, in + size - 8, 8);
    } else {
      std::uint32_t first = 0;
      std::uint32_t last = 0;
      std::memcpy(&first, in + i, 4);
      std::memcpy(&last, in + size - 4, 4);
      head = first * 0x100000001ULL;  // each half the same four bytes: no stray zero byte
      tail = last * 0x100000001ULL;
    }
    return WordNeedsEscape(head) || WordNeedsEscape(tail) ? i : size;
  }
  for (std::size_t k = i; k < size; ++k) {
    if (NeedsEscape(static_cast<unsigned char>(in[k]))) return i;
  }
  return size;
#else
  for (; i < size; ++i) {
    if (NeedsEscape(static_cast<unsigned char>(in[i]))) return i;
  }
  return size;
#endif
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  const char* in = text.data();
  const std::size_t size = text.size();
  // Most strings (keys, names, levels, a log line's fields) need no escape: appended whole.
  const std::size_t clean = EscapeFreePrefix(in, size);
  if (clean == size) {
    const std::size_t start = out.size();
    out.resize(start + size + 2);
    char* const p = out.data() + start;
    p[0] = '"';
    std::memcpy(p + 1, in, size);
    p[size + 1] = '"';
    return;
  }
  // Sized first, then written in place, sixteen bytes at a time with SSE2: a denial naming tens
  // of thousands of quoted containers has an escape every few bytes.
  std::size_t extra = 0;
  std::size_t i = clean;
#if defined(__SSE2__)
  for (; i + 16 <= size; i += 16) {
    for (unsigned stops = json_scan::StopMask(in + i); stops != 0; stops &= stops - 1) {
      extra += EscapeGrowth(static_cast<unsigned char>(in[i + __builtin_ctz(stops)]));
    }
  }
#endif
  for (; i < size; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (NeedsEscape(c)) extra += EscapeGrowth(c);
  }
  const std::size_t start = out.size();
  const std::size_t end = start + size + extra + 2;
  // Sixteen bytes of slack: a run between escapes is copied as a whole block of sixteen (a fixed
  // size copy is two instructions; one of the run's length is a call), and only the run is kept.
  out.resize(end + 16);
  char* p = out.data() + start;
  *p++ = '"';
  std::memcpy(p, in, clean);
  p += clean;
  i = clean;
#if defined(__SSE2__)
  char block[32] = {};  // a block of the text, and room to copy sixteen from any offset in it
  for (; i + 16 <= size; i += 16) {
    const unsigned stops = json_scan::StopMask(in + i);
    if (stops == 0) {
      std::memcpy(p, in + i, 16);
      p += 16;
      continue;
    }
    std::memcpy(block, in + i, 16);
    std::size_t from = 0;
    for (unsigned rest = stops; rest != 0; rest &= rest - 1) {
      const auto at = static_cast<std::size_t>(__builtin_ctz(rest));
      std::memcpy(p, block + from, 16);
      p += at - from;
      p = PutEscape(p, static_cast<unsigned char>(block[at]));
      from = at + 1;
    }
    std::memcpy(p, block + from, 16);
    p += 16 - from;
  }
#endif
  for (; i < size; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (NeedsEscape(c)) {
      p = PutEscape(p, c);
    } else {
      *p++ = static_cast<char>(c);
    }
  }
  *p = '"';
  out.resize(end);
}

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The two Base64 characters of every 12-bit value: a 3-byte group takes two lookups, not four.
constexpr std::array<char, 8192> kBase64Pairs = [] {
  std::array<char, 8192> pairs{};
  for (unsigned bits = 0; bits < 4096; ++bits) {
    pairs[2 * bits] = kBase64Alphabet[bits >> 6];
    pairs[2 * bits + 1] = kBase64Alphabet[bits & 63];
  }
  return pairs;
}();

// Writes the Base64 of `data` to `out`, which has room for (size + 2) / 3 * 4 characters.
void Base64Into(std::string_view data, char* out) {
  std::size_t i = 0;
  // Six bytes at a time from one eight-byte read, while eight are left: four pair lookups.
  for (; i + 8 <= data.size(); i += 6) {
    std::uint64_t word = 0;
    std::memcpy(&word, data.data() + i, 8);
    if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
    std::memcpy(out, &kBase64Pairs[2 * ((word >> 52) & 0xFFF)], 2);
    std::memcpy(out + 2, &kBase64Pairs[2 * ((word >> 40) & 0xFFF)], 2);
    std::memcpy(out + 4, &kBase64Pairs[2 * ((word >> 28) & 0xFFF)], 2);
    std::memcpy(out + 6, &kBase64Pairs[2 * ((word >> 16) & 0xFFF)], 2);
    out += 8;
  }
  for (; i + 2 < data.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    std::memcpy(out, &kBase64Pairs[2 * (n >> 12)], 2);
    std::memcpy(out + 2, &kBase64Pairs[2 * (n & 0xFFF)], 2);
    out += 4;
  }
  if (i + 1 == data.size()) {
    const unsigned n = static_cast<unsigned char>(data[i]) << 16;
    *out++ = kBase64Alphabet[(n >> 18) & 63];
    *out++ = kBase64Alphabet[(n >> 12) & 63];
    *out++ = '=';
    *out++ = '=';
  } else if (i + 2 == data.size()) {
    const unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8);
    *out++ = kBase64Alphabet[(n >> 18) & 63];
    *out++ = kBase64Alphabet[(n >> 12) & 63];
    *out++ = kBase64Alphabet[(n >> 6) & 63];
    *out++ = '=';
  }
}

std::size_t Base64Size(std::size_t size) { return (size + 2) / 3 * 4; }

}  // namespace

std::string Base64(std::string_view data) {
  std::string out(Base64Size(data.size()), '\0');
  Base64Into(data, out.data());
  return out;
}

// Written by hand rather than through rapidjson::Writer (a character at a time into the string):
// the same bytes, a fraction of the instructions.
std::string EncodeResponse(std::string_view api_version, std::string_view uid,
                           const AdmissionResponse& response) {
  std::string out;
  std::size_t size = 128 + api_version.size() + uid.size() + response.message.size() +
                     Base64Size(response.patch.size());
  for (const std::string& warning : response.warnings) size += warning.size() + 3;
  for (const auto& [key, value] : response.audit_annotations) size += key.size() + value.size() + 6;
  out.reserve(size);
  out += R"({"apiVersion":)";
  AppendJsonString(out, api_version);
  out += R"(,"kind":"AdmissionReview","response":{"uid":)";
  AppendJsonString(out, uid);
  out += response.allowed ? R"(,"allowed":true)" : R"(,"allowed":false)";
  if (!response.allowed) {
    char code[16];
    const auto written = std::to_chars(code, code + sizeof code, response.code);
    out += R"(,"status":{"code":)";
    out.append(code, written.ptr);
    out += R"(,"reason":)";
    AppendJsonString(out, response.reason);
    out += R"(,"message":)";
    AppendJsonString(out, response.message);
    out += '}';
  }
  if (!response.patch.empty()) {
    out += R"(,"patchType":"JSONPatch","patch":")";  // Base64 needs no escaping
    const std::size_t at = out.size();
    out.resize(at + Base64Size(response.patch.size()));
    Base64Into(response.patch, out.data() + at);
    out += '"';
  }
  if (!response.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (std::size_t i = 0; i < response.warnings.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, response.warnings[i]);
    }
    out += ']';
  }
  if (!response.audit_annotations.empty()) {
    out += R"(,"auditAnnotations":{)";
    bool first = true;
    for (const auto& [key, value] : response.audit_annotations) {
      if (!first) out += ',';
      first = false;
      AppendJsonString(out, key);
      out += ':';
      AppendJsonString(out, value);
    }
    out += '}';
  }
  out += "}}";
  return out;
}

}  // namespace palisade::policy
