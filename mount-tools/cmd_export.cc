// ckptfs export STORE[:PATH] DST: copy out of an unmounted store (no FUSE),
// keeping modes, times, symlinks and hard links.
//
// PATH a directory: its contents land in DST (created if missing).
// PATH a file: it lands at DST, or at DST/basename when DST is a directory.
// Each file is written to a temporary name in its directory and renamed
// into place only when complete, so a failed file (e.g. a corrupt chunk)
// never appears half-written under its final name. Failures are reported
// with the file's store path; the rest continue; the exit code is then 1.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "base/unique_fd.h"
#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/progress.h"
#include "mount-tools/store_path.h"

namespace ckptfs::cli {
namespace {

constexpr size_t kPiece = 1 << 20;

timespec Ts(int64_t ns) { return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)}; }

class Exporter {
 public:
  Exporter(Filesystem& fs, Progress& progress, std::string store)
      : fs_(fs), progress_(progress), store_(std::move(store)) {}
  int errors() const { return errors_; }
  void set_total(uint64_t bytes) { total_ = bytes; }

  // Exports the store entry `a` (at store path `spath`) to local `dst`.
  void Copy(const InodeAttr& a, const std::string& spath, const std::string& dst) {
    if (S_ISDIR(a.mode)) return CopyDir(a, spath, dst);
    if (!S_ISDIR(a.mode) && a.nlink > 1) {
      auto it = links_.find(a.ino);
      if (it != links_.end()) {
        unlink(dst.c_str());
        if (link(it->second.c_str(), dst.c_str()) != 0) Error(Status::FromErrno("link " + dst, errno));
        return;
      }
    }
    Status s;
    if (S_ISREG(a.mode)) {
      s = CopyFile(a, spath, dst);
    } else if (S_ISLNK(a.mode)) {
      auto target = fs_.ReadLink(a.ino);
      if (!target.ok()) return Error(target.status().WithContext(Where(spath)));
      unlink(dst.c_str());
      if (symlink(target->c_str(), dst.c_str()) != 0) return Error(Status::FromErrno(dst, errno));
      timespec times[2] = {Ts(a.atime_ns), Ts(a.mtime_ns)};
      utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW);
    } else {
      unlink(dst.c_str());
      if (mknod(dst.c_str(), a.mode, a.rdev) != 0) return Error(Status::FromErrno(dst, errno));
      SetMeta(dst, a);
    }
    if (!s.ok()) return Error(s);
    if (a.nlink > 1) links_[a.ino] = dst;
  }

 private:
  std::string Where(const std::string& spath) const { return store_ + ":" + spath; }

  void Error(const Status& s) {
    progress_.Finish();
    PrintError(s.ToString());
    errors_++;
  }

  void SetMeta(const std::string& dst, const InodeAttr& a) {
    if (geteuid() == 0) (void)!lchown(dst.c_str(), a.uid, a.gid);
    chmod(dst.c_str(), a.mode & 07777);
    timespec times[2] = {Ts(a.atime_ns), Ts(a.mtime_ns)};
    utimensat(AT_FDCWD, dst.c_str(), times, 0);
  }

  Status CopyFile(const InodeAttr& a, const std::string& spath, const std::string& dst) {
    std::filesystem::path d(dst);
    std::string tmpl = (d.parent_path() / ("." + d.filename().string() + ".ckptfs-XXXXXX")).string();
    UniqueFd out(mkostemp(tmpl.data(), O_CLOEXEC));
    if (!out.valid()) return Status::FromErrno("create a temporary file for " + dst, errno);
    std::string tmp = tmpl;
    auto fail = [&](Status s) {
      unlink(tmp.c_str());
      return s;
    };
    auto fh = fs_.Open(a.ino, O_RDONLY);
    if (!fh.ok()) return fail(fh.status().WithContext(Where(spath)));
    buf_.resize(kPiece);
    uint64_t off = 0;
    Status s;
    for (;;) {
      auto n = fs_.Read(*fh, off, std::span(buf_.data(), kPiece));
      if (!n.ok()) {
        s = n.status().WithContext("read " + Where(spath));
        break;
      }
      if (*n == 0) break;
      size_t w = 0;
      while (w < *n) {
        ssize_t k = write(out.get(), buf_.data() + w, *n - w);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) break;
        w += static_cast<size_t>(k);
      }
      if (w < *n) {
        s = Status::FromErrno("write " + dst, errno);
        break;
      }
      off += *n;
      done_ += *n;
      progress_.Update(done_, total_);
    }
    (void)fs_.Release(*fh);
    if (!s.ok()) return fail(s);
    if (geteuid() == 0) (void)!fchown(out.get(), a.uid, a.gid);
    fchmod(out.get(), a.mode & 07777);
    timespec times[2] = {Ts(a.atime_ns), Ts(a.mtime_ns)};
    futimens(out.get(), times);
    if (out.reset() != 0) return fail(Status::FromErrno("close " + dst, errno));
    if (rename(tmp.c_str(), dst.c_str()) != 0) return fail(Status::FromErrno("rename to " + dst, errno));
    return Status::OK();
  }

  void CopyDir(const InodeAttr& a, const std::string& spath, const std::string& dst) {
    struct stat st {};
    if (stat(dst.c_str(), &st) != 0) {
      if (mkdir(dst.c_str(), 0700) != 0) return Error(Status::FromErrno("mkdir " + dst, errno));
    } else if (!S_ISDIR(st.st_mode)) {
      return Error(Status::Errno(ENOTDIR, dst + ": exists and is not a directory"));
    }
    auto entries = ListAll(fs_, a.ino);
    if (!entries.ok()) return Error(entries.status().WithContext(Where(spath)));
    for (const auto& [e, attr] : *entries) {
      Copy(attr, JoinStorePath(spath, e.name), dst + "/" + e.name);
    }
    SetMeta(dst, a);  // after the children changed its mtime
  }

  Filesystem& fs_;
  Progress& progress_;
  std::string store_;
  std::vector<std::byte> buf_;
  std::map<Ino, std::string> links_;
  uint64_t done_ = 0, total_ = 0;
  int errors_ = 0;
};

uint64_t TreeBytes(Filesystem& fs, const InodeAttr& a) {
  if (S_ISREG(a.mode)) return a.size;
  if (!S_ISDIR(a.mode)) return 0;
  uint64_t sum = 0;
  auto entries = ListAll(fs, a.ino);
  if (entries.ok()) {
    for (const auto& [e, attr] : *entries) sum += TreeBytes(fs, attr);
  }
  return sum;
}

}  // namespace

Runner AddExport(CLI::App& app) {
  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("export", "Copy a file or tree out of a store (no FUSE)");
  cmd->add_option("STORE[:PATH]", *src, "Source in the store (default: its root)")->required();
  cmd->add_option("DST", *dst, "Local destination")->required();
  return [=]() -> int {
    StoreRef r = ParseStoreRef(*src);
    auto fs = OpenStore(r.store, /*read_only=*/true);
    if (!fs.ok()) return Fail(fs.status());
    auto attr = ResolvePath(**fs, r.path);
    if (!attr.ok()) return Fail(attr.status().WithContext(r.store + ":" + r.path));
    std::string out = *dst;
    struct stat st {};
    if (!S_ISDIR(attr->mode) && stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      out += "/" + SplitStorePath(r.path).second;
    }
    Progress progress("export", /*bytes=*/true);
    Exporter ex(**fs, progress, r.store);
    ex.set_total(TreeBytes(**fs, *attr));
    ex.Copy(*attr, r.path, out);
    progress.Finish();
    if (ex.errors() > 0) {
      PrintError("export of " + r.store + ":" + r.path + ": " + std::to_string(ex.errors()) +
                 " entr" + (ex.errors() == 1 ? "y" : "ies") + " failed (listed above)");
      return kExitError;
    }
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
