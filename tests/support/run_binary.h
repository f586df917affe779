#pragma once

// Runs a binary as a child process and collects what it wrote to stdout and stderr and how it
// exited, for the suites that test the real `palisade` command line.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/test_files.h"

namespace palisade::test {

struct RunResult {
  std::string out, err;
  int exit_code = -1;  // 128 + the signal when killed
};

struct RunOptions {
  std::string directory;               // working directory of the child; "" keeps ours
  std::string stdin_file;              // relative to `directory`; "" reads /dev/null
  std::vector<std::string> unset_env;  // variables the child must not see
};

inline RunResult RunBinary(const std::string& binary, const std::vector<std::string>& args,
                           const RunOptions& options = {}) {
  TempDir scratch;
  const std::string out_path = scratch.path() + "/stdout", err_path = scratch.path() + "/stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    // Outputs are opened before the chdir: their paths are absolute anyway.
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!options.directory.empty() && chdir(options.directory.c_str()) != 0) _exit(127);
    const int in =
        open(options.stdin_file.empty() ? "/dev/null" : options.stdin_file.c_str(), O_RDONLY);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const std::string& name : options.unset_env) unsetenv(name.c_str());
    std::string path = binary;
    std::vector<std::string> copies = args;
    std::vector<char*> argv = {path.data()};
    for (std::string& arg : copies) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  RunResult result;
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadText(out_path);
  result.err = ReadText(err_path);
  return result;
}

}  // namespace palisade::test
