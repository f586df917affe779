#pragma once

// An optional, immutable value shared by its copies. A document's lists and profiles are copied
// into every effective policy that inherits them: as a pointer, not as the text again.

#include <memory>
#include <optional>
#include <utility>

namespace palisade::policy {

template <class T>
class Shared {
 public:
  Shared() = default;
  Shared(std::nullopt_t) {}  // NOLINT: reads like std::optional
  Shared(T value) : value_(std::make_shared<const T>(std::move(value))) {}  // NOLINT: as above

  Shared& operator=(std::nullopt_t) {
    value_.reset();
    return *this;
  }
  Shared& operator=(T value) {
    value_ = std::make_shared<const T>(std::move(value));
    return *this;
  }

  bool has_value() const { return value_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  const T& operator*() const { return *value_; }
  const T* operator->() const { return value_.get(); }
  const T& value() const {
    if (!value_) throw std::bad_optional_access();
    return *value_;
  }
  void reset() { value_.reset(); }

  friend bool operator==(const Shared& a, const Shared& b) {
    return a.value_ == b.value_ || (a && b && *a == *b);
  }
  friend bool operator==(const Shared& a, const T& b) { return a && *a == b; }
  friend bool operator==(const Shared& a, std::nullopt_t) { return !a; }

 private:
  std::shared_ptr<const T> value_;
};

}  // namespace palisade::policy
