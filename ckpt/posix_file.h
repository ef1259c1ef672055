// Thin POSIX helpers used by the checkpointer. Every failure throws
// CheckpointError carrying the path and strerror(errno). Nothing here depends
// on libtorch, so the commit protocol can be reasoned about (and compiled) on
// its own.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ckpt/checkpoint_error.h"

namespace ckpt {

// Owns one file descriptor. close() reports errors (NFS/FUSE may report a
// deferred write error there); the destructor closes silently.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  // Closes and throws CheckpointError(path) if close() fails.
  void close_or_throw(const std::string& path);

 private:
  int fd_ = -1;
};

std::string join_path(const std::string& dir, const std::string& name);
std::string base_name(const std::string& path);

// open(2) wrappers that throw on failure.
UniqueFd open_for_create(const std::string& path);  // O_WRONLY|O_CREAT|O_EXCL
UniqueFd open_directory(const std::string& path);

// Writes all `n` bytes, retrying on EINTR and short writes. Returns errno of
// the failing write, or 0 on success. (Callers that must not throw use this.)
int write_all_noexcept(int fd, const void* data, size_t n);
void write_all(int fd, const void* data, size_t n, const std::string& path);

void fsync_fd(int fd, const std::string& path);
void fsync_directory(const std::string& path);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
void make_directories(const std::string& path);  // mkdir -p
// Creates `dir/<prefix>XXXXXX` and returns its path.
std::string make_temp_directory(const std::string& dir, const std::string& prefix);
// rm -rf; missing paths are fine. Throws on other errors.
void remove_tree(const std::string& path);
// Names in `dir` (no "." and ".."), sorted.
std::vector<std::string> list_directory(const std::string& dir);
std::string read_small_file(const std::string& path);
void rename_path(const std::string& from, const std::string& to);

// Publishes `contents` at `path` atomically: write `dir/.<name>.tmp-XXXXXX`,
// fsync it, rename it over `path`, fsync the directory. A crash at any point
// leaves either the old or the new contents at `path`.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace ckpt
