// The ckptfs subcommands. Each Add* registers one subcommand (its options and
// --help) on the root app and returns the function that runs it after a
// successful parse; it returns the process exit code (cli_util.h).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace ckptfs::cli {

using Runner = std::function<int()>;

Runner AddInit(CLI::App& app);
Runner AddMount(CLI::App& app);
Runner AddUmount(CLI::App& app);
Runner AddImport(CLI::App& app);
Runner AddExport(CLI::App& app);
Runner AddLs(CLI::App& app);
Runner AddRm(CLI::App& app);
Runner AddStats(CLI::App& app);
Runner AddFsck(CLI::App& app);
Runner AddGc(CLI::App& app);
Runner AddDemo(CLI::App& app);

}  // namespace ckptfs::cli
