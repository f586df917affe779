#pragma once

// Every known namespace's labels, compact: what the server keeps for 10k namespaces. Label keys and
// values repeat heavily across namespaces (and `kubernetes.io/metadata.name` repeats the name), so
// every distinct string is stored once in one buffer and namespaces hold (key, value) ids; a hash
// of indices finds a namespace in O(1). Immutable once built: a change builds a new table (on
// change, not per request). Pure.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/label_selector.h"

namespace palisade::policy {

class NamespaceLabelTable {
 public:
  class Builder;
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

  std::size_t size() const { return namespaces_.size(); }
  bool empty() const { return namespaces_.empty(); }

  // The index of `ns` (namespaces are in name order), or npos.
  std::size_t Find(std::string_view ns) const;
  bool Contains(std::string_view ns) const { return Find(ns) != npos; }
  std::string_view name(std::size_t index) const { return String(namespaces_[index].name); }

  // The labels of the namespace at `index`, as a map: built on demand (for resolving policies once
  // per change, or for messages), not kept.
  Labels LabelsAt(std::size_t index) const;
  // The labels of `ns`; nullopt when the namespace is unknown.
  std::optional<Labels> LabelsOf(std::string_view ns) const;
  // One label of `ns`; nullopt when the namespace or the label is absent.
  std::optional<std::string_view> Label(std::string_view ns, std::string_view key) const;

  // Heap bytes the table holds (its buffers' capacities), for the memory benchmark.
  std::size_t HeapBytes() const;

 private:
  struct Namespace {
    std::uint32_t name;         // string id
    std::uint32_t first_label;  // its labels are [first_label, the next namespace's first_label)
  };
  struct LabelIds {
    std::uint32_t key, value;  // string ids
  };

  std::string_view String(std::uint32_t id) const {
    return std::string_view(chars_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  std::size_t LabelEnd(std::size_t index) const {
    return index + 1 < namespaces_.size() ? namespaces_[index + 1].first_label : labels_.size();
  }

  std::string chars_;                   // every distinct string, back to back
  std::vector<std::uint32_t> offsets_;  // string id -> start in chars_; one more marks the end
  std::vector<Namespace> namespaces_;   // in name order
  std::vector<LabelIds> labels_;        // each namespace's in key order
  std::vector<std::uint32_t> slots_;    // open addressing on the name: namespace index + 1, 0 free
};

// Collects namespaces and their labels (interning as it goes, so a list of 10k namespaces never
// exists in a roomier form), then builds the table.
class NamespaceLabelTable::Builder {
 public:
  Builder() = default;
  Builder(const Builder&) = delete;  // ids_ views the strings of its own strings_
  Builder& operator=(const Builder&) = delete;
  // Starts from `table`'s namespaces, to apply changes to them.
  explicit Builder(const NamespaceLabelTable& table);

  // Sets (replaces) the labels of `ns`: any range of (key, value) pairs of strings.
  template <class Pairs>
  void Set(std::string_view ns, const Pairs& labels) {
    std::vector<LabelIds>& own = namespaces_[Intern(ns)];
    own.clear();
    for (const auto& [key, value] : labels) own.push_back({Intern(key), Intern(value)});
  }
  void Erase(std::string_view ns);
  void Clear();
  std::size_t size() const { return namespaces_.size(); }

  std::shared_ptr<const NamespaceLabelTable> Build() const;

 private:
  std::uint32_t Intern(std::string_view text);

  std::deque<std::string> strings_;  // by id; a deque keeps the views in ids_ valid
  std::unordered_map<std::string_view, std::uint32_t> ids_;
  std::unordered_map<std::uint32_t, std::vector<LabelIds>> namespaces_;  // name id -> labels
};

}  // namespace palisade::policy
