#include <openssl/opensslv.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.h"
#include "policy/level_version.h"

namespace palisade::cli {

void RegisterVersionCommand(CLI::App& app, int* exit_code) {
  CLI::App* command =
      app.add_subcommand("version", "Print the version and the newest PSS version known");
  command->callback([exit_code] {
    std::cout << "palisade " << PALISADE_VERSION << " (Pod Security Standards up to "
              << policy::Version::Latest().ToString() << ", " << OPENSSL_VERSION_TEXT << ")\n";
    *exit_code = 0;
  });
}

}  // namespace palisade::cli
