#pragma once

// Subcommands of the `palisade` binary. Each adds itself to the app; main.cc calls one Register
// function per subcommand, and a subcommand's callback stores the process exit code.

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace palisade::cli {

void RegisterServeCommand(CLI::App& app, int* exit_code);
void RegisterVersionCommand(CLI::App& app, int* exit_code);
void RegisterCheckCommand(CLI::App& app, int* exit_code);     // cli/cli_check.cc
void RegisterPolicyCommand(CLI::App& app, int* exit_code);    // cli/cli_policy.cc: lint, explain
void RegisterSelftestCommand(CLI::App& app, int* exit_code);  // cli/cli_selftest.cc
void RegisterAuditCommand(CLI::App& app, int* exit_code);     // cli/cli_audit.cc
void RegisterAdviseCommand(CLI::App& app, int* exit_code);    // cli/cli_advise.cc

// `--kubernetes-version` as serve and check take it: "1.31" -> 31 (only 1.x clusters exist).
std::optional<int> ParseKubernetesMinor(const std::string& text);

}  // namespace palisade::cli
