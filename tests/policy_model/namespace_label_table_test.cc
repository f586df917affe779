// NamespaceLabelTable: lookups, building from a table with changes, interning (the compactness the
// server counts on for 10k namespaces).

#include "policy/namespace_label_table.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace palisade::policy {
namespace {

TEST(NamespaceLabelTable, FindsEveryNamespaceAndItsLabels) {
  NamespaceLabelTable::Builder builder;
  builder.Set("shop", Labels{{"team", "payments"}, {"env", "prod"}});
  builder.Set("blog", std::map<std::string, std::string>{{"env", "dev"}});
  builder.Set("bare", Labels{});
  const auto table = builder.Build();
  ASSERT_EQ(table->size(), 3u);
  // In name order.
  EXPECT_EQ(table->name(0), "bare");
  EXPECT_EQ(table->name(1), "blog");
  EXPECT_EQ(table->name(2), "shop");
  EXPECT_EQ(table->Find("shop"), 2u);
  EXPECT_EQ(table->Find("nope"), NamespaceLabelTable::npos);
  EXPECT_EQ(table->LabelsOf("shop"), (Labels{{"env", "prod"}, {"team", "payments"}}));
  EXPECT_EQ(table->LabelsOf("bare"), Labels{});
  EXPECT_EQ(table->LabelsOf("nope"), std::nullopt);
  EXPECT_EQ(table->Label("shop", "team"), "payments");
  EXPECT_EQ(table->Label("shop", "tier"), std::nullopt);
  EXPECT_EQ(table->Label("nope", "team"), std::nullopt);

  const auto empty = NamespaceLabelTable::Builder().Build();
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->Find("shop"), NamespaceLabelTable::npos);
}

TEST(NamespaceLabelTable, ABuilderFromATableAppliesChanges) {
  NamespaceLabelTable::Builder first;
  first.Set("a", Labels{{"x", "1"}});
  first.Set("b", Labels{{"x", "2"}});
  const auto before = first.Build();

  NamespaceLabelTable::Builder next(*before);
  next.Set("a", Labels{{"x", "3"}, {"y", "4"}});
  next.Erase("b");
  next.Erase("never-there");
  next.Set("c", Labels{});
  const auto after = next.Build();
  EXPECT_EQ(after->size(), 2u);
  EXPECT_EQ(after->LabelsOf("a"), (Labels{{"x", "3"}, {"y", "4"}}));
  EXPECT_FALSE(after->Contains("b"));
  EXPECT_TRUE(after->Contains("c"));
  // The table it came from is immutable.
  EXPECT_EQ(before->LabelsOf("a"), (Labels{{"x", "1"}}));
  EXPECT_TRUE(before->Contains("b"));
}

TEST(NamespaceLabelTable, StoresEachDistinctStringOnce) {
  NamespaceLabelTable::Builder builder;
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "namespace-" + std::to_string(i);
    builder.Set(name, Labels{{"kubernetes.io/metadata.name", name},
                             {"pod-security.kubernetes.io/enforce", "restricted"},
                             {"team", "t" + std::to_string(i % 10)}});
  }
  const auto table = builder.Build();
  ASSERT_EQ(table->size(), 1000u);
  EXPECT_EQ(table->Label("namespace-517", "kubernetes.io/metadata.name"), "namespace-517");
  EXPECT_EQ(table->Label("namespace-517", "team"), "t7");
  // 1000 names (shared with metadata.name), 3 keys and 11 values: about 14 bytes of text, a
  // name id and 3 labels of 2 ids, and 2 hash slots a namespace (about 60 bytes); maps of strings
  // take about 500.
  EXPECT_LT(table->HeapBytes(), 1000u * 100u);
}

}  // namespace
}  // namespace palisade::policy
