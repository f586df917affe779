#pragma once

// Pretty JSON for the commands' `-o json`: one writer setup, strings and string lists written
// alike.

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <string>
#include <string_view>
#include <vector>

namespace palisade::cli {

struct JsonOutput {
  JsonOutput() : writer(buffer) { writer.SetIndent(' ', 2); }
  void String(std::string_view text) {
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  }
  void Strings(const std::vector<std::string>& list) {
    writer.StartArray();
    for (const std::string& item : list) String(item);
    writer.EndArray();
  }
  const char* text() const { return buffer.GetString(); }

  rapidjson::StringBuffer buffer;  // before the writer, which holds it
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer;
};

}  // namespace palisade::cli
