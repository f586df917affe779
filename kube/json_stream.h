#pragma once

// Splits a watch stream into its JSON objects. The API server writes one event object after
// another (newline-separated, but a JSON stream need not be), and HTTP chunks or TCP reads may
// cut anywhere: inside a string, an escape, a multi-byte character or between objects.

#include <functional>
#include <string>
#include <string_view>

namespace palisade::kube {

class JsonObjectFramer {
 public:
  // Feeds the next bytes; calls `on_object` with each complete top-level object, in order.
  // Returns false (and stays failed) when the stream holds something other than objects.
  bool Feed(std::string_view bytes, const std::function<void(std::string_view)>& on_object);

  bool failed() const { return failed_; }
  // Bytes of an object begun but not finished.
  size_t pending() const { return partial_.size(); }

 private:
  std::string partial_;  // the object begun so far
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool failed_ = false;
};

}  // namespace palisade::kube
