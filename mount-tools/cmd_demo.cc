// ckptfs demo [DIR]: placeholder; the guided demo is implemented separately.
#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"

namespace ckptfs::cli {

Runner AddDemo(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("demo", "Run a guided end-to-end demo (not yet implemented)");
  cmd->add_option("DIR", *dir, "Scratch directory for the demo");
  return []() -> int {
    PrintError("demo: not yet implemented");
    return kExitError;
  };
}

}  // namespace ckptfs::cli
