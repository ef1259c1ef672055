// FUSE adapter: serves a Filesystem at a mountpoint through the libfuse3
// low-level API.
//
// The adapter holds no filesystem state of its own: every operation is a
// thin handler that calls the Filesystem and sends exactly one reply. The
// Status -> errno translation lives in one function (fuse_adapter.cc,
// ReplyErrno). Options that change kernel behaviour (writeback cache, splice)
// are switchable so the benchmarks can measure them (DESIGN.md section 6).
//
// The caller (the `ckptfs mount` command) opens the Filesystem, so it can
// report store errors (not a store, locked) before anything is mounted, and
// owns process concerns: daemonizing, readiness notification, the control
// socket.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "fs/filesystem.h"

namespace ckptfs {

struct MountOptions {
  std::string store;       // absolute; shown as the source (fsname) in mountinfo
  std::string mountpoint;  // absolute
  bool foreground = false;  // used by the CLI; the adapter itself never forks
  bool read_only = false;
  bool allow_other = false;
  // Kernel write-back caching of file data. Off until bench/ shows a gain.
  bool writeback_cache = false;
  // splice() for reads and writes through /dev/fuse. Off until measured.
  bool splice = false;
  // Write-only handles bypass the page cache (StoreOptions::direct_writes).
  // Ignored with writeback_cache, where the
  // kernel must be able to read through a write-only handle.
  bool direct_writes = true;
  bool async_read = true;
  bool readdirplus = true;
  uint64_t cache_bytes = 128ull << 20;  // decompressed chunk cache (StoreOptions)
  unsigned max_threads = 16;            // FUSE worker threads
  unsigned max_idle_threads = 8;
  // Entry and attribute timeouts. Long, because every change to the store goes
  // through this daemon (the store lock keeps other writers out), so the
  // kernel's cache can only go stale through us, and we invalidate nothing.
  double timeout_s = 86400;
  bool debug = false;  // libfuse request tracing on stderr
};

// Mounts `fs` at opts.mountpoint and serves requests on a multithreaded loop
// until the filesystem is unmounted or the process gets SIGTERM, SIGINT or
// SIGHUP (which unmount it). `on_ready` runs once, on a helper thread, when
// the mount answers requests (a stat of the mountpoint is served by us).
// Before returning, every open file is committed (Filesystem::SyncAll).
//
// REQUIRES: the calling thread is the only thread with SIGTERM, SIGINT and
// SIGHUP unblocked (call BlockShutdownSignals() before creating threads,
// including before Filesystem::Open, which starts the worker pool);
// otherwise a signal may land on a thread that cannot wake the loop.
Status ServeMount(Filesystem& fs, const MountOptions& opts, std::function<void()> on_ready);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads created
// afterwards inherit the mask. ServeMount unblocks them in its own thread.
void BlockShutdownSignals();

}  // namespace ckptfs
