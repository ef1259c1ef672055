#include "mount-tools/mounts.h"

#include <fcntl.h>
#include <sys/file.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/unique_fd.h"

namespace ckptfs::cli {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; k++) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Runs argv, returning its exit status; stderr passes through.
int RunProgram(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

}  // namespace

std::vector<MountEntry> ReadMounts() {
  std::vector<MountEntry> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  // id parent maj:min root mountpoint options [optional fields...] - fstype source superopts
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    std::string w;
    while (ls >> w) f.push_back(w);
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") dash++;
    if (f.size() < 5 || dash + 2 >= f.size()) continue;
    out.push_back({Unescape(f[4]), Unescape(f[dash + 1]), Unescape(f[dash + 2])});
  }
  return out;
}

std::optional<MountEntry> FindMountAt(const std::string& abs_mountpoint) {
  std::optional<MountEntry> found;
  for (auto& m : ReadMounts()) {
    if (m.mountpoint == abs_mountpoint) found = m;  // the last mount there is the visible one
  }
  if (found && found->fstype != kFsType) return std::nullopt;
  return found;
}

std::optional<MountEntry> FindMountOfStore(const std::string& abs_store) {
  for (auto& m : ReadMounts()) {
    if (m.fstype == kFsType && m.source == abs_store) return m;
  }
  return std::nullopt;
}

Status Unmount(const std::string& mnt, bool lazy) {
  if (geteuid() == 0) {
    if (umount2(mnt.c_str(), lazy ? MNT_DETACH : 0) == 0) return Status::OK();
    int err = errno;
    if (err == EBUSY) {
      return Status::Errno(EBUSY, "cannot unmount " + mnt +
                                      ": it is busy (files or directories in it are open; "
                                      "see `fuser -vm " + mnt + "`)");
    }
    return Status::FromErrno("cannot unmount " + mnt, err);
  }
  std::vector<std::string> args = {"fusermount3", "-u"};
  if (lazy) args.push_back("-z");
  args.push_back(mnt);
  int rc = RunProgram(args);
  if (rc == 0) return Status::OK();
  if (rc == 127) return Status::Errno(ENOENT, "cannot unmount " + mnt + ": fusermount3 not found");
  return Status::Errno(EBUSY, "cannot unmount " + mnt + ": fusermount3 failed (message above)");
}

// stat() alone cannot tell: with long attribute timeouts the kernel answers
// it from cache even after the daemon died. The store lock can: a live
// daemon holds it for as long as it runs.
bool DaemonIsDead(const std::string& mnt) {
  auto entry = FindMountAt(mnt);
  if (!entry || entry->fstype != kFsType) return false;
  UniqueFd fd(::open((entry->source + "/lock").c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return false;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  ::flock(fd.get(), LOCK_UN);
  return true;
}

Status DeadMountError(const std::string& store, const std::string& mnt, const std::string& retry) {
  return Status::Errno(ENOTCONN,
                       "store " + store + " is still listed as mounted at " + mnt +
                           ", but its daemon is gone (killed?); run `ckptfs umount " + mnt +
                           "` to clear the dead mount, then " +
                           (retry.empty() ? "run this command again" : "`" + retry + "`"));
}

Status ClearStaleMount(const std::string& mnt, bool* cleared) {
  *cleared = false;
  struct stat st {};
  const bool dead = (stat(mnt.c_str(), &st) != 0 && errno == ENOTCONN) || DaemonIsDead(mnt);
  if (!dead) return Status::OK();
  CKPTFS_RETURN_IF_ERROR(Unmount(mnt, /*lazy=*/true));
  if (stat(mnt.c_str(), &st) != 0) {
    return Status::FromErrno("mountpoint " + mnt + " is still unusable after clearing a dead mount",
                             errno);
  }
  *cleared = true;
  return Status::OK();
}

}  // namespace ckptfs::cli
