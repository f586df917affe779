#pragma once

// Byte-level scanning of JSON text shared by the review decoders and the answer encoder: runs of
// plain string characters 16 bytes at a time, UTF-8 validation, and the in-place string parse.
// Texts end with a NUL and kScanPadding more zero bytes, so scans may read past the NUL.

#include <rapidjson/error/error.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace palisade::policy::json_scan {

// The zero bytes after a text's NUL: SkipAsciiString reads 64 bytes at a time up to 63 past the
// NUL, and a multi-byte UTF-8 sequence cut off at the end is read up to 3 bytes on.
constexpr std::size_t kScanPadding = 64 + 3;

// Moves `p` past JSON whitespace. Reviews from the API server are compact: usually there is none.
inline void SkipWhitespace(char*& p) {
  if (static_cast<unsigned char>(*p) > ' ') return;
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') ++p;
}

// True when every byte is below 0x80: such a text cannot hold invalid UTF-8, so the parser need not
// validate it character by character.
inline bool AllAscii(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
#if defined(__SSE2__)
  __m128i any = _mm_setzero_si128();
  for (; end - p >= 64; p += 64) {
    const auto* block = reinterpret_cast<const __m128i*>(p);
    any = _mm_or_si128(
        any, _mm_or_si128(_mm_or_si128(_mm_loadu_si128(block), _mm_loadu_si128(block + 1)),
                          _mm_or_si128(_mm_loadu_si128(block + 2), _mm_loadu_si128(block + 3))));
  }
  if (_mm_movemask_epi8(any) != 0) return false;
#endif
  std::uint64_t high = 0;
  for (; end - p >= 8; p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    high |= word;
  }
  for (; p != end; ++p) high |= static_cast<unsigned char>(*p);
  return (high & 0x8080808080808080ULL) == 0;
}

#if defined(__SSE2__)
// 0xFF in each byte that is a control character (below 0x20), 0 in the others.
inline __m128i ControlBytes(__m128i bytes) {
  const __m128i control = _mm_set1_epi8(0x1F);
  // bytes <= 0x1F (unsigned) exactly when max(bytes, 0x1F) == 0x1F.
  return _mm_cmpeq_epi8(_mm_max_epu8(bytes, control), control);
}

// One bit per byte of the 16 at `p` that is '"', '\\' or a control character: where a JSON string
// stops being copied as it is.
inline unsigned StopMask(const char* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')),
                                                 _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))),
                                    ControlBytes(bytes));
  return static_cast<unsigned>(_mm_movemask_epi8(stop));
}
#endif

// The number of bytes from `p` before the first '"', '\\' or control character: the run a string
// can copy as it is. The text ends with NUL, so the scan always stops inside the buffer.
inline std::size_t PlainRun(const char* p) {
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

// ScanString<kValidate, true>'s usual case, small enough to inline: a string with no escape (and,
// when validating, no byte above 0x7F) up to its closing quote, which becomes its NUL. False, with
// nothing moved or written, for any other string: ScanString then takes it from the start.
template <bool kValidate>
inline bool ScanPlainString(char*& src, char** end_of_content) {
#if defined(__SSE2__)
  for (char* p = src;; p += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned stops = StopMask(p);
    const unsigned high = kValidate ? static_cast<unsigned>(_mm_movemask_epi8(bytes)) : 0;
    if (stops == 0) {
      if (high != 0) return false;
      continue;
    }
    const unsigned i = static_cast<unsigned>(__builtin_ctz(stops));
    if (p[i] != '"' || (high & ((1u << i) - 1)) != 0) return false;
    p[i] = '\0';
    *end_of_content = p + i;
    src = p + i + 1;
    return true;
  }
#else
  (void)src;
  (void)end_of_content;
  return false;
#endif
}

inline char Unescaped(char escaped) {
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
inline std::size_t InvalidUtf8At(std::string_view run) {
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
inline int Hex4(const char* p) {
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
inline char* EncodeUtf8(unsigned codepoint, char* out) {
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

// The escape that begins at `e` (a backslash): its length (2, 6, or 12 for a surrogate pair) and
// the code point it stands for, or an error. An escaped lone surrogate is an error (RapidJSON takes
// a lone low one, which decodes to invalid UTF-8).
struct Escape {
  std::size_t length = 0;
  unsigned codepoint = 0;
  rapidjson::ParseErrorCode error = rapidjson::kParseErrorNone;
};

inline Escape ReadEscape(const char* e) {
  if (const char plain = Unescaped(e[1]); plain != 0) {
    return {2, static_cast<unsigned char>(plain)};
  }
  if (e[1] != 'u') return {0, 0, rapidjson::kParseErrorStringEscapeInvalid};
  const int high = Hex4(e + 2);
  if (high < 0) return {0, 0, rapidjson::kParseErrorStringUnicodeEscapeInvalidHex};
  const auto codepoint = static_cast<unsigned>(high);
  if (codepoint >= 0xD800 && codepoint <= 0xDBFF) {  // a UTF-16 surrogate pair
    if (e[6] != '\\' || e[7] != 'u')
      return {0, 0, rapidjson::kParseErrorStringUnicodeSurrogateInvalid};
    const int low = Hex4(e + 8);
    if (low < 0) return {0, 0, rapidjson::kParseErrorStringUnicodeEscapeInvalidHex};
    if (low < 0xDC00 || low > 0xDFFF) {
      return {0, 0, rapidjson::kParseErrorStringUnicodeSurrogateInvalid};
    }
    return {12, (((codepoint - 0xD800) << 10) | (static_cast<unsigned>(low) - 0xDC00)) + 0x10000};
  }
  if (codepoint >= 0xDC00 && codepoint <= 0xDFFF) {
    return {0, 0, rapidjson::kParseErrorStringUnicodeSurrogateInvalid};
  }
  return {6, codepoint};
}

// Parses the rest of a string whose opening quote was taken (the same results, error codes and
// offsets as RapidJSON's in-situ parse, but runs of plain characters go 16 bytes at a time).
// kWrite: unescapes in place from `src` on; *end_of_content is where the content ends (a NUL is
// written there). Without kWrite nothing is written: the text is only checked. kValidate: runs
// must be valid UTF-8. On success `src` is past the closing quote; on failure *where is the
// offending byte (an escape's error is reported where the escape begins). *escaped, when given,
// tells whether the string holds an escape.
template <bool kValidate, bool kWrite>
inline rapidjson::ParseErrorCode ScanString(char*& src_io, char** end_of_content,
                                            const char** where, bool* escaped = nullptr) {
  char* src = src_io;
  char* dst = src;
  for (;;) {
    const std::size_t run = PlainRun(src);
    if constexpr (kValidate) {
      const std::size_t bad = InvalidUtf8At(std::string_view(src, run));
      if (bad != run) {
        *where = src + bad;
        return rapidjson::kParseErrorStringInvalidEncoding;
      }
    }
    if constexpr (kWrite) {
      if (dst != src) std::memmove(dst, src, run);
      dst += run;
    }
    src += run;
    const char c = *src;
    if (c == '"') {
      if constexpr (kWrite) {
        *dst = '\0';
        *end_of_content = dst;
      }
      src_io = src + 1;
      return rapidjson::kParseErrorNone;
    }
    *where = src;
    if (c != '\\') {
      return c == '\0' ? rapidjson::kParseErrorStringMissQuotationMark
                       : rapidjson::kParseErrorStringEscapeInvalid;
    }
    if (escaped != nullptr) *escaped = true;
    const Escape escape = ReadEscape(src);
    if (escape.error != rapidjson::kParseErrorNone) return escape.error;
    src += escape.length;
    if constexpr (kWrite) {
      if (escape.codepoint < 0x80) {
        *dst++ = static_cast<char>(escape.codepoint);
      } else {
        dst = EncodeUtf8(escape.codepoint, dst);
      }
    }
  }
}

#if defined(__SSE2__)
// Bit i set where byte p[i] of the 64 at `p` is a backslash, a quote, or a control character.
struct Block64 {
  std::uint64_t backslash = 0;
  std::uint64_t quote = 0;
  std::uint64_t control = 0;
};

inline Block64 Classify64(const char* p) {
  // A movemask is 16 bits, zero-extended: widened as unsigned it needs no further masking.
  const auto bits = [](__m128i mask, int i) {
    return std::uint64_t{static_cast<unsigned>(_mm_movemask_epi8(mask))} << (16 * i);
  };
  Block64 block;
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i quote = _mm_set1_epi8('"');
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
    block.backslash |= bits(_mm_cmpeq_epi8(bytes, backslash), i);
    block.quote |= bits(_mm_cmpeq_epi8(bytes, quote), i);
    block.control |= bits(ControlBytes(bytes), i);
  }
  return block;
}

// SkipAsciiString from the 16 bytes that hold its first escape (at `p`), 64 bytes at a time: which
// bytes are escaped follows from the runs of backslashes (an odd run escapes the byte after it, as
// simdjson finds them), so an escape costs nothing of its own unless it is other than \" or \\.
inline char* SkipEscapedAsciiString(char* p, bool* escaped) {
  constexpr std::uint64_t kEven = 0x5555555555555555ULL;
  std::uint64_t carried = 0;  // bit 0: this block's first byte is escaped
  const char* read_to = p;    // \u escapes before here were read with the one before them
  for (;; p += 64) {
    const Block64 block = Classify64(p);
    const std::uint64_t backslash = block.backslash & ~carried;
    const std::uint64_t follows = (backslash << 1) | carried;
    const std::uint64_t odd_starts = backslash & ~kEven & ~follows;
    std::uint64_t even_runs = 0;
    const bool carry = __builtin_add_overflow(odd_starts, backslash, &even_runs);
    const std::uint64_t escaped_bytes = (kEven ^ (even_runs << 1)) & follows;
    const std::uint64_t ends = (block.quote & ~escaped_bytes) | block.control;
    const std::uint64_t before_end = ends == 0 ? ~std::uint64_t{0} : (ends & (0 - ends)) - 1;
    // Escaped quotes and backslashes need no look; any other escaped byte does: \u and its
    // digits (a surrogate pair's second half was read with its first), or a letter of Unescaped.
    for (std::uint64_t other = escaped_bytes & before_end & ~(block.quote | block.backslash);
         other != 0; other &= other - 1) {
      const char* const at = p + __builtin_ctzll(other);
      if (*at == 'u') {
        if (at > read_to) {
          const Escape escape = ReadEscape(at - 1);
          if (escape.error != rapidjson::kParseErrorNone) return nullptr;
          read_to = at - 1 + escape.length;
        }
      } else if (Unescaped(*at) == 0) {
        return nullptr;
      }
      *escaped = true;
    }
    if (ends != 0) {
      char* const end = p + __builtin_ctzll(ends);
      return *end == '"' ? end + 1 : nullptr;  // else a control character, or the text's NUL
    }
    carried = carry ? 1 : 0;
  }
}
#endif

// Checks the rest of an all-ASCII string whose opening quote was taken, as ScanString<false, false>
// does, but without stopping at every escape (kubectl's last-applied annotation is JSON in a
// string: an escaped quote every few bytes). Returns the byte past the closing quote, or nullptr;
// *escaped is set when the string holds an escape other than \" and \\ (the two a key's text keeps
// as they are when keys are compared; see the skipping decoder).
inline char* SkipAsciiString(char* p, bool* escaped) {
#if defined(__SSE2__)
  // Most strings are plain: 16 bytes at a time up to their closing quote.
  for (;; p += 16) {
    if (const unsigned stops = StopMask(p); stops != 0) {
      const unsigned i = static_cast<unsigned>(__builtin_ctz(stops));
      if (p[i] == '"') return p + i + 1;
      if (p[i] != '\\') return nullptr;  // a control character, or the NUL that ends the text
      return SkipEscapedAsciiString(p, escaped);
    }
  }
#else
  const char* where = nullptr;
  return ScanString<false, false>(p, nullptr, &where, escaped) == rapidjson::kParseErrorNone
             ? p
             : nullptr;
#endif
}

}  // namespace palisade::policy::json_scan
