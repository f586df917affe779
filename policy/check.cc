#include "policy/check.h"

#include <cstdint>

namespace palisade::policy {
namespace check_text {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHexEscape(std::string& out, char prefix, std::uint32_t value, int digits) {
  out += '\\';
  out += prefix;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kHex[(value >> shift) & 0xF];
}

// Decodes one UTF-8 sequence at text[i]; returns its length, or 0 when it is not valid UTF-8.
std::size_t DecodeRune(std::string_view text, std::size_t i, std::uint32_t& rune) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, rune = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, rune = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, rune = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
    rune = (rune << 6) | (byte(k) & 0x3F);
  }
  if (rune < min || rune > 0x10FFFF || (rune >= 0xD800 && rune <= 0xDFFF)) return 0;
  return length;
}

}  // namespace

std::string GoQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendGoQuote(out, text);
  return out;
}

void AppendGoQuote(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"':
          out += "\\\"";
          continue;
        case '\\':
          out += "\\\\";
          continue;
        case '\a':
          out += "\\a";
          continue;
        case '\b':
          out += "\\b";
          continue;
        case '\f':
          out += "\\f";
          continue;
        case '\n':
          out += "\\n";
          continue;
        case '\r':
          out += "\\r";
          continue;
        case '\t':
          out += "\\t";
          continue;
        case '\v':
          out += "\\v";
          continue;
        default:
          break;
      }
      if (c < 0x20 || c == 0x7F) {
        AppendHexEscape(out, 'x', c, 2);
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    std::uint32_t rune = 0;
    const std::size_t length = DecodeRune(text, i, rune);
    if (length == 0) {
      AppendHexEscape(out, 'x', c, 2);  // an invalid byte, as Go prints it
      ++i;
      continue;
    }
    // Latin-1 controls and the soft hyphen are not printable for Go; other runes are kept.
    if (rune < 0xA0 || rune == 0xAD) {
      AppendHexEscape(out, 'u', rune, 4);
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  out += '"';
}

std::string Containers(std::string_view before, const std::vector<std::string_view>& names,
                       std::string_view after) {
  std::size_t size = before.size() + after.size() + 11;
  for (std::string_view name : names) size += name.size() + 4;
  std::string out;
  out.reserve(size);
  out += before;
  out += Pluralize("container", "containers", names.size());
  out += ' ';
  AppendJoinQuote(out, names);
  out += after;
  return out;
}

std::string Setters(const Findings& findings, std::string_view pod_field) {
  std::vector<std::string> setters;
  std::vector<std::string_view> containers;
  for (const Finding& finding : findings) {
    if (finding.field == pod_field) {
      setters.emplace_back("pod");
    } else {
      containers.push_back(finding.container);
    }
  }
  if (!containers.empty()) setters.push_back(Containers(containers));
  return Join(setters, " and ");
}

std::vector<std::string_view> ContainerNames(const Findings& findings) {
  std::vector<std::string_view> names;
  names.reserve(findings.size());
  for (const Finding& finding : findings) names.push_back(finding.container);
  return names;
}

std::vector<std::string_view> AllValues(const Findings& findings) {
  std::vector<std::string_view> values;
  for (const Finding& finding : findings) {
    values.insert(values.end(), finding.values.begin(), finding.values.end());
  }
  return values;
}

}  // namespace check_text

std::optional<std::string_view> LastAnnotation(const Pod& pod, std::string_view key) {
  return pod.Annotation(key);  // the pod view keeps the last of duplicate keys
}

}  // namespace palisade::policy
