#pragma once

// In-process server options for the server and faults suites: ports chosen by the kernel, two
// threads, and reload intervals short enough that tests wait milliseconds, not seconds.

#include <chrono>
#include <string>
#include <utility>

#include "server/service.h"

namespace palisade::test {

inline server::ServeOptions QuickServeOptions(const std::string& policy_dir, server::TlsFiles tls) {
  server::ServeOptions options;
  options.policy_dir = policy_dir;
  options.tls = std::move(tls);
  options.server.listen = "127.0.0.1:0";
  options.server.metrics_listen = "127.0.0.1:0";
  options.server.threads = 2;
  options.server.tls_reload_interval = std::chrono::milliseconds(50);
  options.watcher.debounce = std::chrono::milliseconds(20);
  options.shutdown_delay = std::chrono::milliseconds(0);
  return options;
}

}  // namespace palisade::test
