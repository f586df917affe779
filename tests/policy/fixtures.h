#pragma once

// Pods built from code, as PSA's test/fixtures_*.go do: a minimal pod that passes a level at a
// version, and tweaks applied through JSON Pointers.

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <stdexcept>
#include <string>
#include <string_view>

#include "policy/evaluator.h"
#include "policy/level_version.h"

namespace palisade::policy::testing {

// Sets the value at `pointer` (parents created) to the JSON text `json`.
inline void Set(rapidjson::Document& doc, const char* pointer, std::string_view json) {
  rapidjson::Document value(&doc.GetAllocator());
  value.Parse(json.data(), json.size());
  if (value.HasParseError()) throw std::invalid_argument("bad JSON in test: " + std::string(json));
  rapidjson::Pointer(pointer).Set(doc, value, doc.GetAllocator());
}

inline void Erase(rapidjson::Document& doc, const char* pointer) {
  rapidjson::Pointer(pointer).Erase(doc);
}

inline rapidjson::Document Parse(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) throw std::invalid_argument("bad JSON in test: " + std::string(json));
  return doc;
}

// One init container "init" and one container "app"; at restricted, the fields version `minor`
// requires and nothing more.
inline rapidjson::Document MinimalPod(Level level, int minor) {
  rapidjson::Document doc =
      Parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"test-pod"},"spec":{)"
            R"("initContainers":[{"name":"init","image":"registry.example/init:1"}],)"
            R"("containers":[{"name":"app","image":"registry.example/app:1"}]}})");
  if (level != Level::kRestricted) return doc;
  Set(doc, "/spec/securityContext/runAsNonRoot", "true");
  if (minor >= 19) Set(doc, "/spec/securityContext/seccompProfile", R"({"type":"RuntimeDefault"})");
  for (const char* container : {"/spec/initContainers/0", "/spec/containers/0"}) {
    const std::string sc = std::string(container) + "/securityContext";
    if (minor >= 8) Set(doc, (sc + "/allowPrivilegeEscalation").c_str(), "false");
    if (minor >= 22) Set(doc, (sc + "/capabilities").c_str(), R"({"drop":["ALL"]})");
  }
  return doc;
}

inline Evaluation Evaluate(const rapidjson::Value& object, Level level, int minor) {
  const PodReadResult read = ReadPod(object);
  return EvaluatePod(read, LevelVersion{level, Version{minor}, false});
}

}  // namespace palisade::policy::testing
