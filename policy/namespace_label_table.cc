#include "policy/namespace_label_table.h"

#include <algorithm>
#include <functional>

namespace palisade::policy {
namespace {

std::size_t HashName(std::string_view name) { return std::hash<std::string_view>{}(name); }

}  // namespace

std::size_t NamespaceLabelTable::Find(std::string_view ns) const {
  if (slots_.empty()) return npos;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = HashName(ns) & mask;; slot = (slot + 1) & mask) {
    const std::uint32_t entry = slots_[slot];
    if (entry == 0) return npos;
    if (String(namespaces_[entry - 1].name) == ns) return entry - 1;
  }
}

Labels NamespaceLabelTable::LabelsAt(std::size_t index) const {
  Labels labels;
  for (std::size_t i = namespaces_[index].first_label; i < LabelEnd(index); ++i) {
    labels.emplace_hint(labels.end(), String(labels_[i].key), String(labels_[i].value));
  }
  return labels;
}

std::optional<Labels> NamespaceLabelTable::LabelsOf(std::string_view ns) const {
  const std::size_t index = Find(ns);
  if (index == npos) return std::nullopt;
  return LabelsAt(index);
}

std::optional<std::string_view> NamespaceLabelTable::Label(std::string_view ns,
                                                           std::string_view key) const {
  const std::size_t index = Find(ns);
  if (index == npos) return std::nullopt;
  for (std::size_t i = namespaces_[index].first_label; i < LabelEnd(index); ++i) {
    if (String(labels_[i].key) == key) return String(labels_[i].value);
  }
  return std::nullopt;
}

std::size_t NamespaceLabelTable::HeapBytes() const {
  return chars_.capacity() + offsets_.capacity() * sizeof(std::uint32_t) +
         namespaces_.capacity() * sizeof(Namespace) + labels_.capacity() * sizeof(LabelIds) +
         slots_.capacity() * sizeof(std::uint32_t);
}

NamespaceLabelTable::Builder::Builder(const NamespaceLabelTable& table) {
  namespaces_.reserve(table.size());
  for (std::size_t index = 0; index < table.size(); ++index) {
    std::vector<LabelIds>& own = namespaces_[Intern(table.name(index))];
    for (std::size_t i = table.namespaces_[index].first_label; i < table.LabelEnd(index); ++i) {
      own.push_back({Intern(table.String(table.labels_[i].key)),
                     Intern(table.String(table.labels_[i].value))});
    }
  }
}

std::uint32_t NamespaceLabelTable::Builder::Intern(std::string_view text) {
  if (const auto it = ids_.find(text); it != ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(strings_.size());
  strings_.emplace_back(text);
  ids_.emplace(strings_.back(), id);
  return id;
}

void NamespaceLabelTable::Builder::Erase(std::string_view ns) {
  if (const auto it = ids_.find(ns); it != ids_.end()) namespaces_.erase(it->second);
}

void NamespaceLabelTable::Builder::Clear() {
  namespaces_.clear();
  ids_.clear();
  strings_.clear();
}

std::shared_ptr<const NamespaceLabelTable> NamespaceLabelTable::Builder::Build() const {
  auto table = std::make_shared<NamespaceLabelTable>();
  std::vector<std::uint32_t> names;
  names.reserve(namespaces_.size());
  std::size_t label_count = 0;
  for (const auto& [name, labels] : namespaces_) {
    names.push_back(name);
    label_count += labels.size();
  }
  std::sort(names.begin(), names.end(),
            [&](std::uint32_t a, std::uint32_t b) { return strings_[a] < strings_[b]; });

  // Only the strings still in use move to the table (erased namespaces leave theirs behind), in
  // order of first use.
  constexpr std::uint32_t kUnset = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> new_id(strings_.size(), kUnset);
  const auto take = [&](std::uint32_t id) {
    if (new_id[id] == kUnset) {
      new_id[id] = static_cast<std::uint32_t>(table->offsets_.size());
      table->offsets_.push_back(static_cast<std::uint32_t>(table->chars_.size()));
      table->chars_ += strings_[id];
    }
    return new_id[id];
  };
  table->namespaces_.reserve(names.size());
  table->labels_.reserve(label_count);
  std::vector<LabelIds> sorted;
  for (const std::uint32_t name : names) {
    table->namespaces_.push_back({take(name), static_cast<std::uint32_t>(table->labels_.size())});
    sorted = namespaces_.at(name);
    std::stable_sort(sorted.begin(), sorted.end(), [&](const LabelIds& a, const LabelIds& b) {
      return strings_[a.key] < strings_[b.key];
    });
    // One value per key (the first given), as in a map.
    sorted.erase(std::unique(sorted.begin(), sorted.end(),
                             [](const LabelIds& a, const LabelIds& b) { return a.key == b.key; }),
                 sorted.end());
    for (const LabelIds& label : sorted)
      table->labels_.push_back({take(label.key), take(label.value)});
  }
  table->offsets_.push_back(static_cast<std::uint32_t>(table->chars_.size()));
  table->chars_.shrink_to_fit();
  table->offsets_.shrink_to_fit();

  if (!table->namespaces_.empty()) {
    std::size_t slots = 1;
    while (slots < table->namespaces_.size() * 2) slots *= 2;  // at most half full
    table->slots_.assign(slots, 0);
    const std::size_t mask = slots - 1;
    for (std::size_t index = 0; index < table->namespaces_.size(); ++index) {
      std::size_t slot = HashName(table->name(index)) & mask;
      while (table->slots_[slot] != 0) slot = (slot + 1) & mask;
      table->slots_[slot] = static_cast<std::uint32_t>(index + 1);
    }
  }
  return table;
}

}  // namespace palisade::policy
