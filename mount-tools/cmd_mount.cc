// ckptfs mount STORE MOUNTPOINT [-f] [-o opts] [--cache-size SIZE]
//
// Without -f the command forks: the child opens the store, mounts and serves;
// the parent waits on a pipe until the child reports "ready" (the mount
// answers requests) or an error, and exits 0 or 1 accordingly. So when
// `ckptfs mount` returns 0, the mount is usable.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "base/unique_fd.h"
#include "fs/filesystem.h"
#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/mount_daemon.h"
#include "mount-tools/mount_options.h"
#include "mount-tools/mounts.h"

namespace ckptfs::cli {
namespace {

constexpr int kReadyTimeoutMs = 120 * 1000;

struct MountArgs {
  std::string store, mountpoint, cache_size, log_file;
  std::vector<std::string> options;
  bool foreground = false, debug = false;
};

// Whether `inner` is `outer` or lies below it, by path components of the
// canonical paths (so /a/bc is not inside /a/b).
bool IsWithin(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

std::optional<Status> StoreMountOverlap(const std::string& store, const std::string& mountpoint) {
  std::error_code e1, e2;
  const auto s = std::filesystem::canonical(store, e1);
  const auto m = std::filesystem::canonical(mountpoint, e2);
  if (e1 || e2) return std::nullopt;  // the existence checks report these
  if (IsWithin(m, s))
    return Status::InvalidArgument("mountpoint " + mountpoint + " is " +
                                   (s == m ? "the store itself" : "inside the store " + store) +
                                   "; mount the store on a directory outside it");
  if (IsWithin(s, m))
    return Status::InvalidArgument("store " + store + " is inside mountpoint " + mountpoint +
                                   ": the mount would hide it from its own daemon; "
                                   "mount it on a directory outside the store's path");
  return std::nullopt;
}

// Everything that can be checked before forking, so the common mistakes
// give a plain message from the command itself.
Status CheckMountInputs(const MountOptions& o) {
  struct stat st {};
  if (stat(o.store.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("store " + o.store + " does not exist (create it with `ckptfs init " +
                              o.store + "`)");
    }
    return Status::FromErrno("store " + o.store, errno);
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("store " + o.store + " is not a directory");
  // Checked here, before the daemon creates STORE/daemon.log: a mistaken
  // directory must not gain a file that then blocks `ckptfs init` on it.
  if (access((o.store + "/ckptfs.json").c_str(), F_OK) != 0) {
    return NotAStoreError(Env::Default(), o.store);
  }

  bool cleared = false;
  CKPTFS_RETURN_IF_ERROR(ClearStaleMount(o.mountpoint, &cleared));
  if (cleared) {
    std::fprintf(stderr, "ckptfs: cleared a dead mount at %s (its daemon had died)\n",
                 o.mountpoint.c_str());
  }
  if (stat(o.mountpoint.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("mountpoint " + o.mountpoint + " does not exist");
    return Status::FromErrno("mountpoint " + o.mountpoint, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("mountpoint " + o.mountpoint + " is not a directory");
  }
  // The daemon reads and writes the store through the VFS: a mount over
  // the store, inside it or above it would route the daemon's own I/O back
  // into itself and deadlock on the first write.
  if (auto overlap = StoreMountOverlap(o.store, o.mountpoint)) return *overlap;
  if (auto m = FindMountAt(o.mountpoint)) {
    return Status::Busy("mountpoint " + o.mountpoint + " already has a ckptfs mount (of store " +
                        m->source + ")");
  }
  if (auto m = FindMountOfStore(o.store)) {
    return Status::Busy("store " + o.store + " is already mounted at " + m->mountpoint);
  }
  UniqueFd dev(open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!dev.valid()) {
    return Status::FromErrno(
        "cannot open /dev/fuse", errno)
        .WithContext("FUSE is not available here (load the fuse module, or run the container "
                     "with --device /dev/fuse; `ckptfs import`/`export` work without FUSE)");
  }
  return Status::OK();
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void RedirectStdioToDevNull() {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  dup2(fd, STDIN_FILENO);
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

int Daemonize(const MountOptions& opts, const std::string& log_file) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Fail(Status::FromErrno("pipe", errno));
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = fork();
  if (pid < 0) return Fail(Status::FromErrno("fork", errno));
  if (pid == 0) {
    rd.reset();
    setsid();
    if (chdir("/") != 0) {
      // harmless: all paths are absolute
    }
    SetupDaemonLogging(log_file);
    int rc = RunMountDaemon(opts, [&](const Status& s) {
      WriteAll(wr.get(), s.ok() ? std::string("OK\n") : "ERR " + s.ToString());
      wr.reset();
      if (s.ok()) RedirectStdioToDevNull();  // libfuse errors before this reach the user
    });
    spdlog::shutdown();
    _exit(rc);
  }
  wr.reset();
  std::string msg;
  char buf[4096];
  for (;;) {
    pollfd pfd{rd.get(), POLLIN, 0};
    int pr = poll(&pfd, 1, kReadyTimeoutMs);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      PrintError("mount of " + opts.store + " at " + opts.mountpoint + " not ready after " +
                 std::to_string(kReadyTimeoutMs / 1000) + " s (daemon pid " +
                 std::to_string(pid) + " still running)");
      return kExitError;
    }
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  if (msg.starts_with("OK")) return kExitOk;
  int st = 0;
  waitpid(pid, &st, 0);
  if (msg.starts_with("ERR ")) {
    PrintError(msg.substr(4));
  } else {
    PrintError("mount daemon for " + opts.store + " exited before the mount was ready (" +
               (WIFSIGNALED(st) ? std::string("signal ") + strsignal(WTERMSIG(st))
                                : "status " + std::to_string(WEXITSTATUS(st))) +
               ")");
  }
  return kExitError;
}

}  // namespace

Runner AddMount(CLI::App& app) {
  auto a = std::make_shared<MountArgs>();
  auto* cmd = app.add_subcommand("mount", "Mount a store; returns once the mount is ready");
  cmd->add_option("STORE", a->store, "Store directory (made by `ckptfs init`)")->required();
  cmd->add_option("MOUNTPOINT", a->mountpoint, "Existing directory to mount on")->required();
  cmd->add_flag("-f,--foreground", a->foreground,
                "Stay in the foreground (systemd Type=notify); log to stderr");
  cmd->add_option(
         "-o", a->options,
         "Mount options, comma-separated: ro, rw, allow_other, writeback_cache, "
         "no_direct_write, splice, no_readdirplus, sync_read, cache_size=SIZE, max_threads=N, "
         "max_idle_threads=N, timeout=SECONDS, debug; fstab's defaults, _netdev, "
         "noauto, nofail, user, x-* are accepted and ignored")
      ->allow_extra_args(false);
  cmd->add_option("--cache-size", a->cache_size, "Decompressed chunk cache (e.g. 512M)");
  cmd->add_option("--log-file", a->log_file,
                  "Daemon log (default STORE/daemon.log; with -f, stderr)");
  cmd->add_flag("--debug", a->debug, "Trace every FUSE request (implies -f)");
  return [a]() -> int {
    MountOptions o;
    o.store = AbsolutePath(a->store);
    o.mountpoint = AbsolutePath(a->mountpoint);
    for (const auto& list : a->options) {
      Status s = ApplyMountOptionString(list, &o);
      if (!s.ok()) return UsageError(s.ToString());
    }
    if (!a->cache_size.empty()) {
      auto v = ParseSize(a->cache_size);
      if (!v.ok()) return UsageError(v.status().WithContext("--cache-size").ToString());
      o.cache_bytes = *v;
    }
    if (a->debug) o.debug = true;
    o.foreground = a->foreground || o.debug;
    Status s = CheckMountInputs(o);
    if (!s.ok()) return Fail(s);
    if (!o.foreground) {
      return Daemonize(o, a->log_file.empty() ? o.store + "/daemon.log" : a->log_file);
    }
    SetupDaemonLogging(a->log_file);
    int rc = RunMountDaemon(o, [](const Status& st) {
      if (!st.ok()) PrintError(st.ToString());
    });
    spdlog::shutdown();
    return rc;
  };
}

}  // namespace ckptfs::cli
