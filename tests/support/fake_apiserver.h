#pragma once

// tests/support/fake_apiserver.py as a child process for the kube/ suites: real TLS on a port the
// kernel chose, certificates made at start in a temporary directory, and its control port for
// changing the world, injecting failures and reading the request log.

#include <rapidjson/document.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kube/config.h"
#include "tests/support/test_files.h"

namespace palisade::test {

// Polls `condition` every 10 ms until it holds or `timeout` passes (for what has no callback).
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class FakeApiServer {
 public:
  explicit FakeApiServer(const std::vector<std::string>& tokens = {"test-token"}) {
    std::vector<std::string> args = {PALISADE_PYTHON, PALISADE_FAKE_APISERVER, "--dir",
                                     dir_.path()};
    for (const std::string& token : tokens) {
      args.push_back("--token");
      args.push_back(token);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test killed by its timeout leaves no server behind
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* stream = fdopen(out[0], "r");
    char line[512];
    if (stream != nullptr && fgets(line, sizeof line, stream) != nullptr) {
      rapidjson::Document ready;
      ready.Parse(line);
      if (!ready.HasParseError() && ready.IsObject()) {
        port_ = static_cast<std::uint16_t>(ready["port"].GetInt());
        control_port_ = static_cast<std::uint16_t>(ready["control_port"].GetInt());
      }
    }
    if (stream != nullptr) fclose(stream);
  }

  ~FakeApiServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  bool started() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string file(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string ca_pem() const { return ReadText(file("ca.crt")); }

  // A config with the fake's CA and `token` (none when empty).
  kube::ClusterConfig Config(const std::string& token = "test-token") const {
    kube::ClusterConfig config;
    config.server = url();
    config.ca_pem = ca_pem();
    config.token = token;
    std::string error;
    kube::ParseServerUrl(&config, &error);
    return config;
  }

  // POST /control with `request` (JSON); the answer's body.
  std::string Control(const std::string& request) const {
    namespace beast = boost::beast;
    namespace http = beast::http;
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    beast::error_code ec;
    stream.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), control_port_),
        ec);
    if (ec) return "";
    http::request<http::string_body> message{http::verb::post, "/control", 11};
    message.set(http::field::host, "127.0.0.1");
    message.set(http::field::content_type, "application/json");
    message.body() = request;
    message.prepare_payload();
    http::write(stream, message, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(stream, buffer, response, ec);
    return ec ? "" : response.body();
  }

  std::string Put(const std::string& collection, const std::string& object_json) const {
    return Control(R"({"op":"put","collection":")" + collection + R"(","object":)" + object_json +
                   "}");
  }
  void Delete(const std::string& collection, const std::string& ns, const std::string& name) const {
    Control(R"({"op":"delete","collection":")" + collection + R"(","namespace":")" + ns +
            R"(","name":")" + name + R"("})");
  }
  void PutNamespace(const std::string& name, const std::string& labels_json = "{}") const {
    Put("/api/v1/namespaces",
        R"({"metadata":{"name":")" + name + R"(","labels":)" + labels_json + "}}");
  }
  void PutConfigMap(const std::string& ns, const std::string& name,
                    const std::string& value) const {
    Put("/api/v1/namespaces/" + ns + "/configmaps",
        R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns + R"("},"data":{"value":")" +
            value + R"("}})");
  }
  void Op(const std::string& op) const { Control(R"({"op":")" + op + R"("})"); }
  void Settings(const std::string& fields) const { Control(R"({"op":"settings",)" + fields + "}"); }
  void Fail(const std::string& fields) const { Control(R"({"op":"fail",)" + fields + "}"); }
  long ResourceVersion() const {
    rapidjson::Document state;
    state.Parse(Control(R"({"op":"state"})").c_str());
    return state.HasParseError() ? -1 : state["rv"].GetInt64();
  }

  // The request log: [{method, path, query{...}, accept, auth, time}].
  rapidjson::Document Requests(bool reset = false) const {
    rapidjson::Document log;
    log.Parse(
        Control(reset ? R"({"op":"requests","reset":true})" : R"({"op":"requests"})").c_str());
    rapidjson::Document requests;
    requests.CopyFrom(log["requests"], requests.GetAllocator());
    return requests;
  }
  // Requests to `path` that are (or are not) watches.
  std::vector<const rapidjson::Value*> RequestsTo(const rapidjson::Document& log,
                                                  const std::string& path, bool watch) const {
    std::vector<const rapidjson::Value*> found;
    for (const auto& request : log.GetArray()) {
      const bool is_watch = request["query"].HasMember("watch");
      if (request["path"].GetString() == path && is_watch == watch) found.push_back(&request);
    }
    return found;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t control_port_ = 0;
};

}  // namespace palisade::test
