// ckptfs: the command-line tool (docs/CLI.md). One file per subcommand; this
// file only dispatches and maps parse errors to exit code 2.
#include <cstdio>
#include <map>
#include <string>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"

int main(int argc, char** argv) {
  using namespace ckptfs::cli;
  CLI::App app{"ckptfs: a deduplicating, compressing FUSE filesystem for ML checkpoints",
               "ckptfs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ckptfs 0.1.0");
  app.footer("Exit codes: 0 success, 1 runtime error, 2 bad usage. See docs/CLI.md.");

  std::map<CLI::App*, Runner> runners;
  auto add = [&](Runner (*adder)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    Runner r = adder(app);
    runners[app.get_subcommands({})[before]] = std::move(r);
  };
  add(AddInit);
  add(AddMount);
  add(AddUmount);
  add(AddImport);
  add(AddExport);
  add(AddLs);
  add(AddRm);
  add(AddStats);
  add(AddFsck);
  add(AddGc);
  add(AddDemo);

  // CLI11 reports an unknown command as "A subcommand is required"; name it.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (auto* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) return UsageError(std::string("unknown command '") + argv[1] + "' (commands: " + names + ")");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help
    // Every message starts "ckptfs:" and points at the command's help.
    std::string help = "ckptfs --help";
    for (auto* sub : app.get_subcommands()) help = "ckptfs " + sub->get_name() + " --help";
    return UsageError(std::string(e.what()) + " (see `" + help + "`)");
  }
  for (auto* sub : app.get_subcommands()) {
    if (auto it = runners.find(sub); it != runners.end()) return it->second();
  }
  return UsageError("no command given (see ckptfs --help)");
}
