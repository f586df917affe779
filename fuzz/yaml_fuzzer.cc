// Bytes -> ParseYamlDocuments. Beyond "no crash, no UB": documents are numbered in order, one with
// an error has no JSON, and a document read without error, written as JSON (which is YAML) and read
// again, gives the same JSON value.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "server/yaml_json.h"

namespace {

using palisade::fuzz::Check;

// Whether `value` has a faithful YAML text: valid UTF-8 without NUL, keys short enough.
bool HasYamlForm(const rapidjson::Value& value) {
  if (value.IsString()) {
    rapidjson::StringStream in(value.GetString());
    const char* end = value.GetString() + value.GetStringLength();
    while (in.src_ < end) {
      unsigned codepoint = 0;
      if (!rapidjson::UTF8<>::Decode(in, &codepoint) || codepoint == 0) return false;
    }
    return true;
  }
  if (value.IsArray()) {
    for (const auto& item : value.GetArray()) {
      if (!HasYamlForm(item)) return false;
    }
  }
  if (value.IsObject()) {
    for (const auto& member : value.GetObject()) {
      // YAML caps implicit keys at 1024 characters; escaped JSON can take 6 per byte.
      if (member.name.GetStringLength() > 1024 / 6) return false;
      if (!HasYamlForm(member.name) || !HasYamlForm(member.value)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto documents = palisade::server::ParseYamlDocuments(text);
  for (std::size_t i = 0; i < documents.size(); ++i) {
    const auto& document = documents[i];
    Check(document.index == static_cast<int>(i), "documents numbered in order");
    if (!document.ok()) {  // a syntax error ends the stream; a duplicate key only its document
      Check(document.json.IsNull(), "a document with an error has no JSON", document.ErrorString());
      continue;
    }
    if (document.empty) continue;
    // Round trip through JSON text; strings that are not valid UTF-8 (or hold NUL) have no
    // faithful YAML form, so those documents are skipped.
    if (!HasYamlForm(document.json)) continue;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    if (!document.json.Accept(writer) || buffer.GetSize() > (1u << 20)) continue;
    const std::string json(buffer.GetString(), buffer.GetSize());
    const auto again = palisade::server::ParseYamlDocuments(json);
    Check(again.size() == 1 && again[0].ok() && !again[0].empty,
          "JSON output reads back as one YAML document",
          json + "\n" + (again.empty() ? "" : again[0].ErrorString()));
    Check(again[0].json == document.json, "JSON output reads back unchanged", json);
  }
  return 0;
}
