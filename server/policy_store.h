#pragma once

// The policy set requests read. A reload builds a new immutable set and swaps the pointer; a
// request takes its own reference and never waits for a reload.

#include <atomic>
#include <memory>

#include "policy/namespace_policy.h"

namespace palisade::server {

class PolicyStore {
 public:
  std::shared_ptr<const policy::PolicySet> Get() const { return current_.load(); }
  void Set(std::shared_ptr<const policy::PolicySet> set) { current_.store(std::move(set)); }

 private:
  std::atomic<std::shared_ptr<const policy::PolicySet>> current_;
};

}  // namespace palisade::server
