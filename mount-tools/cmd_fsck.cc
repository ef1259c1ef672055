// ckptfs fsck STORE|MOUNTPOINT [--json]: exit 0 when clean, 1 listing the
// affected files otherwise.
#include <cstdio>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/maintenance.h"
#include "mount-tools/progress.h"

namespace ckptfs::cli {

Runner AddFsck(CLI::App& app) {
  auto target = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("fsck", "Verify every chunk by its hash; name affected files");
  cmd->add_option("TARGET", *target, "Store directory or ckptfs mountpoint")->required();
  cmd->add_flag("--json", *json, "Print the report as JSON");
  return [=]() -> int {
    auto r = [&] {
      Progress progress("fsck", /*bytes=*/true);
      return RunStoreOp(*target, "fsck", [&](uint64_t d, uint64_t t) { progress.Update(d, t); });
    }();
    if (!r.ok()) return Fail(r.status());
    const auto& j = *r;
    bool clean = j.value("clean", false);
    if (*json) {
      std::printf("%s\n", j.dump(2).c_str());
      return clean ? kExitOk : kExitError;
    }
    if (clean) {
      std::printf("clean: %llu chunks (%s) verified\n",
                  static_cast<unsigned long long>(j.value("chunks_checked", uint64_t{0})),
                  HumanSize(j.value("bytes_checked", uint64_t{0})).c_str());
      return kExitOk;
    }
    std::printf("errors:\n");
    for (const auto& e : j.value("errors", nlohmann::json::array())) {
      std::printf("  %s\n", e.get<std::string>().c_str());
    }
    if (const uint64_t more = j.value("errors_omitted", uint64_t{0}))
      std::printf("  ... and %llu more\n", static_cast<unsigned long long>(more));
    const auto files = j.value("affected_files", nlohmann::json::array());
    std::printf("affected files:%s\n", files.empty() ? " none (no file's data is damaged)" : "");
    for (const auto& f : files) std::printf("  %s\n", f.get<std::string>().c_str());
    const uint64_t bad = j.value("bad_chunks", uint64_t{0});
    const uint64_t store = j.value("store_problems", uint64_t{0});
    std::string what = std::to_string(bad) + " bad chunk(s) of " +
                       std::to_string(j.value("chunks_checked", uint64_t{0}));
    if (store) what += ", " + std::to_string(store) + " metadata/pack problem(s)";
    PrintError(*target + ": fsck found " + what);
    return kExitError;
  };
}

}  // namespace ckptfs::cli
