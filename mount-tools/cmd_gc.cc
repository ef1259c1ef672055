// ckptfs gc STORE|MOUNTPOINT [--json]: reclaim space from deleted data.
#include <cstdio>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/maintenance.h"
#include "mount-tools/progress.h"

namespace ckptfs::cli {

Runner AddGc(CLI::App& app) {
  auto target = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("gc", "Reclaim pack space held by deleted data");
  cmd->add_option("TARGET", *target, "Store directory or ckptfs mountpoint")->required();
  cmd->add_flag("--json", *json, "Print the report as JSON");
  return [=]() -> int {
    auto r = [&] {
      Progress progress("gc", /*bytes=*/false);
      return RunStoreOp(*target, "gc", [&](uint64_t d, uint64_t t) { progress.Update(d, t); });
    }();
    if (!r.ok()) return Fail(r.status());
    const auto& j = *r;
    if (*json) {
      std::printf("%s\n", j.dump(2).c_str());
      return kExitOk;
    }
    auto u = [&](const char* k) { return static_cast<unsigned long long>(j.value(k, uint64_t{0})); };
    std::printf("reclaimed %s (%llu chunks deleted, %llu packs deleted, %llu packs compacted)\n",
                HumanSize(u("bytes_reclaimed")).c_str(), u("chunks_deleted"), u("packs_deleted"),
                u("packs_compacted"));
    if (u("pack_tails_cut"))
      std::printf("%llu pack tails cut (records of writes that failed)\n", u("pack_tails_cut"));
    if (u("packs_freed_in_place"))
      std::printf("%llu packs freed in place (no room to compact them; a later gc will)\n",
                  u("packs_freed_in_place"));
    if (u("packs_not_compacted"))
      std::printf("%llu packs not compacted: not enough free space for a copy of their live "
                  "data; free space and run gc again\n",
                  u("packs_not_compacted"));
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
