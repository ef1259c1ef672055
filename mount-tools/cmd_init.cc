// ckptfs init STORE [--chunk-avg SIZE] [--zstd-level N]
#include <unistd.h>

#include "fs/filesystem.h"
#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"

namespace ckptfs::cli {

Runner AddInit(CLI::App& app) {
  struct Args {
    std::string store, chunk_avg = "256K";
    int zstd_level = 3;
    bool no_byte_grouping = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("init", "Create a store in an empty or missing directory");
  cmd->add_option("STORE", a->store, "Store directory (created if missing; must be empty)")
      ->required();
  cmd->add_option("--chunk-avg", a->chunk_avg,
                  "Average chunk size, a power of two (min = avg/4, max = avg*4)")
      ->capture_default_str();
  cmd->add_option("--zstd-level", a->zstd_level, "zstd compression level")
      ->check(CLI::Range(-7, 22))
      ->capture_default_str();
  cmd->add_flag("--no-byte-grouping", a->no_byte_grouping,
                "Do not try the float-aware byte-grouping transform");
  return [a]() -> int {
    auto avg = ParseSize(a->chunk_avg);
    if (!avg.ok()) return UsageError(avg.status().WithContext("--chunk-avg").ToString());
    // avg*4 = max must stay within the chunker's 16 MiB ceiling.
    if (*avg < 4096 || *avg > (4u << 20) || (*avg & (*avg - 1)) != 0) {
      return UsageError("--chunk-avg " + a->chunk_avg +
                        ": must be a power of two between 4K and 4M");
    }
    InitOptions opts;
    opts.chunker.avg_size = static_cast<uint32_t>(*avg);
    opts.chunker.min_size = static_cast<uint32_t>(*avg / 4);
    opts.chunker.max_size = static_cast<uint32_t>(*avg * 4);
    opts.compression.zstd_level = a->zstd_level;
    opts.compression.byte_grouping = !a->no_byte_grouping;
    opts.root_uid = getuid();
    opts.root_gid = getgid();
    std::string store = AbsolutePath(a->store);
    Status s = Filesystem::Init(store, opts);
    if (!s.ok()) return Fail(s.WithContext("cannot create a store in " + store));
    std::printf("created store %s (chunks %s/%s/%s, zstd level %d)\n", store.c_str(),
                HumanSize(opts.chunker.min_size).c_str(), HumanSize(opts.chunker.avg_size).c_str(),
                HumanSize(opts.chunker.max_size).c_str(), a->zstd_level);
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
