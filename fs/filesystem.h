// Filesystem: POSIX semantics over a ckptfs store, independent of FUSE.
//
// The FUSE adapter (fs/fuse_adapter.cc) and the CLI (import/export) are thin
// callers of this class; everything a kernel mount does can be exercised in a
// unit test through it. Methods mirror the FUSE low-level operations: they
// take inode numbers and open-file handles, and return Status values whose
// err() is the errno to reply with.
//
// Durability contract (docs/ARCHITECTURE.md):
//   - Flush()/Release() commit the file: its extents become visible to every
//     reader and survive a daemon crash.
//   - Fsync() also makes them survive power loss: pack data is fdatasync'ed
//     before the metadata commit that references it, then the commit is synced.
//   - Namespace operations (create, rename, unlink, ...) are single metadata
//     transactions, hence atomic.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "fs/metadata.h"
#include "fs/read_view.h"
#include "fs/store_config.h"

namespace ckptfs {

// Largest file size (8 TiB): writes, truncates and copy_file_range past it
// fail with EFBIG, so a sparse file cannot reach sizes that overflow offset
// arithmetic or the store's byte totals. Random writes are staged at their
// file offset in a sparse spill file, so the limit stays below ext4's
// 16 TiB file size: a write the limit admits must not fail in staging.
inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 43;

struct StoreOptions {
  Env* env = nullptr;                  // nullptr: Env::Default()
  uint64_t cache_bytes = 128ull << 20;  // decompressed chunk cache
  unsigned workers = 0;                 // hash/compress threads; 0: hardware concurrency
  // Chunks loaded ahead of a sequential reader (~16 MiB at the default
  // chunk size, 1/8 of the default chunk cache). Each read request claims
  // the chunks that enter the window, and those adjacent in a pack are read
  // with one direct read. A deep window keeps several such reads in flight
  // on a disk whose single reads are slow (bench: cold read of 2 GiB with
  // coalesced reads, 4 prefetch threads: 2.46-2.67 s at 16, 1.88-2.05 s at
  // 32, 1.72-1.81 s at 64, 1.86-1.98 s at 128).
  uint32_t readahead_chunks = 64;
  bool read_only = false;
  // Write-only handles are written around the kernel page cache
  // (CacheMode().direct_io; FilesystemImpl::Acquire says why). The mount
  // daemon turns this on unless the kernel's writeback cache is on.
  bool direct_writes = false;
  // Background gc: once files holding about this many stored bytes have been
  // deleted (or a write hit ENOSPC), a gc runs on its own thread. 0: never
  // (the CLI); the mount daemon turns it on.
  uint64_t auto_gc_bytes = 0;
  // Called with (path, message) whenever a read finds corrupt data, so the
  // daemon can log which file is affected.
  std::function<void(const std::string&, const std::string&)> on_corruption;
};

struct InitOptions {
  ChunkerParams chunker;
  CompressionOptions compression;
  uint32_t root_uid = 0, root_gid = 0;
};

// Open-file handle returned by Open/Create. Opaque to callers.
using FileHandle = uint64_t;

struct FsckReport {
  uint64_t chunks_checked = 0;
  uint64_t bytes_checked = 0;
  uint64_t bad_chunks = 0;       // chunks that failed verification
  uint64_t store_problems = 0;   // metadata database and pack footer problems
  // Descriptions: store problems first, then bad chunks; at most a screenful
  // of each (errors_omitted counts the rest).
  std::vector<std::string> errors;
  uint64_t errors_omitted = 0;
  std::vector<std::string> affected_files;  // paths, sorted, unique
  bool ok() const { return bad_chunks == 0 && store_problems == 0; }
};

struct GcReport {
  uint64_t chunks_deleted = 0;
  uint64_t packs_compacted = 0;
  uint64_t packs_deleted = 0;
  uint64_t bytes_reclaimed = 0;  // pack file bytes freed on disk
  // Due for compaction, but no room on the disk for the copy: freed in
  // place (holes punched over dead records), or left for a later gc.
  uint64_t packs_freed_in_place = 0, packs_not_compacted = 0;
  uint64_t pack_tails_cut = 0;  // failed writes' records cut off the end of a pack
};

// Progress callback for long operations: (done, total) in bytes or items.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

class Filesystem {
 public:
  // Creates a store in `dir` (which must be missing or empty).
  static Status Init(const std::string& dir, const InitOptions& options, Env* env = nullptr);
  // Opens a store, taking its lock. Errors name the store path and the cause
  // (NotFound: not a store; Busy: locked; Version: too new; Corruption).
  static Result<std::unique_ptr<Filesystem>> Open(const std::string& dir,
                                                  const StoreOptions& options);
  virtual ~Filesystem() = default;

  // --- namespace ---
  virtual Result<InodeAttr> Lookup(Ino parent, std::string_view name) = 0;
  virtual Result<InodeAttr> GetAttr(Ino ino) = 0;
  // `fh` is the open handle when the kernel passes one (ftruncate).
  virtual Result<InodeAttr> SetAttr(Ino ino, const InodeAttr& values, uint32_t mask,
                                    std::optional<FileHandle> fh) = 0;
  virtual Result<InodeAttr> Mkdir(Ino parent, std::string_view name, uint32_t mode, uint32_t uid,
                                  uint32_t gid) = 0;
  virtual Result<InodeAttr> Mknod(Ino parent, std::string_view name, uint32_t mode, uint64_t rdev,
                                  uint32_t uid, uint32_t gid) = 0;
  virtual Result<InodeAttr> Symlink(Ino parent, std::string_view name, std::string_view target,
                                    uint32_t uid, uint32_t gid) = 0;
  virtual Result<std::string> ReadLink(Ino ino) = 0;
  virtual Result<InodeAttr> Link(Ino ino, Ino new_parent, std::string_view new_name) = 0;
  virtual Status Unlink(Ino parent, std::string_view name) = 0;
  virtual Status Rmdir(Ino parent, std::string_view name) = 0;
  virtual Status Rename(Ino old_parent, std::string_view old_name, Ino new_parent,
                        std::string_view new_name, unsigned flags) = 0;
  // Entries after `after_name`, at most `limit`, with attributes.
  virtual Result<std::vector<std::pair<DirEntry, InodeAttr>>> ReadDir(Ino dir,
                                                                       std::string_view after_name,
                                                                       size_t limit) = 0;

  // --- files ---
  // Creates and opens parent/name. O_EXCL semantics: Exists if present and
  // `flags` has O_EXCL; otherwise opens the existing file (with O_TRUNC).
  virtual Result<std::pair<InodeAttr, FileHandle>> Create(Ino parent, std::string_view name,
                                                          uint32_t mode, int flags, uint32_t uid,
                                                          uint32_t gid) = 0;
  virtual Result<FileHandle> Open(Ino ino, int flags) = 0;
  // Short only at EOF.
  virtual Result<size_t> Read(FileHandle fh, uint64_t offset, std::span<std::byte> out) = 0;
  // Read without copying committed bytes: `view` points into cached chunks
  // and holds them until the caller clears or reuses it. Short only at EOF.
  virtual Result<size_t> ReadPinned(FileHandle fh, uint64_t offset, size_t len,
                                    ReadView* view) = 0;
  // Writes all of `data` at `offset` (or at EOF for O_APPEND handles).
  // `reply` gets the result as soon as the bytes are copied; the write's
  // remaining work (cutting chunks) runs after it, in the calling thread,
  // before this returns. That lets the FUSE adapter answer the writer first,
  // so the writer prepares its next request while this one is chunked. An
  // error in the remaining work is sticky: the file's next write, flush and
  // fsync fail with it, as for any chunk stored in the background. `reply`
  // runs under the file's lock, so it must not call back into this class.
  using WriteReply = std::function<void(const Result<size_t>&)>;
  virtual void Write(FileHandle fh, uint64_t offset, ByteSpan data, const WriteReply& reply) = 0;
  Result<size_t> Write(FileHandle fh, uint64_t offset, ByteSpan data) {
    Result<size_t> result = Status::Errno(EIO, "write gave no reply");
    Write(fh, offset, data, [&](const Result<size_t>& r) { result = r; });
    return result;
  }
  virtual Status Flush(FileHandle fh) = 0;
  virtual Status Fsync(FileHandle fh, bool datasync) = 0;
  virtual Status Release(FileHandle fh) = 0;
  // Clones the extents of [off_in, off_in+len) of `in` into `out` at
  // `off_out`; writes no chunk data. Returns bytes copied (clipped at EOF).
  virtual Result<size_t> CopyFileRange(FileHandle in, uint64_t off_in, FileHandle out,
                                       uint64_t off_out, size_t len) = 0;
  // How the kernel may cache the pages of an open file (FUSE open flags).
  struct CacheMode {
    // The file has not changed since its inode was last opened: the kernel
    // may keep the pages it has cached (FUSE keep_cache).
    bool keep_cache = false;
    // Reads and writes of this handle go to us, not through the page cache
    // (FUSE direct_io). See StoreOptions::direct_writes and
    // docs/ARCHITECTURE.md for why and when.
    bool direct_io = false;
  };
  virtual CacheMode GetCacheMode(FileHandle fh) = 0;
  // Called with an inode whose kernel page cache must be dropped: cached
  // handles shared it with direct writers that have now all closed. The
  // FUSE adapter sets it while mounted; it runs on the releasing thread.
  virtual void SetCacheInvalidator(std::function<void(Ino)> invalidate) = 0;

  // --- xattrs ---
  virtual Result<std::string> GetXattr(Ino ino, std::string_view name) = 0;
  virtual Status SetXattr(Ino ino, std::string_view name, std::string_view value, int flags) = 0;
  virtual Result<std::vector<std::string>> ListXattr(Ino ino) = 0;
  virtual Status RemoveXattr(Ino ino, std::string_view name) = 0;

  // --- whole store ---
  virtual Result<FsSpace> StatFs() = 0;  // backing fs capacity, store usage
  virtual Result<StoreStats> Stats() = 0;
  virtual Result<FsckReport> Fsck(const ProgressFn& progress) = 0;
  virtual Result<GcReport> Gc(const ProgressFn& progress) = 0;
  // Commits every open file's dirty state and syncs; used at unmount.
  virtual Status SyncAll() = 0;

  virtual const std::string& store_dir() const = 0;
  virtual const StoreConfig& config() const = 0;
};

// The error for a directory without ckptfs.json, with a hint that fits it.
Status NotAStoreError(Env* env, const std::string& dir);

// Path helpers for the CLI (import/export/ls/rm): resolve "/a/b" from root.
Result<InodeAttr> ResolvePath(Filesystem& fs, std::string_view path);

}  // namespace ckptfs
