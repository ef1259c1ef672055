// The daemon side of `ckptfs mount`: opens the store, serves the control
// socket and the FUSE mount in this process until unmounted or signalled.
#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "fs/fuse_adapter.h"

namespace ckptfs::cli {

// Routes spdlog to stderr (foreground: the terminal or the journal) or to
// `log_file` (daemonized). Never fails: an unusable log file means no log.
void SetupDaemonLogging(const std::string& log_file);

// Runs a mount in this process and returns its exit code. `report` is called
// exactly once: with OK as soon as the mount answers requests, or with the
// error that stopped it before that. Under systemd (NOTIFY_SOCKET set) it
// also sends READY=1 at that moment and STOPPING=1 at shutdown.
// REQUIRES: called before this process created any thread.
int RunMountDaemon(const MountOptions& opts, const std::function<void(const Status&)>& report);

}  // namespace ckptfs::cli
