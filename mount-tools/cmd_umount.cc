// ckptfs umount MOUNTPOINT: unmount, then wait until the daemon has exited,
// so the store's lock is free when this returns (a remount can follow).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/control.h"
#include "mount-tools/mounts.h"

namespace ckptfs::cli {
namespace {

// A zombie (a daemon whose parent has not reaped it yet) counts as gone: it
// has already released its files and the store lock.
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string line;
  std::getline(in, line);
  size_t rp = line.rfind(')');
  return rp == std::string::npos || rp + 2 >= line.size() || line[rp + 2] == 'Z';
}

}  // namespace

Runner AddUmount(CLI::App& app) {
  auto mnt = std::make_shared<std::string>();
  auto lazy = std::make_shared<bool>(false);
  auto timeout = std::make_shared<unsigned>(600);
  auto* cmd = app.add_subcommand(
      "umount", "Flush and unmount; returns after the daemon has exited and released the store");
  cmd->add_option("MOUNTPOINT", *mnt, "A ckptfs mountpoint")->required();
  cmd->add_flag("-l,--lazy", *lazy, "Detach now even if busy (the daemon exits when idle)");
  cmd->add_option("--timeout", *timeout, "Seconds to wait for the daemon to exit")
      ->capture_default_str();
  return [=]() -> int {
    std::string abs = AbsolutePath(*mnt);
    struct stat st {};
    if (stat(abs.c_str(), &st) != 0 && errno == ENOTCONN) {
      Status s = Unmount(abs, /*lazy=*/true);
      if (!s.ok()) return Fail(s);
      std::fprintf(stderr, "ckptfs: cleared a dead mount at %s\n", abs.c_str());
      return kExitOk;
    }
    auto m = FindMountAt(abs);
    if (!m) return Fail(Status::InvalidArgument(abs + " is not a ckptfs mountpoint"));
    pid_t pid = 0;
    auto r = ControlCall(m->source, {{"op", "pid"}}, nullptr);
    if (r.ok()) pid = r->value("pid", 0);
    Status s = Unmount(abs, *lazy);
    if (!s.ok()) return Fail(s);
    if (pid <= 0) return kExitOk;  // no daemon to wait for (it did not answer)
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*timeout);
    while (!ProcessGone(pid)) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Fail(Status::Errno(ETIMEDOUT, "unmounted " + abs + ", but its daemon (pid " +
                                                 std::to_string(pid) + ") is still running after " +
                                                 std::to_string(*timeout) + " s"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
