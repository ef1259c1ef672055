// Env: the one interface through which codec/ and fs/ touch files.
//
// The POSIX implementation is Env::Default(). FaultInjectionEnv (fault_env.h)
// wraps any Env to simulate a full disk or failing syncs, so ENOSPC and crash
// tests need no root tricks.
//
// Thread safety: Env methods are thread-safe. RandomAccessFile::ReadAt and
// RandomRWFile::ReadAt/WriteAt are thread-safe (pread/pwrite). WritableFile is
// not: one writer owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace ckptfs {

using ByteSpan = std::span<const std::byte>;
using MutableByteSpan = std::span<std::byte>;

// Append-only file. Invariant: after the first failed Append or Sync the file
// stays broken and every later call returns that first error, so a torn
// record is never followed by a good one.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  Status Append(ByteSpan data) { return AppendV({&data, 1}); }
  // Appends the parts in order with one gather write (one record, no
  // concatenation copy); a short write is an error.
  virtual Status AppendV(std::span<const ByteSpan> parts) = 0;
  // Makes every appended byte readable through other descriptors of the
  // file. Appends are visible at once unless the file buffers them (see
  // Env::NewDirectWritableFile); not a sync.
  virtual Status Flush() { return Status::OK(); }
  virtual Status Sync() = 0;                 // Flush + fdatasync
  virtual Status Close() = 0;                // idempotent; the destructor closes too
  virtual uint64_t Size() const = 0;         // bytes appended, including the pre-existing size
  virtual const std::string& path() const = 0;
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to out.size() bytes at `offset`; *got is less only at EOF.
  virtual Status ReadAt(uint64_t offset, MutableByteSpan out, size_t* got) const = 0;
  virtual Result<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
  // Offsets, lengths and buffers that are multiples of this are read without
  // a bounce copy (direct reads: Env::NewDirectRandomAccessFile); 1 otherwise.
  virtual size_t alignment() const { return 1; }
};

// Read-write file with holes, used for the random-write overlay in staging/.
class RandomRWFile {
 public:
  virtual ~RandomRWFile() = default;
  virtual Status WriteAt(uint64_t offset, ByteSpan data) = 0;
  virtual Status ReadAt(uint64_t offset, MutableByteSpan out, size_t* got) const = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Sync() = 0;
  virtual const std::string& path() const = 0;
};

// Held while alive; released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct FsSpace {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;   // available to unprivileged users
  uint64_t block_size = 4096;
  uint64_t total_inodes = 0;
  uint64_t free_inodes = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  // Opens for appending, creating the file if needed; truncates when asked.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                bool truncate) = 0;
  // Creates (or truncates) a file for large write-once output (packs). It
  // may bypass the page cache (base/direct_file.h), in which case appended
  // bytes reach other descriptors only after Flush(), Sync() or Close().
  // Falls back to NewWritableFile(path, true) where the filesystem cannot.
  virtual Result<std::unique_ptr<WritableFile>> NewDirectWritableFile(const std::string& path) {
    return NewWritableFile(path, /*truncate=*/true);
  }
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  // For data read once and cached above (pack records): reads around the
  // page cache where the filesystem allows, else NewRandomAccessFile. Reads
  // of any alignment work; aligned ones (alignment()) cost no extra copy.
  virtual Result<std::unique_ptr<RandomAccessFile>> NewDirectRandomAccessFile(
      const std::string& path) {
    return NewRandomAccessFile(path);
  }
  // Creates (or truncates) a read-write file.
  virtual Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) = 0;

  virtual Status CreateDir(const std::string& path) = 0;  // ok if it exists
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveDir(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> GetFileSize(const std::string& path) = 0;
  // Bytes the file occupies on disk (st_blocks): less than its size where
  // holes were punched or never written.
  virtual Result<uint64_t> GetFileAllocatedSize(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual Result<FsSpace> GetSpace(const std::string& path) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Creates `path` (if missing) with `bytes` allocated on disk, so that a
  // later RemoveFile() frees real space (the store's ENOSPC reserve).
  virtual Status Preallocate(const std::string& path, uint64_t bytes) = 0;
  // Frees the disk blocks of [offset, offset+len) of an existing file, which
  // then reads as zeros; the file size does not change. NotSupported where
  // the filesystem cannot punch holes.
  virtual Status PunchHole(const std::string& path, uint64_t offset, uint64_t len) = 0;
  // Non-blocking exclusive flock(); Busy when another process holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Publishes `data` at `path` crash-safely: write a temp file, sync, rename,
  // sync the directory. Readers see the old or the new content, never a mix.
  Status WriteFileAtomic(const std::string& path, ByteSpan data);
  Result<std::string> ReadFileToString(const std::string& path);
};

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace ckptfs
