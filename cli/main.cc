// The palisade binary: one subcommand per server/cli_*.cc.

#include <CLI/CLI.hpp>

#include <string>

#include "cli/allocator.h"
#include "cli/cli.h"
#include "server/routes.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Palisade: Kubernetes admission webhook for Pod Security Standards and namespace "
      "defaults."};
  app.require_subcommand(1);
  // `palisade --version` as well as `palisade version`: what packagers and scripts try first.
  app.set_version_flag("--version", std::string("palisade ") + PALISADE_VERSION);
  int exit_code = 0;
  palisade::cli::RegisterServeCommand(app, &exit_code);
  palisade::cli::RegisterCheckCommand(app, &exit_code);
  palisade::cli::RegisterAdviseCommand(app, &exit_code);
  palisade::cli::RegisterPolicyCommand(app, &exit_code);
  palisade::cli::RegisterSelftestCommand(app, &exit_code);
  palisade::cli::RegisterAuditCommand(app, &exit_code);
  palisade::cli::RegisterVersionCommand(app, &exit_code);
  // The server's allocator is tuned for its resident memory (cli/allocator.h); the one-shot
  // commands keep mimalloc's defaults.
  app.get_subcommand("serve")->preparse_callback([](std::size_t) {
    palisade::cli::TuneAllocator();
    palisade::server::SetRequestSizeHook(&palisade::cli::NoteRequestSize);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; any usage error exits 2, as every subcommand documents.
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
