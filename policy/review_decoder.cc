#include "policy/review_decoder.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/json_scan.h"

// A review is mostly what nobody judges: managedFields, kubectl's last-applied annotation, long env
// lists, status. This decoder goes over the text once, building the DOM for the parts read and only
// checking the rest (syntax, UTF-8, duplicate keys, nesting) without unescaping or allocating.
// What it keeps is exactly what the whole parse builds; a skipped value becomes its JSON text, so
// comparing two templates (an UPDATE's object and oldObject) still sees any change in it.

namespace palisade::policy {
namespace {

using rapidjson::SizeType;

// Where a value sits, as far as telling read parts from skipped ones needs.
enum class Where : std::uint8_t {
  kAny,  // kept whole, and everything under it
  kReview,
  kRequest,
  kObject,    // request.object or request.oldObject
  kTemplate,  // a workload's pod template or a CronJob's job template
  kMetadata,
  kAnnotations,
  kSpec,        // a pod's or a workload's spec
  kContainers,  // initContainers, containers or ephemeralContainers
  kContainer,
  kVolumes,     // a pod's volumes
  kVolume,      // one of them: its name is read, its sources only for being there
  kSkip,        // checked, kept as its text
  kSkipString,  // likewise if it is a string; any other type is kept for the reader to report
  kSkipNested,  // likewise if it is an object or an array; a scalar (null included) is kept
};

// Container fields no check, default or comparison reads (pod.cc reads the rest of a container).
// By length first: a container has a dozen keys, and most are none of these.
bool UnreadContainerField(std::string_view key) {
  switch (key.size()) {
    case 3:
      return key == "env";
    case 4:
      return key == "args";
    case 7:
      return key == "envFrom" || key == "command";
    case 9:
      return key == "resources";
    case 12:
      return key == "volumeMounts" || key == "resizePolicy";
    case 13:
      return key == "volumeDevices";
    default:
      return false;
  }
}

// Pod spec fields no check, default or comparison reads: scheduling and the like.
bool UnreadSpecField(std::string_view key) {
  switch (key.size()) {
    case 8:
      return key == "affinity" || key == "overhead";
    case 9:
      return key == "dnsConfig";
    case 11:
      return key == "tolerations" || key == "hostAliases";
    case 12:
      return key == "nodeSelector";
    case 14:
      return key == "readinessGates" || key == "resourceClaims";
    case 15:
      return key == "schedulingGates";
    case 16:
      return key == "imagePullSecrets";
    case 25:
      return key == "topologySpreadConstraints";
    default:
      return false;
  }
}

Where MemberWhere(Where parent, std::string_view key) {
  switch (parent) {
    case Where::kReview:
      return key == "request" ? Where::kRequest : Where::kAny;
    case Where::kRequest:
      if (key == "object" || key == "oldObject") return Where::kObject;
      // The request's own GVK and GVR (kind and resource are read), and the operation's options.
      return key == "requestKind" || key == "requestResource" || key == "options" ? Where::kSkip
                                                                                  : Where::kAny;
    case Where::kObject:
      if (key == "status") return Where::kSkip;
      [[fallthrough]];
    case Where::kTemplate:
      if (key == "metadata") return Where::kMetadata;
      if (key == "spec") return Where::kSpec;
      return Where::kAny;
    case Where::kMetadata:
      if (key == "managedFields" || key == "ownerReferences") return Where::kSkip;
      return key == "annotations" ? Where::kAnnotations : Where::kAny;
    case Where::kAnnotations:
      return key == "kubectl.kubernetes.io/last-applied-configuration" ? Where::kSkipString
                                                                       : Where::kAny;
    case Where::kSpec:
      if (key == "containers" || key == "initContainers" || key == "ephemeralContainers") {
        return Where::kContainers;
      }
      if (key == "volumes") return Where::kVolumes;
      if (UnreadSpecField(key)) return Where::kSkip;
      return key == "template" || key == "jobTemplate" ? Where::kTemplate : Where::kAny;
    case Where::kContainer:
      return UnreadContainerField(key) ? Where::kSkip : Where::kAny;
    case Where::kVolume:
      // pod.cc reads a volume's name, and which of its other members are not null.
      return key == "name" ? Where::kAny : Where::kSkipNested;
    default:
      return Where::kAny;
  }
}

// kValidate: strings are checked for invalid UTF-8 (the text is not all ASCII).
template <bool kValidate>
class Decoder {
 public:
  Decoder(char* text, std::size_t size, rapidjson::Document& document)
      : p_(text), size_(size), document_(document) {}

  // The whole text is one value, with nothing after it but whitespace.
  bool Root() {
    SkipWhitespace();
    if (!Value(Where::kReview)) return false;
    SkipWhitespace();
    return *p_ == '\0';
  }

  const char* position() const { return p_; }
  bool too_large() const { return too_large_; }

 private:
  void SkipWhitespace() { json_scan::SkipWhitespace(p_); }

  // The text ends with a NUL and padding, so a literal's bytes can be compared outright.
  bool Literal(const char* word, std::size_t length) {
    if (std::memcmp(p_, word, length) != 0) return false;
    p_ += length;
    return true;
  }

  // Only plain integers are taken, classified as RapidJSON does; a fraction, an exponent or more
  // than 19 digits (which RapidJSON may turn into a double) is left to the whole parse.
  bool Number() {
    const char* const begin = p_;
    char* const end = SkipNumber(p_);
    if (end == nullptr) return false;
    p_ = end;
    const bool minus = *begin == '-';
    std::uint64_t magnitude = 0;
    for (const char* digit = begin + (minus ? 1 : 0); digit != end; ++digit) {
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(*digit - '0');
    }
    if (!minus) return document_.Uint64(magnitude);
    constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;
    if (magnitude > kMinMagnitude) return false;
    return document_.Int64(magnitude == kMinMagnitude ? std::numeric_limits<std::int64_t>::min()
                                                      : -static_cast<std::int64_t>(magnitude));
  }

  // A string whose opening quote is at p_, unescaped in place; its content in [*begin, *end).
  // Inlined: the compiler may otherwise call it for every key and value.
  [[gnu::always_inline]] bool String(char** begin, char** end) {
    ++p_;
    *begin = p_;
    return json_scan::ScanPlainString<kValidate>(p_, end) || EscapedString(end);
  }

  // The rest of String, for a string with an escape (or, when validating, a byte above 0x7F).
  [[gnu::noinline]] bool EscapedString(char** end) {
    const char* where = nullptr;
    return json_scan::ScanString<kValidate, true>(p_, end, &where) == rapidjson::kParseErrorNone;
  }

  // What follows a member or an element: a comma (taken, and the whitespace after it), the
  // `close` of its object or array (taken), or anything else, a fault.
  enum class Follow : std::uint8_t { kNext, kClose, kFault };
  Follow Follows(char close) {
    SkipWhitespace();
    if (*p_ == ',') {
      ++p_;
      SkipWhitespace();
      return Follow::kNext;
    }
    if (*p_ != close) return Follow::kFault;
    ++p_;
    return Follow::kClose;
  }

  // A string, the most common value, is taken inline; anything else by a call.
  [[gnu::always_inline]] bool Value(Where where) {
    if (*p_ == '"') {
      char* begin = nullptr;
      char* end = nullptr;
      return String(&begin, &end) &&
             document_.String(begin, static_cast<SizeType>(end - begin), false);
    }
    return OtherValue(where);
  }

  [[gnu::noinline]] bool OtherValue(Where where) {
    switch (*p_) {
      case '{':
        return Object(where);
      case '[':
        return Array(where);
      case 't':
        return Literal("true", 4) && document_.Bool(true);
      case 'f':
        return Literal("false", 5) && document_.Bool(false);
      case 'n':
        return Literal("null", 4) && document_.Null();
      default:
        return Number();
    }
  }

  bool Object(Where where) {
    ++p_;
    if (++depth_ > kMaxReviewNesting) return false;
    document_.StartObject();
    SkipWhitespace();
    const std::size_t first_key = key_count_;
    SizeType members = 0;
    if (*p_ != '}') {
      for (;;) {
        if (*p_ != '"') return false;
        char* begin = nullptr;
        char* end = nullptr;
        if (!String(&begin, &end)) return false;
        const std::string_view key(begin, static_cast<std::size_t>(end - begin));
        PushKey(key);
        document_.Key(begin, static_cast<SizeType>(key.size()), false);
        SkipWhitespace();
        if (*p_ != ':') return false;
        ++p_;
        SkipWhitespace();
        Where child = where == Where::kAny ? Where::kAny : MemberWhere(where, key);
        if (child == Where::kSkipString) child = *p_ == '"' ? Where::kSkip : Where::kAny;
        if (child == Where::kSkipNested) {
          child = *p_ == '{' || *p_ == '[' ? Where::kSkip : Where::kAny;
        }
        if (child == Where::kSkip) {
          char* const text = p_;
          if (!Skip()) return false;
          document_.String(text, static_cast<SizeType>(p_ - text), false);
        } else if (!Value(child)) {
          return false;
        }
        ++members;
        if (!Built()) return false;
        const Follow follow = Follows('}');
        if (follow == Follow::kFault) return false;
        if (follow == Follow::kClose) break;
      }
    } else {
      ++p_;
    }
    if (key_count_ - first_key > 1 && Repeats(first_key)) return false;
    key_count_ = first_key;
    --depth_;
    return document_.EndObject(members);
  }

  bool Array(Where where) {
    ++p_;
    if (++depth_ > kMaxReviewNesting) return false;
    document_.StartArray();
    SkipWhitespace();
    const Where element = where == Where::kContainers ? Where::kContainer
                          : where == Where::kVolumes  ? Where::kVolume
                                                      : Where::kAny;
    SizeType elements = 0;
    if (*p_ != ']') {
      for (;;) {
        if (!Value(element)) return false;
        ++elements;
        if (!Built()) return false;
        const Follow follow = Follows(']');
        if (follow == Follow::kFault) return false;
        if (follow == Follow::kClose) break;
      }
    } else {
      ++p_;
    }
    --depth_;
    return document_.EndArray(elements);
  }

  // Counts a member or an element built (see kMaxReviewValues): checked as they come, since an
  // array's elements wait on the document's stack (16 bytes each, and more as it grows) until
  // its end.
  bool Built() {
    if (--unbuilt_ != 0) [[likely]]
      return true;
    too_large_ = true;
    return false;
  }

  // Skipping: the same checks, nothing built or written, in one loop over a local pointer (no
  // recursion and no calls on the way, so the pointer stays in a register). The gotos are the
  // states of a JSON parser: a value, a key, and what may follow a value.

  // The rest of a string whose opening quote is before `p`; past its closing quote, or nullptr.
  // *escaped: the string holds an escape that Unescaped must rewrite (any, when validating).
  static char* SkipString(char* p, bool* escaped) {
    if constexpr (kValidate) {
      const char* where = nullptr;
      return json_scan::ScanString<true, false>(p, nullptr, &where, escaped) ==
                     rapidjson::kParseErrorNone
                 ? p
                 : nullptr;
    } else {
      return json_scan::SkipAsciiString(p, escaped);
    }
  }

  // Past the plain integer at `p` (see Number), or nullptr.
  static char* SkipNumber(char* p) {
    if (*p == '-') ++p;
    if (*p == '0') {
      ++p;
    } else if (*p >= '1' && *p <= '9') {
      int digits = 0;
      while (*p >= '0' && *p <= '9') {
        if (++digits > 19) return nullptr;
        ++p;
      }
    } else {
      return nullptr;
    }
    return *p == '.' || *p == 'e' || *p == 'E' ? nullptr : p;
  }

  // Out of line: it runs once per skipped value, and on its own its loop is compiled tighter than
  // inlined in Value (fewer instructions per byte skipped).
  [[gnu::noinline]] bool Skip() {
    char* p = p_;
    const int base = depth_;
    int depth = depth_;  // open levels: objects_[depth] tells an object from an array
    // Reviews from the API server are compact: each state looks for the byte it expects first,
    // and only on a mismatch for whitespace before it.
  value:
    switch (*p) {
      case '{':
        // managedFields' "f:name":{}, hundreds of them in a real pod (nested no deeper than any)
        if (p[1] == '}' && depth < kMaxReviewNesting) {
          p += 2;
          goto after;
        }
        if (++depth > kMaxReviewNesting) return false;
        objects_[depth] = true;
        first_keys_[depth] = key_count_;
        ++p;
        if (*p == '"') goto key;
        json_scan::SkipWhitespace(p);
        if (*p != '}') goto key;
        ++p;
        --depth;
        goto after;
      case '[':
        if (++depth > kMaxReviewNesting) return false;
        objects_[depth] = false;
        ++p;
        json_scan::SkipWhitespace(p);
        if (*p != ']') goto value;
        ++p;
        --depth;
        goto after;
      case '"': {
        bool escaped = false;
        p = SkipString(p + 1, &escaped);
        if (p == nullptr) return false;
        goto after;
      }
      case 't':
        if (std::memcmp(p, "true", 4) != 0) return false;
        p += 4;
        goto after;
      case 'f':
        if (std::memcmp(p, "false", 5) != 0) return false;
        p += 5;
        goto after;
      case 'n':
        if (std::memcmp(p, "null", 4) != 0) return false;
        p += 4;
        goto after;
      case ' ':
      case '\n':
      case '\r':
      case '\t':
        ++p;
        goto value;
      default:
        p = SkipNumber(p);
        if (p == nullptr) return false;
        goto after;
    }
  key : {
    if (*p != '"') [[unlikely]] {
      json_scan::SkipWhitespace(p);
      if (*p != '"') return false;
    }
    char* const begin = p + 1;
    bool escaped = false;
    p = SkipString(begin, &escaped);
    if (p == nullptr) return false;
    std::string_view name(begin, static_cast<std::size_t>(p - 1 - begin));
    if (escaped) name = Unescaped(name);
    PushKey(name);
    if (*p != ':') [[unlikely]] {
      json_scan::SkipWhitespace(p);
      if (*p != ':') return false;
    }
    ++p;
    goto value;
  }
  after:
    if (depth == base) {
      p_ = p;
      return true;
    }
    if (objects_[depth]) {
      if (*p == ',') {
        ++p;
        goto key;
      }
      if (*p != '}') [[unlikely]] {
        json_scan::SkipWhitespace(p);
        if (*p == ',') {
          ++p;
          goto key;
        }
        if (*p != '}') return false;
      }
      const std::size_t first = first_keys_[depth];
      if (key_count_ - first > 1 && Repeats(first)) return false;
      key_count_ = first;
    } else {
      if (*p == ',') {
        ++p;
        goto value;
      }
      if (*p != ']') [[unlikely]] {
        json_scan::SkipWhitespace(p);
        if (*p == ',') {
          ++p;
          goto value;
        }
        if (*p != ']') return false;
      }
    }
    ++p;
    --depth;
    goto after;
  }

  // Keys of a skipped object are compared in one spelling, so that duplicates are found by value,
  // as the whole parse finds them: every character as it is, except '"' and '\\', which are
  // escaped. A key whose only escapes are \" and \\ (kubectl's "k:{\"name\":\"A\"}") is already
  // spelled so; any other escaped key (`raw`, checked already) is written so into a copy (the
  // skipped text stays as it was). The copies share one block, as large as the text (they are
  // never longer than what they copy) and 16 bytes more, which copying 16 bytes at a time may
  // write. Kept out of line: it is seldom needed, and inlined it makes the parse loop larger.
  [[gnu::noinline]] std::string_view Unescaped(std::string_view raw) {
    if (unescaped_ == nullptr) unescaped_ = std::make_unique_for_overwrite<char[]>(size_ + 16);
    char* const begin = unescaped_.get() + unescaped_used_;
    char* out = begin;
    const char* in = raw.data();
    const char* const end = in + raw.size();
    while (in != end) {
#if defined(__SSE2__)
      // The run before the next backslash, 16 bytes at a time (the text is padded: reading past
      // the key is safe).
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), chunk);
      const auto backslashes =
          static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'))));
      const std::size_t run = std::min<std::size_t>(
          backslashes == 0 ? 16 : __builtin_ctz(backslashes), static_cast<std::size_t>(end - in));
      in += run;
      out += run;
      if (in == end || *in != '\\') continue;
#else
      if (*in != '\\') {
        *out++ = *in++;
        continue;
      }
#endif
      if (const char plain = json_scan::Unescaped(in[1]); plain != 0) {
        if (plain == '"' || plain == '\\') *out++ = '\\';
        *out++ = plain;
        in += 2;
        continue;
      }
      const json_scan::Escape escape = json_scan::ReadEscape(in);  // cannot fail: checked
      if (escape.codepoint == '"' || escape.codepoint == '\\') *out++ = '\\';
      out = json_scan::EncodeUtf8(escape.codepoint, out);
      in += escape.length;
    }
    unescaped_used_ += static_cast<std::size_t>(out - begin);
    return {begin, static_cast<std::size_t>(out - begin)};
  }

  // keys_ grows by doubling; pushing is a store and an increment, on the hottest path.
  void PushKey(std::string_view key) {
    if (key_count_ == key_capacity_) [[unlikely]]
      GrowKeys();
    keys_[key_count_++] = key;
  }

  [[gnu::noinline]] void GrowKeys() {
    const std::size_t capacity = key_capacity_ == 0 ? 64 : 2 * key_capacity_;
    auto grown = std::make_unique<std::string_view[]>(capacity);
    std::copy(keys_.get(), keys_.get() + key_count_, grown.get());
    keys_ = std::move(grown);
    key_capacity_ = capacity;
  }

  // Whether two keys of the object whose keys start at keys_[first] are the same. Two or three
  // keys (most objects of more than one) are compared here, more out of line: the parse loop with
  // the whole of it inlined costs more than the call.
  bool Repeats(std::size_t first) {
    const std::string_view* const key = keys_.get() + first;
    switch (key_count_ - first) {
      case 2:
        return key[0] == key[1];
      case 3:
        return key[0] == key[1] || key[0] == key[2] || key[1] == key[2];
      default:
        return RepeatsInAny(first);
    }
  }

  [[gnu::noinline]] bool RepeatsInAny(std::size_t first) {
    const std::string_view* const begin = keys_.get() + first;
    const std::size_t count = key_count_ - first;
    if (count <= 16) {  // the usual object: pairwise is cheaper than hashing
      for (std::size_t i = 1; i < count; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          // Length and first byte before the bytes: keys of one object mostly differ there.
          const std::string_view a = begin[i];
          const std::string_view b = begin[j];
          if (a.size() == b.size() &&
              (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0))) {
            return true;
          }
        }
      }
      return false;
    }
    return RepeatsInMany(begin, count);
  }

  // Repeats for a larger object: an open-addressed table of its keys' positions, at most half
  // full. Keys made to collide (the hash is no secret) would make it quadratic: past a budget of
  // probes the keys are sorted instead. Out of line, so that the usual object pays nothing for it.
  [[gnu::noinline]] bool RepeatsInMany(const std::string_view* begin, std::size_t count) {
    std::size_t size = 64;
    while (size < 2 * count) size *= 2;
    table_.assign(size, 0);
    std::size_t probes_left = 8 * count;
    for (std::size_t i = 0; i < count; ++i) {
      for (std::size_t slot = KeyHash(begin[i]) & (size - 1);; slot = (slot + 1) & (size - 1)) {
        if (table_[slot] == 0) {
          table_[slot] = i + 1;
          break;
        }
        if (begin[table_[slot] - 1] == begin[i]) return true;
        if (--probes_left == 0) return RepeatsSorted(begin, count);
      }
    }
    return false;
  }

  // A key's length and its first, middle and last eight bytes, mixed: keys of one object differ
  // there ("f:image", "k:{\"containerPort\":8080,...}"), and reading three words costs less than
  // hashing every byte of a long key.
  static std::size_t KeyHash(std::string_view key) {
    const std::size_t size = key.size();
    std::uint64_t head = 0;
    std::uint64_t middle = 0;
    std::uint64_t tail = 0;
    if (size >= 8) {
      std::memcpy(&head, key.data(), 8);
      std::memcpy(&middle, key.data() + (size - 8) / 2, 8);
      std::memcpy(&tail, key.data() + size - 8, 8);
    } else {
      for (std::size_t i = 0; i < size; ++i) {
        head |= std::uint64_t{static_cast<unsigned char>(key[i])} << (8 * i);
      }
    }
    std::uint64_t h = (head ^ size) * 0x9E3779B97F4A7C15u;
    h = (h ^ (h >> 32) ^ middle) * 0xC2B2AE3D27D4EB4Fu;
    h = (h ^ (h >> 29) ^ tail) * 0x165667B19E3779F9u;
    return static_cast<std::size_t>(h ^ (h >> 32));
  }

  bool RepeatsSorted(const std::string_view* begin, std::size_t count) {
    sorted_.assign(begin, begin + count);
    // By length first: most keys differ there, and equal keys still end up side by side.
    std::sort(sorted_.begin(), sorted_.end(), [](std::string_view a, std::string_view b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    return std::adjacent_find(sorted_.begin(), sorted_.end()) != sorted_.end();
  }

  char* p_;
  std::size_t size_;
  rapidjson::Document& document_;
  int depth_ = 0;
  std::size_t unbuilt_ = kMaxReviewValues + 1;  // members and elements left to build, plus one
  bool too_large_ = false;
  std::unique_ptr<std::string_view[]> keys_;  // of every open object, innermost last
  std::size_t key_count_ = 0;
  std::size_t key_capacity_ = 0;
  // For Skip, per open level: whether it is an object, and where its keys start in keys_.
  // Written before read: left uninitialized (zeroing them cost more than a small review's parse).
  std::array<bool, kMaxReviewNesting + 1> objects_;
  std::array<std::size_t, kMaxReviewNesting + 1> first_keys_;
  std::vector<std::size_t> table_;  // for RepeatsInMany: 1 + a key's position, 0 for none
  std::vector<std::string_view> sorted_;
  std::unique_ptr<char[]> unescaped_;  // see Unescaped
  std::size_t unescaped_used_ = 0;
};

}  // namespace

bool DecodeJudgedParts(char* text, std::size_t size, bool ascii, rapidjson::Document& document,
                       bool* too_large) {
  bool decoded = false;
  auto generate = [&](rapidjson::Document& handler) {
    if (ascii) {
      Decoder<false> decoder(text, size, handler);
      decoded = decoder.Root() && decoder.position() == text + size;
      *too_large = decoder.too_large();
    } else {
      Decoder<true> decoder(text, size, handler);
      decoded = decoder.Root() && decoder.position() == text + size;
      *too_large = decoder.too_large();
    }
    return decoded;
  };
  document.Populate(generate);
  return decoded;
}

}  // namespace palisade::policy
