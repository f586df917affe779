// YAML text to RapidJSON: core-schema types, multiple documents, anchors, errors and limits.

#include "server/yaml_json.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace palisade::server {
namespace {

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

// The one document in `text`, as compact JSON.
std::string Convert(const std::string& text) {
  const auto documents = ParseYamlDocuments(text);
  EXPECT_EQ(documents.size(), 1u) << text;
  if (documents.size() != 1) return "<" + std::to_string(documents.size()) + " documents>";
  EXPECT_TRUE(documents[0].ok()) << documents[0].ErrorString();
  return ToJson(documents[0].json);
}

std::string ErrorOf(const std::string& text, const YamlLimits& limits = {}) {
  const auto documents = ParseYamlDocuments(text, limits);
  if (documents.empty()) return "<no documents>";
  EXPECT_FALSE(documents.back().ok()) << text;
  return "document " + std::to_string(documents.back().index) + ": " +
         documents.back().ErrorString();
}

TEST(YamlJson, CoreSchemaScalars) {
  EXPECT_EQ(Convert(R"(
a: null
b: ~
c:
d: true
e: False
f: 42
g: -7
h: 3.5
i: 1e3
j: "42"
k: 'true'
l: yes
m: 0x1F
n: 0o17
o: .inf
p: 18446744073709551615
q: +12
r: |
  line
s: 1.2.3
t: !!str 5
u: "null"
v: .5
w: 010
)"),
            R"({"a":null,"b":null,"c":null,"d":true,"e":false,"f":42,"g":-7,"h":3.5,"i":1000.0,)"
            R"("j":"42","k":"true","l":"yes","m":31,"n":15,"o":".inf","p":18446744073709551615,)"
            R"("q":12,"r":"line\n","s":"1.2.3","t":"5","u":"null","v":0.5,"w":10})");
}

TEST(YamlJson, KeysAreStrings) {
  EXPECT_EQ(Convert("1: one\ntrue: yes\n\"x\": [a, {b: c}]\n"),
            R"({"1":"one","true":"yes","x":["a",{"b":"c"}]})");
}

TEST(YamlJson, JsonIsYaml) {
  EXPECT_EQ(Convert(R"({"a": [1, "2", null, false, {"b": 2.25}], "c": "\u00e9\n"})"),
            "{\"a\":[1,\"2\",null,false,{\"b\":2.25}],\"c\":\"\xC3\xA9\\n\"}");
}

TEST(YamlJson, SeveralDocumentsCommentsAndEmptyOnes) {
  const auto documents = ParseYamlDocuments(
      "# leading comment\na: 1 # trailing\n---\n# only a comment\n---\nb: [2]\n---\n");
  ASSERT_EQ(documents.size(), 4u);
  std::vector<std::string> seen;
  for (const auto& document : documents) {
    EXPECT_TRUE(document.ok()) << document.ErrorString();
    seen.push_back(std::to_string(document.index) +
                   (document.empty ? " empty" : " " + ToJson(document.json)));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"0 {\"a\":1}", "1 empty", "2 {\"b\":[2]}", "3 empty"}));
  EXPECT_TRUE(ParseYamlDocuments("").empty());
  EXPECT_TRUE(ParseYamlDocuments("# nothing here\n").empty());
}

TEST(YamlJson, AnchorsAliasesAndMergeKeys) {
  EXPECT_EQ(
      Convert(R"(
base: &base {x: 1, y: 2}
list: &list [a, b]
copy: *base
again: *list
merged:
  <<: *base
  y: 3
several:
  <<: [*base, {z: 4, x: 9}]
quoted:
  "<<": not a merge
)"),
      R"({"base":{"x":1,"y":2},"list":["a","b"],"copy":{"x":1,"y":2},"again":["a","b"],)"
      R"("merged":{"y":3,"x":1},"several":{"x":1,"y":2,"z":4},"quoted":{"<<":"not a merge"}})");
}

TEST(YamlJson, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_EQ(ErrorOf("a: 1\nb: [1, 2\nc: 3\n"),
            "document 0: line 3, column 2: end of sequence flow not found");
  const auto documents = ParseYamlDocuments("a: 1\n---\nb: 1\n  c: 2\n---\nd: 3\n");
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_TRUE(documents[0].ok());
  EXPECT_EQ(ToJson(documents[0].json), R"({"a":1})");
  EXPECT_FALSE(documents[1].ok());
  EXPECT_EQ(documents[1].index, 1);
  EXPECT_EQ(documents[1].line, 4);
  EXPECT_TRUE(documents[1].json.IsNull());
}

TEST(YamlJson, ForEachHandsOverDocumentsAsParsed) {
  const std::string text = "a: 1\n---\nb: [2]\n---\nc: 3\n  d: 4\n---\ne: 5\n";
  std::vector<std::string> seen;
  ForEachYamlDocument(text, [&](YamlDocument& document) {
    seen.push_back(std::to_string(document.index) + " " +
                   (document.ok() ? ToJson(document.json) : document.ErrorString()));
  });
  std::vector<std::string> whole;
  for (const YamlDocument& document : ParseYamlDocuments(text)) {
    whole.push_back(std::to_string(document.index) + " " +
                    (document.ok() ? ToJson(document.json) : document.ErrorString()));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{R"(0 {"a":1})", R"(1 {"b":[2]})",
                                            "2 line 6, column 4: illegal map value"}));
  EXPECT_EQ(seen, whole);

  // Each document is handed over before the next is read: an exception of the callback leaves
  // the parse at once, as itself (not as a YAML error of a later document).
  int calls = 0;
  EXPECT_THROW(ForEachYamlDocument(text,
                                   [&](YamlDocument&) {
                                     ++calls;
                                     throw std::runtime_error("stop");
                                   }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
}

TEST(YamlJson, StructuralErrors) {
  EXPECT_EQ(ErrorOf("a: 1\nb: 2\na: 3\n"), "document 0: line 3, column 1: duplicate key \"a\"");
  EXPECT_EQ(ErrorOf("? [a, b]\n: c\n"),
            "document 0: line 1, column 3: mapping key must be a scalar");
  EXPECT_EQ(ErrorOf("m:\n  <<: 5\n"),
            "document 0: line 2, column 3: merge key \"<<\" needs a mapping or a list of mappings");
}

TEST(YamlJson, DeepNestingIsRefused) {
  EXPECT_EQ(ErrorOf(std::string(300, '[') + std::string(300, ']')),
            "document 0: line 1, column 201: nesting deeper than 200 levels");
  // Far beyond yaml-cpp's own recursion guard: still an error, never a crash.
  const auto documents = ParseYamlDocuments(std::string(100000, '[') + std::string(100000, ']'));
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].ErrorString(), "line 1, column 201: nesting deeper than 200 levels");
  const auto unclosed = ParseYamlDocuments(std::string(100000, '{'));
  ASSERT_EQ(unclosed.size(), 1u);
  EXPECT_FALSE(unclosed[0].ok());
  YamlLimits shallow;
  shallow.max_depth = 2;
  EXPECT_EQ(ErrorOf("a: {b: {c: 1}}", shallow),
            "document 0: line 1, column 8: nesting deeper than 2 levels");
}

TEST(YamlJson, AliasBombIsRefused) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    const char previous = static_cast<char>(level - 1);
    text += std::string(1, level) + ": &" + level + " [";
    for (int i = 0; i < 10; ++i) text += std::string(i ? ", *" : "*") + previous;
    text += "]\n";
  }
  const std::string error = ErrorOf(text);
  EXPECT_NE(error.find("document has more than 1000000 nodes (after expanding aliases)"),
            std::string::npos)
      << error;
  YamlLimits small;
  small.max_nodes = 5;
  EXPECT_EQ(ErrorOf("[1, 2, 3, 4, 5]", small),
            "document 0: line 1, column 14: document has more than 5 nodes (after expanding "
            "aliases)");
}

TEST(YamlJson, RecursiveAliasIsAnError) {
  const auto documents = ParseYamlDocuments("a: &a [1, *a]\n");
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_FALSE(documents[0].ok());
}

// Found by fuzz/policy_fuzzer: yaml-cpp 0.7 loops on a stray top-level ',' (an endless stream of
// empty documents at the same place).
TEST(YamlJson, StrayCommaEndsTheStream) {
  for (const std::string& text : {std::string(","), std::string("\n,\n"),
                                  std::string("a: 1\n---\n,"), std::string("- x\n,")}) {
    const auto documents = ParseYamlDocuments(text);
    ASSERT_FALSE(documents.empty()) << text;
    ASSERT_LE(documents.size(), 4u) << text;  // a document, empty ones, then the error
    EXPECT_FALSE(documents.back().ok()) << text;
    for (std::size_t i = 0; i + 1 < documents.size(); ++i) EXPECT_TRUE(documents[i].ok()) << text;
  }
  const auto documents = ParseYamlDocuments(",");
  EXPECT_EQ(documents.back().ErrorString(), "line 1, column 1: unexpected character");
}

TEST(YamlJson, GarbageNeverThrows) {
  for (const std::string& text :
       {std::string("\0\1\2", 3), std::string("{{{{"), std::string("]]]"), std::string("*x"),
        std::string("&a"), std::string("- - - -\n  - : :"), std::string("%YAML 9.9\n---\na"),
        std::string("\t\ta: b"), std::string("a: 'unterminated"), std::string("!<!> x")}) {
    EXPECT_NO_THROW(ParseYamlDocuments(text)) << text;
  }
}

}  // namespace
}  // namespace palisade::server
