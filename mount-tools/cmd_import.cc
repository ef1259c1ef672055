// ckptfs import SRC STORE[:PATH]: copy a local tree into an unmounted store
// through the Filesystem API (no FUSE), keeping modes, times, symlinks and
// hard links.
//
// SRC a directory: its contents land in PATH (created if missing).
// SRC a file: it lands at PATH, or at PATH/basename when PATH is a directory.
// A failure on one entry is reported with its path; the rest continue and
// the command exits 1 at the end.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <vector>

#include "base/unique_fd.h"
#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/prefetch_reader.h"
#include "mount-tools/progress.h"
#include "mount-tools/store_path.h"

namespace ckptfs::cli {
namespace {

int64_t Ns(const timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

class Importer {
 public:
  Importer(Filesystem& fs, Progress& progress) : fs_(fs), progress_(progress) {}
  int errors() const { return errors_; }
  void set_total(uint64_t bytes) { total_ = bytes; }

  // Copies src to dst_parent/name (a directory: merges into an existing one).
  void Copy(const std::string& src, Ino dst_parent, const std::string& name,
            const std::string& dst_path) {
    struct stat st {};
    if (lstat(src.c_str(), &st) != 0) return Error(Status::FromErrno(src, errno));
    if (S_ISDIR(st.st_mode)) return CopyDir(src, st, dst_parent, name, dst_path);
    // Hard links in the source stay hard links in the store.
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto it = links_.find({st.st_dev, st.st_ino});
      if (it != links_.end()) {
        (void)fs_.Unlink(dst_parent, name);  // replace whatever is there
        auto r = fs_.Link(it->second, dst_parent, name);
        if (!r.ok()) Error(r.status().WithContext("link " + dst_path));
        return;
      }
    }
    Result<InodeAttr> made = Status::InvalidArgument("unreachable");
    if (S_ISREG(st.st_mode)) {
      made = CopyFile(src, st, dst_parent, name, dst_path);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlink(src.c_str(), target.data(), target.size());
      if (n < 0) return Error(Status::FromErrno("readlink " + src, errno));
      target.resize(static_cast<size_t>(n));
      (void)fs_.Unlink(dst_parent, name);
      made = fs_.Symlink(dst_parent, name, target, st.st_uid, st.st_gid);
    } else {
      (void)fs_.Unlink(dst_parent, name);
      made = fs_.Mknod(dst_parent, name, st.st_mode, st.st_rdev, st.st_uid, st.st_gid);
    }
    if (!made.ok()) return Error(made.status().WithContext(dst_path));
    if (st.st_nlink > 1) links_[{st.st_dev, st.st_ino}] = made->ino;
    SetMeta(made->ino, st, dst_path);  // symlinks too: their mtime is kept like cp -a
  }

 private:
  void Error(const Status& s) {
    progress_.Finish();
    PrintError(s.ToString());
    errors_++;
  }

  // Mode, owner (when root, like cp -a) and times; mtime last, after the data.
  void SetMeta(Ino ino, const struct stat& st, const std::string& dst_path) {
    InodeAttr v;
    v.mode = st.st_mode;
    v.uid = st.st_uid;
    v.gid = st.st_gid;
    v.atime_ns = Ns(st.st_atim);
    v.mtime_ns = Ns(st.st_mtim);
    uint32_t mask = kSetMode | kSetAtime | kSetMtime;
    if (geteuid() == 0) mask |= kSetUid | kSetGid;
    auto r = fs_.SetAttr(ino, v, mask, std::nullopt);
    if (!r.ok()) Error(r.status().WithContext("set attributes of " + dst_path));
  }

  Result<InodeAttr> CopyFile(const std::string& src, const struct stat& st, Ino parent,
                             const std::string& name, const std::string& dst_path) {
    UniqueFd in(open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return Status::FromErrno(src, errno);
    // Written under a temporary name and renamed when complete, so a killed
    // import never leaves a partial file under the final name (only a
    // ".NAME.ckptfs-import" that the next import of NAME replaces).
    const std::string tmp = TempName(name);
    auto created = fs_.Create(parent, tmp, (st.st_mode & 07777) | S_IFREG,
                              O_WRONLY | O_CREAT | O_TRUNC, st.st_uid, st.st_gid);
    if (!created.ok()) return created.status();
    FileHandle fh = created->second;
    Status s;
    uint64_t off = 0;
    {
      PrefetchReader reader(in.get(), src);
      for (;;) {
        auto piece = reader.Next();
        if (!piece.ok()) {
          s = piece.status();
          break;
        }
        if (piece->empty()) break;
        auto w = fs_.Write(fh, off, *piece);
        if (!w.ok()) {
          s = w.status();
          break;
        }
        off += piece->size();
        done_ += piece->size();
        progress_.Update(done_, total_);
      }
    }
    Status closed = fs_.Release(fh);  // commits the file's extents
    if (s.ok()) s = closed;
    if (s.ok()) s = fs_.Rename(parent, tmp, parent, name, 0);
    if (!s.ok()) {
      (void)fs_.Unlink(parent, tmp);
      return s.WithContext(dst_path);
    }
    return created->first;
  }

  static std::string TempName(const std::string& name) {
    std::string t = "." + name + ".ckptfs-import";
    return t.size() <= 255 ? t : "." + name.substr(0, 200) + ".ckptfs-import";
  }

  void CopyDir(const std::string& src, const struct stat& st, Ino parent, const std::string& name,
               const std::string& dst_path) {
    Result<InodeAttr> dir = Status::NotFound("");
    if (name.empty()) {
      dir = fs_.GetAttr(parent);  // the import target itself
    } else {
      dir = fs_.Lookup(parent, name);
      if (dir.ok() && !S_ISDIR(dir->mode)) {
        return Error(Status::Errno(ENOTDIR, dst_path + ": exists and is not a directory"));
      }
      if (!dir.ok()) dir = fs_.Mkdir(parent, name, S_IFDIR | 0700, st.st_uid, st.st_gid);
    }
    if (!dir.ok()) return Error(dir.status().WithContext(dst_path));
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(src, ec)) {
      names.push_back(e.path().filename().string());
    }
    if (ec) return Error(Status::FromErrno(src, ec.value()));
    for (const auto& n : names) Copy(src + "/" + n, dir->ino, n, JoinStorePath(dst_path, n));
    SetMeta(dir->ino, st, dst_path);  // after the children changed its mtime
  }

 private:
  Filesystem& fs_;
  Progress& progress_;
  std::map<std::pair<dev_t, ino_t>, Ino> links_;
  uint64_t done_ = 0, total_ = 0;
  int errors_ = 0;
};

uint64_t TreeBytes(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return 0;
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (!S_ISDIR(st.st_mode)) return 0;
  uint64_t sum = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (e.is_regular_file(ec) && !e.is_symlink(ec)) sum += e.file_size(ec);
  }
  return sum;
}

// mkdir -p inside the store.
Result<InodeAttr> EnsureDir(Filesystem& fs, const std::string& path) {
  auto cur = fs.GetAttr(kRootIno);
  std::string walked;
  for (const auto& part : std::filesystem::path(path)) {
    std::string p = part.string();
    if (p.empty() || p == "/") continue;
    walked += "/" + p;
    auto next = fs.Lookup(cur->ino, p);
    if (!next.ok() && next.status().IsNotFound()) {
      next = fs.Mkdir(cur->ino, p, S_IFDIR | 0755, getuid(), getgid());
    }
    if (!next.ok()) return next.status().WithContext(walked);
    if (!S_ISDIR(next->mode)) return Status::Errno(ENOTDIR, walked + ": not a directory");
    cur = std::move(next);
  }
  return cur;
}

}  // namespace

Runner AddImport(CLI::App& app) {
  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("import", "Copy a local file or tree into a store (no FUSE)");
  cmd->add_option("SRC", *src, "Local file or directory")->required();
  cmd->add_option("STORE[:PATH]", *dst, "Destination (default: the store's root)")->required();
  return [=]() -> int {
    struct stat st {};
    if (lstat(src->c_str(), &st) != 0) return Fail(Status::FromErrno(*src, errno));
    StoreRef r = ParseStoreRef(*dst);
    auto fs = OpenStore(r.store, /*read_only=*/false);
    if (!fs.ok()) return Fail(fs.status());
    Progress progress("import", /*bytes=*/true);
    Importer imp(**fs, progress);
    imp.set_total(TreeBytes(*src));
    std::string where = r.store + ":" + r.path;
    if (S_ISDIR(st.st_mode)) {
      auto dir = EnsureDir(**fs, r.path);
      if (!dir.ok()) return Fail(dir.status().WithContext(r.store));
      imp.Copy(*src, dir->ino, "", r.path);
    } else {
      auto target = ResolvePath(**fs, r.path);
      std::string path = r.path;
      if (target.ok() && S_ISDIR(target->mode)) {
        path = JoinStorePath(r.path, std::filesystem::path(*src).filename().string());
      }
      auto [parent_path, name] = SplitStorePath(path);
      auto parent = EnsureDir(**fs, parent_path);
      if (!parent.ok()) return Fail(parent.status().WithContext(r.store));
      imp.Copy(*src, parent->ino, name, path);
    }
    progress.Finish();
    Status synced = (*fs)->SyncAll();
    if (!synced.ok()) return Fail(synced.WithContext("sync " + r.store));
    if (imp.errors() > 0) {
      PrintError("import into " + where + ": " + std::to_string(imp.errors()) +
                 " entr" + (imp.errors() == 1 ? "y" : "ies") + " failed (listed above)");
      return kExitError;
    }
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
