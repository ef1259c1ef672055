#include "ckpt/posix_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ckpt {

namespace {
std::string describe(const std::string& cause, int err) {
  if (err == 0) return cause;
  return cause + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
}
}  // namespace

CheckpointError::CheckpointError(std::string path, const std::string& cause, int err)
    : std::runtime_error("ckpt: '" + path + "': " + describe(cause, err)),
      path_(std::move(path)),
      errno_(err) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::release() noexcept {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::close_or_throw(const std::string& path) {
  int fd = release();
  // POSIX leaves the fd state unspecified after EINTR on Linux it is closed,
  // so never retry close().
  if (fd >= 0 && ::close(fd) != 0) throw CheckpointError(path, "close failed", errno);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto pos = p.rfind('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

UniqueFd open_for_create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw CheckpointError(path, "cannot create file", errno);
  return UniqueFd(fd);
}

UniqueFd open_directory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw CheckpointError(path, "cannot open directory", errno);
  return UniqueFd(fd);
}

int write_all_noexcept(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    // Large single writes are split so a FUSE mount sees bounded requests
    // and a signal interrupts at most one slice.
    size_t slice = std::min<size_t>(n, size_t{1} << 30);
    ssize_t w = ::write(fd, p, slice);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;  // no progress: treat as an I/O error, not a spin
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  int err = write_all_noexcept(fd, data, n);
  if (err != 0) throw CheckpointError(path, "write failed", err);
}

void fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw CheckpointError(path, "fsync failed", errno);
}

void fsync_directory(const std::string& path) {
  UniqueFd fd = open_directory(path);
  fsync_fd(fd.get(), path);
  fd.close_or_throw(path);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_directories(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  auto pos = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
  if (pos != std::string::npos && pos > 0) make_directories(path.substr(0, pos));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw CheckpointError(path, "cannot create directory", errno);
  if (!is_directory(path)) throw CheckpointError(path, "exists and is not a directory", ENOTDIR);
}

std::string make_temp_directory(const std::string& dir, const std::string& prefix) {
  std::string templ = join_path(dir, prefix + "XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    throw CheckpointError(templ, "cannot create temporary directory", errno);
  // mkdtemp makes 0700; the committed checkpoint must be readable like any
  // directory os.makedirs would create (eval jobs often run as another user).
  // (A fixed 0755: reading the umask means setting it, which races with
  // other threads of the training process.)
  if (::chmod(buf.data(), 0755) != 0)
    throw CheckpointError(buf.data(), "cannot set directory mode", errno);
  return std::string(buf.data());
}

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw CheckpointError(path, "cannot stat", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    for (const auto& name : list_directory(path)) remove_tree(join_path(path, name));
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
      throw CheckpointError(path, "cannot remove directory", errno);
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw CheckpointError(path, "cannot remove file", errno);
  }
}

std::vector<std::string> list_directory(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw CheckpointError(dir, "cannot list directory", errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) throw CheckpointError(dir, "cannot read directory", err);
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CheckpointError(path, "cannot open", errno);
  UniqueFd owner(fd);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw CheckpointError(path, "read failed", errno);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > (1u << 20)) throw CheckpointError(path, "unexpectedly large file");
  }
  return out;
}

void rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw CheckpointError(to, "cannot rename '" + from + "' to it", errno);
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string templ = join_path(dir, "." + base_name(path) + ".tmp-XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) throw CheckpointError(templ, "cannot create temporary file", errno);
  std::string tmp(buf.data());
  UniqueFd owner(fd);
  try {
    if (::fchmod(fd, 0644) != 0) throw CheckpointError(tmp, "fchmod failed", errno);
    write_all(fd, contents.data(), contents.size(), tmp);
    fsync_fd(fd, tmp);
    owner.close_or_throw(tmp);
    rename_path(tmp, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_directory(dir);
}

}  // namespace ckpt
