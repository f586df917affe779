#pragma once

// The real `palisade serve` as a child process on ports chosen by the kernel, for the tests that
// signal it. Its stderr (the JSON log) is read on a thread the whole time, so the server never
// blocks on a full pipe, and kept for assertions.

#include <rapidjson/document.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace palisade::test {

class ServeProcess {
 public:
  // Runs `binary serve ARGS --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0` and waits (10 s at
  // most) for its "serving" line; port() is 0 when it did not start. `open_files`, when not 0,
  // is the child's RLIMIT_NOFILE (soft and hard, so the server cannot raise it).
  ServeProcess(const std::string& binary, const std::vector<std::string>& args,
               rlim_t open_files = 0) {
    std::vector<std::string> argv_text = {binary, "serve"};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    for (const char* flag : {"--listen", "--metrics-listen"}) {
      argv_text.push_back(flag);
      argv_text.push_back("127.0.0.1:0");
    }
    std::vector<char*> argv;
    for (std::string& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int err_pipe[2];
    if (pipe(err_pipe) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(err_pipe[1], 2);
      close(err_pipe[0]);
      close(err_pipe[1]);
      if (open_files != 0) {
        const rlimit limit{open_files, open_files};
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
      }
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(err_pipe[1]);
    if (pid_ < 0) {
      close(err_pipe[0]);
      return;
    }
    err_ = fdopen(err_pipe[0], "r");
    reader_ = std::thread([this] { Read(); });
    std::unique_lock<std::mutex> lock(mutex_);
    started_.wait_for(lock, std::chrono::seconds(10), [this] { return port_ != 0 || ended_; });
  }

  ~ServeProcess() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (reader_.joinable()) reader_.join();
    if (err_ != nullptr) fclose(err_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return port_;
  }
  std::uint16_t metrics_port() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return metrics_port_;
  }
  // Everything the process has logged so far.
  std::string log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }

  // Waits for the process to end and for the last of its log; returns waitpid's status.
  int Wait() {
    int status = 0;
    if (pid_ > 0 && !waited_) {
      waitpid(pid_, &status, 0);
      waited_ = true;
      status_ = status;
    }
    if (reader_.joinable()) reader_.join();
    return status_;
  }

 private:
  void Read() {
    char line[8192];
    while (fgets(line, sizeof line, err_) != nullptr) {
      rapidjson::Document json;
      json.Parse(line);
      std::lock_guard<std::mutex> lock(mutex_);
      log_ += line;
      if (!json.HasParseError() && json.IsObject() && json.HasMember("msg") &&
          json["msg"].IsString() && std::string(json["msg"].GetString()) == "serving") {
        port_ = static_cast<std::uint16_t>(json["port"].GetInt());
        metrics_port_ = static_cast<std::uint16_t>(json["metrics_port"].GetInt());
        started_.notify_all();
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    started_.notify_all();
  }

  pid_t pid_ = -1;
  FILE* err_ = nullptr;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable started_;
  std::string log_;
  std::uint16_t port_ = 0;
  std::uint16_t metrics_port_ = 0;
  bool ended_ = false;
  bool waited_ = false;
  int status_ = 0;
};

}  // namespace palisade::test
