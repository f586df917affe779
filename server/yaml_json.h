#pragma once

// YAML (and JSON, which is YAML) text to RapidJSON documents. Plain scalars follow the YAML 1.2
// core schema (null, ~, true, false, integers, floats become JSON types); quoted scalars stay
// strings. Anchors and aliases are expanded; merge keys (`<<`) are applied. Hostile input is
// bounded: nesting depth and the node count after alias expansion are limited, and no exception
// escapes.

#include <rapidjson/document.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace palisade::server {

struct YamlLimits {
  int max_depth = 200;                // nested mappings and lists
  std::size_t max_nodes = 1'000'000;  // per document, counting every alias expansion
  // ',', '[' and '{' in the whole text, wherever they are (0: any number). yaml-cpp scans a flow
  // collection ([...] or {...}) whole before its first node, holding about 280 bytes per item:
  // 4 MB of `[a,a,...]` took 575 MiB before the node count could stop it.
  std::size_t max_flow_marks = 0;
  std::size_t max_documents = 0;  // documents in the text (0: any number)
  // Nodes of all the text's documents together, and of the texts read before it that the caller
  // counts in (see ForEachYamlDocument), every alias expansion included (0: any number): limits
  // per document alone let a text of many small alias bombs cost seconds.
  std::size_t max_text_nodes = 0;
};

struct YamlDocument {
  int index = 0;             // 0-based position in the stream
  rapidjson::Document json;  // null when empty or on error
  bool empty = false;        // a document with no content (e.g. a trailing `---`)
  std::string error;         // non-empty when the document could not be read
  int line = 0, column = 0;  // 1-based position of the error, 0 when unknown

  bool ok() const { return error.empty(); }
  // "line 3, column 7: illegal map value" (or the bare error when the position is unknown).
  std::string ErrorString() const;
};

// Every document in `text`. A syntax error ends the stream: the document it is in carries the
// error and later documents are not returned.
std::vector<YamlDocument> ParseYamlDocuments(std::string_view text, const YamlLimits& limits = {});

// The same documents, handed to `on_document` one at a time as each is parsed (and destroyed after
// the call unless moved away): a stream of 1,000 policies never holds 1,000 documents (each with
// its own RapidJSON allocator) at once.
// Returns the nodes counted in the text's documents (alias expansions included); `nodes_before`,
// those of texts read before it, count towards limits.max_text_nodes.
std::size_t ForEachYamlDocument(std::string_view text,
                                const std::function<void(YamlDocument&)>& on_document,
                                const YamlLimits& limits = {}, std::size_t nodes_before = 0);

}  // namespace palisade::server
