// The palisade binary: one subcommand per server/cli_*.cc.

#include <CLI/CLI.hpp>

#include "server/cli.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Palisade: Kubernetes admission webhook for Pod Security Standards and namespace "
      "defaults."};
  app.require_subcommand(1);
  int exit_code = 0;
  palisade::server::RegisterServeCommand(app, &exit_code);
  palisade::server::RegisterCheckCommand(app, &exit_code);
  palisade::server::RegisterPolicyCommand(app, &exit_code);
  palisade::server::RegisterVersionCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
