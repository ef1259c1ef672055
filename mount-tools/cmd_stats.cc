// ckptfs stats STORE|MOUNTPOINT [--json]
#include <cstdio>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/maintenance.h"

namespace ckptfs::cli {

Runner AddStats(CLI::App& app) {
  auto target = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("stats", "Show logical vs stored bytes, dedup and compression");
  cmd->add_option("TARGET", *target, "Store directory or ckptfs mountpoint")->required();
  cmd->add_flag("--json", *json, "Print one JSON object (fields in docs/CLI.md)");
  return [=]() -> int {
    auto r = RunStoreOp(*target, "stats", nullptr);
    if (!r.ok()) return Fail(r.status());
    const auto& j = *r;
    if (*json) {
      std::printf("%s\n", j.dump(2).c_str());
      return kExitOk;
    }
    auto u = [&](const char* k) { return j.value(k, uint64_t{0}); };
    auto row = [](const char* label, const std::string& value) {
      std::printf("  %-22s %s\n", label, value.c_str());
    };
    std::printf("%s\n", target->c_str());
    row("files", std::to_string(u("files")) + " (" + std::to_string(u("dirs")) + " dirs, " +
                     std::to_string(u("symlinks")) + " symlinks)");
    row("logical size", HumanSize(u("logical_bytes")));
    row("unique data", HumanSize(u("unique_raw_bytes")));
    row("stored (compressed)", HumanSize(u("stored_bytes")));
    row("packs", std::to_string(u("packs")) + " (" + HumanSize(u("pack_bytes")) + " on disk)");
    row("chunk references", std::to_string(u("chunks")));
    row("unique chunks", std::to_string(u("unique_chunks")));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2fx", j.value("dedup_ratio", 1.0));
    row("dedup ratio", buf);
    std::snprintf(buf, sizeof buf, "%.2fx", j.value("compression_ratio", 1.0));
    row("compression ratio", buf);
    std::snprintf(buf, sizeof buf, "%.2fx", j.value("total_ratio", 1.0));
    row("total (logical/stored)", buf);
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
