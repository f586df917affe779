#pragma once

// Input files of the benchmarks: a benchmark without its input has nothing to measure.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace palisade::bench {

// The whole file, or exit(1) with a message when it cannot be read or is empty.
inline std::string ReadFileOrExit(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().empty()) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return buffer.str();
}

}  // namespace palisade::bench
