#include "policy/review.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "policy/json_access.h"

namespace palisade::policy {
namespace {

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

// The review's text, parsed in place. The buffer holds kPadding zero bytes after the text: the
// string scan below reads 16 bytes at a time up to 15 bytes past the NUL that ends the text, and
// RapidJSON's UTF-8 validation takes a multi-byte sequence's continuation bytes without looking for
// the end (the zeros stop a sequence cut off at the end of the body inside the buffer).
constexpr std::size_t kPadding = 16 + 3;
struct ReviewStream : rapidjson::InsituStringStream {
  using rapidjson::InsituStringStream::InsituStringStream;
};

// Found by RapidJSON's reader through argument-dependent lookup, and preferred to its generic
// template, which is not inlined. Reviews from the API server are compact: usually no whitespace.
inline void SkipWhitespace(ReviewStream& is) {
  char* p = is.src_;
  if (static_cast<unsigned char>(*p) > ' ') return;  // the usual case: no whitespace at all
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') ++p;
  is.src_ = p;
}

#if defined(__SSE2__)
// One bit per byte of the 16 at `p` that is '"', '\\' or a control character: where a JSON string
// stops being copied as it is.
unsigned StopMask(const char* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i control = _mm_set1_epi8(0x1F);
  // bytes <= 0x1F (unsigned) exactly when max(bytes, 0x1F) == 0x1F.
  const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')),
                                                 _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))),
                                    _mm_cmpeq_epi8(_mm_max_epu8(bytes, control), control));
  return static_cast<unsigned>(_mm_movemask_epi8(stop));
}
#endif

// The number of bytes from `p` before the first '"', '\\' or control character: the run a string
// can copy as it is. The text ends with NUL, so the scan always stops inside the buffer.
std::size_t PlainRun(const char* p) {
#if defined(__SSE2__)
  for (std::size_t i = 0;; i += 16) {
    if (const unsigned stops = StopMask(p + i); stops != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(stops));
    }
  }
#else
  std::size_t i = 0;
  while (static_cast<unsigned char>(p[i]) >= 0x20 && p[i] != '"' && p[i] != '\\') ++i;
  return i;
#endif
}

char Unescaped(char escaped) {
  switch (escaped) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '/':
      return '/';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

// The offset of the first byte in `run` that does not begin a valid UTF-8 sequence (RFC 3629: no
// overlong forms, surrogates or code points above U+10FFFF), or run.size().
std::size_t InvalidUtf8At(std::string_view run) {
  const auto* p = reinterpret_cast<const unsigned char*>(run.data());
  const std::size_t n = run.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned codepoint;
    unsigned smallest;
    if ((c & 0xE0) == 0xC0) {
      length = 2, codepoint = c & 0x1F, smallest = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, codepoint = c & 0x0F, smallest = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, codepoint = c & 0x07, smallest = 0x10000;
    } else {
      return i;
    }
    if (n - i < length) return i;
    for (std::size_t k = 1; k < length; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      codepoint = (codepoint << 6) | (p[i + k] & 0x3F);
    }
    if (codepoint < smallest || codepoint > 0x10FFFF ||
        (codepoint >= 0xD800 && codepoint <= 0xDFFF)) {
      return i;
    }
    i += length;
  }
  return n;
}

// The value of four hex digits at `p`, or -1.
int Hex4(const char* p) {
  int value = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = (value << 4) | digit;
  }
  return value;
}

// Writes `codepoint` as UTF-8 at `out`; returns the end.
char* EncodeUtf8(unsigned codepoint, char* out) {
  if (codepoint < 0x80) {
    *out++ = static_cast<char>(codepoint);
  } else if (codepoint < 0x800) {
    *out++ = static_cast<char>(0xC0 | (codepoint >> 6));
    *out++ = static_cast<char>(0x80 | (codepoint & 0x3F));
  } else if (codepoint < 0x10000) {
    *out++ = static_cast<char>(0xE0 | (codepoint >> 12));
    *out++ = static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (codepoint & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | (codepoint >> 18));
    *out++ = static_cast<char>(0x80 | ((codepoint >> 12) & 0x3F));
    *out++ = static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (codepoint & 0x3F));
  }
  return out;
}

// Parses the rest of a string whose opening quote was taken, in place, as RapidJSON does (the
// same results, error codes and offsets), but faster: runs of plain characters are found 16 bytes
// at a time and moved whole, where RapidJSON goes a byte at a time to the next 16-byte boundary,
// which is most of a short string. With kValidate, a run must be valid UTF-8. Unlike RapidJSON,
// an escaped lone low surrogate (\uDC00-\uDFFF) is refused: it would decode to invalid UTF-8.
// Works on local pointers (the stream is read once and written once) so they stay in registers.
template <bool kValidate>
rapidjson::ParseErrorCode ParseStringInPlace(ReviewStream& is, std::size_t* offset) {
  char* src = is.src_;
  char* dst = is.dst_;
  const auto fail = [&](rapidjson::ParseErrorCode code, const char* where) {
    *offset = static_cast<std::size_t>(where - is.head_);
    return code;
  };
  for (;;) {
    const std::size_t run = PlainRun(src);
    if constexpr (kValidate) {
      const std::size_t bad = InvalidUtf8At(std::string_view(src, run));
      if (bad != run) return fail(rapidjson::kParseErrorStringInvalidEncoding, src + bad);
    }
    if (dst != src) std::memmove(dst, src, run);
    src += run;
    dst += run;
    const char c = *src;
    if (c == '"') {
      *dst++ = '\0';
      is.src_ = src + 1;
      is.dst_ = dst;
      return rapidjson::kParseErrorNone;
    }
    if (c != '\\') {
      return fail(c == '\0' ? rapidjson::kParseErrorStringMissQuotationMark
                            : rapidjson::kParseErrorStringEscapeInvalid,
                  src);
    }
    // An escape's error is reported where the escape begins.
    const char* const escape = src;
    if (const char plain = Unescaped(src[1]); plain != 0) {
      src += 2;
      *dst++ = plain;
      continue;
    }
    if (src[1] != 'u') return fail(rapidjson::kParseErrorStringEscapeInvalid, escape);
    const int high = Hex4(src + 2);
    if (high < 0) return fail(rapidjson::kParseErrorStringUnicodeEscapeInvalidHex, escape);
    src += 6;
    auto codepoint = static_cast<unsigned>(high);
    if (codepoint >= 0xD800 && codepoint <= 0xDBFF) {  // a UTF-16 surrogate pair
      if (src[0] != '\\' || src[1] != 'u') {
        return fail(rapidjson::kParseErrorStringUnicodeSurrogateInvalid, escape);
      }
      const int low = Hex4(src + 2);
      if (low < 0) return fail(rapidjson::kParseErrorStringUnicodeEscapeInvalidHex, escape);
      if (low < 0xDC00 || low > 0xDFFF) {
        return fail(rapidjson::kParseErrorStringUnicodeSurrogateInvalid, escape);
      }
      src += 6;
      codepoint = (((codepoint - 0xD800) << 10) | (static_cast<unsigned>(low) - 0xDC00)) + 0x10000;
    } else if (codepoint >= 0xDC00 && codepoint <= 0xDFFF) {
      return fail(rapidjson::kParseErrorStringUnicodeSurrogateInvalid, escape);
    }
    dst = EncodeUtf8(codepoint, dst);
  }
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

bool AdmissionRequest::Parse(std::string_view body, std::string* error) {
  buffer_.reserve(body.size() + kPadding);
  buffer_.assign(body.data(), body.size());
  buffer_.append(kPadding, '\0');
  rapidjson::Reader reader;
  ReviewStream stream(buffer_.data());
  bool too_deep = false;
  rapidjson::ParseResult parsed;
  // Invalid UTF-8 is refused: it could not be echoed back in a valid JSON answer. An all-ASCII
  // body has none, and its strings skip the per-run UTF-8 check (ParseStringInPlace<false>).
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

// Escapes exactly as rapidjson::Writer does by default (so answers are byte-for-byte what they
// were): '"', '\\' and control characters; other bytes as they are. Runs without escapes are
// appended whole, not a character at a time.
namespace {

bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// The index of the first byte of `text` at or after `from` that needs escaping, or text.size().
// Sixteen bytes at a time with SSE2, else eight: a byte below 0x20, or equal to '"' or '\\', sets
// its high bit below.
std::size_t NextEscape(std::string_view text, std::size_t from) {
  std::size_t i = from;
#if defined(__SSE2__)
  for (; i + 16 <= text.size(); i += 16) {
    if (const unsigned stops = StopMask(text.data() + i); stops != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(stops));
    }
  }
#endif
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    const std::uint64_t quote_bits = word ^ (kOnes * '"');
    const std::uint64_t backslash_bits = word ^ (kOnes * '\\');
    const std::uint64_t found = ((word - kOnes * 0x20) & ~word) |
                                ((quote_bits - kOnes) & ~quote_bits) |
                                ((backslash_bits - kOnes) & ~backslash_bits);
    if ((found & kHigh) != 0) break;
  }
  for (; i < text.size(); ++i) {
    if (NeedsEscape(static_cast<unsigned char>(text[i]))) return i;
  }
  return i;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = NextEscape(text, 0); i < text.size(); i = NextEscape(text, i + 1)) {
    const auto c = static_cast<unsigned char>(text[i]);
    out.append(text.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (c) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\b':
        out += 'b';
        break;
      case '\t':
        out += 't';
        break;
      case '\n':
        out += 'n';
        break;
      case '\f':
        out += 'f';
        break;
      case '\r':
        out += 'r';
        break;
      default:
        out += "u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
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
