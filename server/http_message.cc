#include "server/http_message.h"

#include <cstdint>

namespace palisade::server {

std::string_view HttpRequest::path() const {
  const std::string_view full(target);
  return full.substr(0, full.find('?'));
}

std::string_view HttpRequest::query() const {
  const std::string_view full(target);
  const std::size_t mark = full.find('?');
  return mark == std::string_view::npos ? std::string_view() : full.substr(mark + 1);
}

void HttpRequest::SetHead(std::string_view method_text, std::string_view target_text,
                          std::string_view content_type_text,
                          std::chrono::steady_clock::time_point now) {
  method.assign(method_text);
  target.assign(target_text);
  content_type.assign(content_type_text);
  deadline.reset();
  if (auto timeout = QueryParameter(query(), "timeout")) {
    if (auto duration = ParseGoDuration(*timeout)) deadline = now + *duration;
  }
}

std::optional<std::string_view> QueryParameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  constexpr std::int64_t kDay = 24LL * 3600 * 1000000000LL;
  std::int64_t total = 0;
  while (!text.empty()) {
    std::int64_t whole = 0;
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
      whole = whole * 10 + (text[digits] - '0');
      if (whole > kDay) return std::nullopt;
      ++digits;
    }
    double fraction = 0;
    std::size_t pos = digits;
    if (pos < text.size() && text[pos] == '.') {
      double scale = 0.1;
      ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        fraction += scale * (text[pos] - '0');
        scale /= 10;
        ++pos;
      }
      if (pos == digits + 1 && digits == 0) return std::nullopt;
    } else if (digits == 0) {
      return std::nullopt;
    }
    text.remove_prefix(pos);
    std::int64_t unit = 0;
    for (const auto& [name, nanos] : {std::pair<std::string_view, std::int64_t>{"ns", 1},
                                      {"us", 1000},
                                      {"\xC2\xB5s", 1000},
                                      {"ms", 1000000},
                                      {"s", 1000000000},
                                      {"m", 60000000000},
                                      {"h", 3600000000000}}) {
      // Two-letter units come first so "ms" is not read as "m".
      if (text.starts_with(name)) {
        unit = nanos;
        text.remove_prefix(name.size());
        break;
      }
    }
    if (unit == 0) return std::nullopt;
    if (whole > kDay / unit) return std::nullopt;  // before the multiply can overflow
    total += whole * unit + static_cast<std::int64_t>(fraction * static_cast<double>(unit));
    if (total > kDay) return std::nullopt;
  }
  return std::chrono::nanoseconds(total);
}

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(body);
  if (!response.body.empty() && response.body.back() != '\n') response.body.push_back('\n');
  return response;
}

bool IsJsonMediaType(std::string_view content_type) {
  constexpr std::string_view kJson = "application/json";
  std::size_t matched = 0;
  for (const char c : content_type.substr(0, content_type.find(';'))) {
    if (c == ' ' || c == '\t') continue;
    // std::tolower on a negative char is undefined; only A-Z are folded.
    const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (matched == kJson.size() || lower != kJson[matched]) return false;
    ++matched;
  }
  return matched == kJson.size();
}

}  // namespace palisade::server
