// Runs a whole-store operation (stats, fsck, gc) on STORE|MOUNTPOINT: through
// the daemon's control socket when the store is mounted (the daemon holds
// its lock), or by opening the store directly otherwise. Both paths return
// the same JSON (control.h).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "fs/filesystem.h"

namespace ckptfs::cli {

// `op` is "stats", "fsck" or "gc".
Result<nlohmann::json> RunStoreOp(const std::string& target, const std::string& op,
                                  const ProgressFn& progress);

}  // namespace ckptfs::cli
