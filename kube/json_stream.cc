#include "kube/json_stream.h"

namespace palisade::kube {

bool JsonObjectFramer::Feed(std::string_view bytes,
                            const std::function<void(std::string_view)>& on_object) {
  if (failed_) return false;
  size_t start = 0;  // where the current object's bytes in `bytes` begin
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (depth_ == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        start = i + 1;
        continue;
      }
      if (c != '{') {
        failed_ = true;
        return false;
      }
      start = i;
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        if (partial_.empty()) {
          on_object(bytes.substr(start, i + 1 - start));
        } else {
          partial_.append(bytes.substr(start, i + 1 - start));
          on_object(partial_);
          partial_.clear();
        }
        start = i + 1;
      } else if (depth_ < 0) {
        failed_ = true;
        return false;
      }
    }
  }
  if (depth_ > 0) partial_.append(bytes.substr(start));
  return true;
}

}  // namespace palisade::kube
