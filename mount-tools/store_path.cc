#include "mount-tools/store_path.h"

#include <sys/stat.h>

#include "mount-tools/cli_util.h"
#include "mount-tools/mounts.h"

namespace ckptfs::cli {
namespace {

bool IsDir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string NormalizeInner(std::string p) {
  if (p.empty() || p[0] != '/') p.insert(p.begin(), '/');
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

StoreRef ParseStoreRef(const std::string& arg) {
  if (IsDir(arg)) return {AbsolutePath(arg), "/"};
  for (size_t pos = arg.rfind(':'); pos != std::string::npos && pos > 0;
       pos = arg.rfind(':', pos - 1)) {
    std::string prefix = arg.substr(0, pos);
    if (IsDir(prefix)) return {AbsolutePath(prefix), NormalizeInner(arg.substr(pos + 1))};
  }
  // Nothing matched: report against the most plausible store path.
  size_t first = arg.find(':');
  if (first == std::string::npos) return {AbsolutePath(arg), "/"};
  return {AbsolutePath(arg.substr(0, first)), NormalizeInner(arg.substr(first + 1))};
}

Result<StoreTarget> ResolveTarget(const std::string& arg) {
  std::string abs = AbsolutePath(arg);
  struct stat st {};
  if (stat(abs.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOTCONN) {
      return Status::Errno(ENOTCONN, abs + ": dead ckptfs mount (its daemon is gone); run "
                                     "`ckptfs umount " + abs + "` or mount it again");
    }
    return Status::FromErrno(abs, err);
  }
  if (auto m = FindMountAt(abs)) return StoreTarget{m->source, abs};
  StoreTarget t{abs, std::nullopt};
  if (auto m = FindMountOfStore(abs)) t.mountpoint = m->mountpoint;
  return t;
}

Result<std::unique_ptr<Filesystem>> OpenStore(const std::string& store, bool read_only) {
  if (auto m = FindMountOfStore(store)) {
    if (DaemonIsDead(m->mountpoint)) return DeadMountError(store, m->mountpoint, "");
    return Status::Busy("store " + store + " is mounted at " + m->mountpoint +
                        "; work through the mountpoint, or `ckptfs umount " + m->mountpoint +
                        "` first");
  }
  StoreOptions options;
  options.read_only = read_only;
  auto fs = Filesystem::Open(store, options);
  if (!fs.ok() && fs.status().code() == Code::kBusy) {
    return Status::Busy(fs.status().ToString() +
                        " (another ckptfs command or a mount daemon holds its lock)");
  }
  return fs;
}

Result<std::vector<std::pair<DirEntry, InodeAttr>>> ListAll(Filesystem& fs, Ino dir) {
  constexpr size_t kPage = 1024;
  std::vector<std::pair<DirEntry, InodeAttr>> all;
  std::string after;
  for (;;) {
    auto r = fs.ReadDir(dir, after, kPage);
    if (!r.ok()) return r.status();
    size_t n = r->size();
    for (auto& e : *r) all.push_back(std::move(e));
    if (n < kPage) return all;
    after = all.back().first.name;
  }
}

std::pair<std::string, std::string> SplitStorePath(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"/", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string JoinStorePath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == "/") return "/" + name;
  return dir + "/" + name;
}

}  // namespace ckptfs::cli
