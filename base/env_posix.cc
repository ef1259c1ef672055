// POSIX implementation of Env.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>

#include "base/aligned_buffer.h"
#include "base/direct_file.h"
#include "base/env.h"
#include "base/unique_fd.h"

namespace ckptfs {
namespace {

Status WriteAll(int fd, const std::string& path, ByteSpan data, const off_t* offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = offset ? ::pwrite(fd, data.data() + done, data.size() - done, *offset + done)
                       : ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    if (n == 0) return Status::FromErrno("write " + path, EIO);
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

// writev until every part is written (continuing after short writes).
Status WriteAllV(int fd, const std::string& path, std::span<const ByteSpan> parts) {
  std::vector<iovec> iov;
  for (const auto& p : parts)
    if (!p.empty()) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
  size_t i = 0;
  while (i < iov.size()) {
    const int cnt = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    ssize_t n = ::writev(fd, iov.data() + i, cnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    if (n == 0) return Status::FromErrno("write " + path, EIO);
    for (size_t left = static_cast<size_t>(n); left > 0;) {
      const size_t take = std::min(left, iov[i].iov_len);
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + take;
      iov[i].iov_len -= take;
      left -= take;
      if (iov[i].iov_len == 0) ++i;
    }
    while (i < iov.size() && iov[i].iov_len == 0) ++i;
  }
  return Status::OK();
}

Status ReadAtFd(int fd, const std::string& path, uint64_t offset, MutableByteSpan out,
                size_t* got) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + path, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  *got = done;
  return Status::OK();
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, UniqueFd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size), kicked_(size) {}
  ~PosixWritableFile() override { (void)Close(); }

  Status AppendV(std::span<const ByteSpan> parts) override {
    if (!error_.ok()) return error_;
    if (!fd_.valid()) return Status::InvalidArgument("append to closed file " + path_);
    Status s = WriteAllV(fd_.get(), path_, parts);
    if (!s.ok()) return error_ = s;
    for (const auto& p : parts) size_ += p.size();
    if (size_ - kicked_ >= kWritebackWindow) StartWriteback();
    return s;
  }
  Status Sync() override {
    if (!error_.ok()) return error_;
    if (::fdatasync(fd_.get()) != 0) return error_ = Status::FromErrno("fdatasync " + path_, errno);
    return Status::OK();
  }
  Status Close() override {
    if (fd_.valid() && fd_.reset() != 0 && error_.ok())
      error_ = Status::FromErrno("close " + path_, errno);
    return error_;
  }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  // A large append-only file (a pack) would otherwise sit dirty in the page
  // cache until its Sync(): the kernel starts writeback only past
  // dirty_background_ratio, which on a big-memory machine is gigabytes. The
  // fdatasync at commit would then write the whole file while the writer
  // waits. Starting writeback of each full window as soon as it is appended
  // overlaps the disk with the CPU work that produces the next window, so
  // the final sync has at most one window left to write.
  static constexpr uint64_t kWritebackWindow = 8u << 20;
  void StartWriteback() {
    // Only a hint: errors of the write itself surface on Sync().
    (void)::sync_file_range(fd_.get(), static_cast<off_t>(kicked_),
                            static_cast<off_t>(size_ - kicked_), SYNC_FILE_RANGE_WRITE);
    kicked_ = size_;
  }

  std::string path_;
  UniqueFd fd_;
  uint64_t size_;
  uint64_t kicked_;  // writeback was started for [0, kicked_)
  Status error_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Status ReadAt(uint64_t offset, MutableByteSpan out, size_t* got) const override {
    return ReadAtFd(fd_.get(), path_, offset, out, got);
  }
  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return Status::FromErrno("stat " + path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

// Opened with O_DIRECT: aligned reads go straight from the disk into the
// caller's buffer; any other read goes through an aligned bounce buffer.
class PosixDirectRandomAccessFile final : public RandomAccessFile {
  // pread of an aligned range; stops at a short, unaligned count (EOF: the
  // next, unaligned, direct read would fail with EINVAL).
  Status ReadAligned(uint64_t offset, MutableByteSpan out, size_t* got) const {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done, offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read " + path_, errno);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
      if (done % AlignedBuffer::kAlign != 0) break;
    }
    *got = done;
    return Status::OK();
  }

 public:
  PosixDirectRandomAccessFile(std::string path, UniqueFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}
  Status ReadAt(uint64_t offset, MutableByteSpan out, size_t* got) const override {
    constexpr uint64_t a = AlignedBuffer::kAlign;
    if (offset % a == 0 && out.size() % a == 0 &&
        reinterpret_cast<uintptr_t>(out.data()) % a == 0)
      return ReadAligned(offset, out, got);
    const uint64_t start = offset / a * a;
    const uint64_t end = (offset + out.size() + a - 1) / a * a;
    thread_local AlignedBuffer bounce;
    if (!bounce.Reserve(end - start)) return Status::FromErrno("read " + path_, ENOMEM);
    size_t n = 0;
    CKPTFS_RETURN_IF_ERROR(ReadAligned(start, MutableByteSpan(bounce.data(), end - start), &n));
    const size_t skip = offset - start;
    *got = n > skip ? std::min(out.size(), n - skip) : 0;
    if (*got) std::memcpy(out.data(), bounce.data() + skip, *got);
    return Status::OK();
  }
  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return Status::FromErrno("stat " + path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  const std::string& path() const override { return path_; }
  size_t alignment() const override { return AlignedBuffer::kAlign; }

 private:
  std::string path_;
  UniqueFd fd_;
};

class PosixRandomRWFile final : public RandomRWFile {
 public:
  PosixRandomRWFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Status WriteAt(uint64_t offset, ByteSpan data) override {
    off_t off = static_cast<off_t>(offset);
    return WriteAll(fd_.get(), path_, data, &off);
  }
  Status ReadAt(uint64_t offset, MutableByteSpan out, size_t* got) const override {
    return ReadAtFd(fd_.get(), path_, offset, out, got);
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0)
      return Status::FromErrno("truncate " + path_, errno);
    return Status::OK();
  }
  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  ~PosixFileLock() override { ::flock(fd_.get(), LOCK_UN); }

 private:
  UniqueFd fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override {
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    UniqueFd fd(::open(path.c_str(), flags, 0644));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, std::move(fd), static_cast<uint64_t>(st.st_size)));
  }
  Result<std::unique_ptr<WritableFile>> NewDirectWritableFile(const std::string& path) override {
    auto f = DirectWritableFile::Create(path);
    if (f.ok() || f.status().err() != EINVAL) return f;
    return NewWritableFile(path, /*truncate=*/true);  // no O_DIRECT here (tmpfs, some FUSE)
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, std::move(fd)));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewDirectRandomAccessFile(
      const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT));
    if (!fd.valid()) {
      if (errno == EINVAL) return NewRandomAccessFile(path);  // no O_DIRECT here
      return Status::FromErrno("open " + path, errno);
    }
    return std::unique_ptr<RandomAccessFile>(
        new PosixDirectRandomAccessFile(path, std::move(fd)));
  }
  Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<RandomRWFile>(new PosixRandomRWFile(path, std::move(fd)));
  }
  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FromErrno("mkdir " + path, errno);
    return Status::OK();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink " + path, errno);
    return Status::OK();
  }
  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return Status::FromErrno("rmdir " + path, errno);
    return Status::OK();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::FromErrno("rename " + from + " -> " + to, errno);
    return Status::OK();
  }
  Status SyncDir(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    if (::fsync(fd.get()) != 0) return Status::FromErrno("fsync " + path, errno);
    return Status::OK();
  }
  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Result<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  Result<uint64_t> GetFileAllocatedSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Status::FromErrno("opendir " + dir, errno);
    std::vector<std::string> out;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(std::move(name));
    }
    ::closedir(d);
    return out;
  }
  Result<FsSpace> GetSpace(const std::string& path) override {
    struct statvfs sv;
    if (::statvfs(path.c_str(), &sv) != 0) return Status::FromErrno("statvfs " + path, errno);
    FsSpace s;
    s.block_size = sv.f_frsize;
    s.total_bytes = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
    s.free_bytes = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    s.total_inodes = sv.f_files;
    s.free_inodes = sv.f_favail;
    return s;
  }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0)
      return Status::FromErrno("truncate " + path, errno);
    return Status::OK();
  }
  Status Preallocate(const std::string& path, uint64_t bytes) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes));
    if (rc != 0) return Status::FromErrno("fallocate " + path, rc);
    return Status::OK();
  }
  Status PunchHole(const std::string& path, uint64_t offset, uint64_t len) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    if (::fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(offset), static_cast<off_t>(len)) != 0) {
      if (errno == EOPNOTSUPP || errno == ENOSYS)
        return Status::NotSupported("punching holes in " + path);
      return Status::FromErrno("fallocate(PUNCH_HOLE) " + path, errno);
    }
    return Status::OK();
  }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) return Status::FromErrno("open " + path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return Status::Busy(path + " is locked by another ckptfs process (a mounted daemon or a "
                            "running command); unmount or wait for it");
      return Status::FromErrno("flock " + path, errno);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(std::move(fd)));
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

Status Env::WriteFileAtomic(const std::string& path, ByteSpan data) {
  static std::atomic<uint64_t> seq{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(seq++);
  {
    CKPTFS_ASSIGN_OR_RETURN(auto f, NewWritableFile(tmp, /*truncate=*/true));
    Status s = f->Append(data);
    if (s.ok()) s = f->Sync();
    if (s.ok()) s = f->Close();
    if (!s.ok()) {
      (void)RemoveFile(tmp);
      return s;
    }
  }
  Status s = Rename(tmp, path);
  if (!s.ok()) {
    (void)RemoveFile(tmp);
    return s;
  }
  auto slash = path.find_last_of('/');
  return SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
}

Result<std::string> Env::ReadFileToString(const std::string& path) {
  CKPTFS_ASSIGN_OR_RETURN(auto f, NewRandomAccessFile(path));
  CKPTFS_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  std::string out(size, '\0');
  size_t got = 0;
  CKPTFS_RETURN_IF_ERROR(
      f->ReadAt(0, {reinterpret_cast<std::byte*>(out.data()), out.size()}, &got));
  out.resize(got);
  return out;
}

}  // namespace ckptfs
