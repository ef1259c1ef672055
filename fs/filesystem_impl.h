// FilesystemImpl: the store-backed implementation of Filesystem. Private to
// fs/; callers use Filesystem::Open.
//
// Open files: each open inode has one OpenInode (shared by all its handles)
// holding its FileData. Lock order: open_mu_ before OpenInode::mu; never take
// open_mu_ while holding an OpenInode::mu.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <thread>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "base/thread_pool.h"
#include "fs/chunk_store.h"
#include "fs/file_data.h"
#include "fs/filesystem.h"

namespace ckptfs {

class FilesystemImpl final : public Filesystem {
 public:
  FilesystemImpl(Env* env, std::string dir, StoreConfig config, StoreOptions options,
                 std::unique_ptr<FileLock> lock, std::unique_ptr<MetadataStore> meta,
                 std::unique_ptr<ThreadPool> pool, std::unique_ptr<ChunkStore> chunks);
  ~FilesystemImpl() override;

  Status Recover();  // at open: drop staging leftovers and orphaned inodes
  void StartBackgroundGc();

  Result<InodeAttr> Lookup(Ino parent, std::string_view name) override;
  Result<InodeAttr> GetAttr(Ino ino) override;
  Result<InodeAttr> SetAttr(Ino ino, const InodeAttr& values, uint32_t mask,
                            std::optional<FileHandle> fh) override;
  Result<InodeAttr> Mkdir(Ino parent, std::string_view name, uint32_t mode, uint32_t uid,
                          uint32_t gid) override;
  Result<InodeAttr> Mknod(Ino parent, std::string_view name, uint32_t mode, uint64_t rdev,
                          uint32_t uid, uint32_t gid) override;
  Result<InodeAttr> Symlink(Ino parent, std::string_view name, std::string_view target,
                            uint32_t uid, uint32_t gid) override;
  Result<std::string> ReadLink(Ino ino) override;
  Result<InodeAttr> Link(Ino ino, Ino new_parent, std::string_view new_name) override;
  Status Unlink(Ino parent, std::string_view name) override;
  Status Rmdir(Ino parent, std::string_view name) override;
  Status Rename(Ino old_parent, std::string_view old_name, Ino new_parent,
                std::string_view new_name, unsigned flags) override;
  Result<std::vector<std::pair<DirEntry, InodeAttr>>> ReadDir(Ino dir, std::string_view after_name,
                                                               size_t limit) override;

  Result<std::pair<InodeAttr, FileHandle>> Create(Ino parent, std::string_view name,
                                                  uint32_t mode, int flags, uint32_t uid,
                                                  uint32_t gid) override;
  Result<FileHandle> Open(Ino ino, int flags) override;
  Result<size_t> Read(FileHandle fh, uint64_t offset, std::span<std::byte> out) override;
  Result<size_t> ReadPinned(FileHandle fh, uint64_t offset, size_t len, ReadView* view) override;
  using Filesystem::Write;
  void Write(FileHandle fh, uint64_t offset, ByteSpan data, const WriteReply& reply) override;
  Status Flush(FileHandle fh) override;
  Status Fsync(FileHandle fh, bool datasync) override;
  Status Release(FileHandle fh) override;
  Result<size_t> CopyFileRange(FileHandle in, uint64_t off_in, FileHandle out, uint64_t off_out,
                               size_t len) override;
  CacheMode GetCacheMode(FileHandle fh) override;
  void SetCacheInvalidator(std::function<void(Ino)> invalidate) override;

  Result<std::string> GetXattr(Ino ino, std::string_view name) override;
  Status SetXattr(Ino ino, std::string_view name, std::string_view value, int flags) override;
  Result<std::vector<std::string>> ListXattr(Ino ino) override;
  Status RemoveXattr(Ino ino, std::string_view name) override;

  Result<FsSpace> StatFs() override;
  Result<StoreStats> Stats() override;
  Result<FsckReport> Fsck(const ProgressFn& progress) override;
  Result<GcReport> Gc(const ProgressFn& progress) override;
  Status SyncAll() override;

  const std::string& store_dir() const override { return dir_; }
  const StoreConfig& config() const override { return config_; }

 private:
  struct OpenInode {
    Ino ino = 0;
    std::shared_mutex mu;          // guards data's contents
    std::unique_ptr<FileData> data;
    int opens = 0;                 // guarded by open_mu_
    bool unlinked = false;         // guarded by open_mu_: delete at last release
    bool keep_cache = false;       // set at first open
    // Kernel cache modes (Acquire explains them); all guarded by open_mu_.
    int direct_handles = 0;        // open write-only (direct_io) handles
    bool had_direct = false;       // some handle was direct: never keep_cache after
    bool mixed = false;            // cached and direct handles were open together
    bool retired = false;          // released, committed and out of open_
    int64_t last_write_ns = 0;     // guarded by mu
  };
  struct Handle {
    std::shared_ptr<OpenInode> node;
    int flags = 0;
    bool direct_io = false;  // bypasses the kernel page cache (Acquire)
    // Where a sequential reader reads next: a readahead hint that concurrent
    // reads of one handle (the kernel's async reads) update without a lock.
    std::atomic<uint64_t> next_offset{0};
    // End of the range readahead has already claimed: each read claims only
    // the chunks that entered the window since. A hint like next_offset.
    mutable std::atomic<uint64_t> readahead_end{0};
  };

  // Opens `ino` (the node already open, or a new one); *direct: whether
  // this handle bypasses the kernel page cache. `flags` are the open's, or
  // kInternalOpen for a hold of our own (a truncate by path), which leaves
  // the inode's cache modes alone.
  static constexpr int kInternalOpen = -1;
  Result<std::shared_ptr<OpenInode>> Acquire(Ino ino, int flags, bool* direct);
  std::shared_ptr<OpenInode> FindOpen(Ino ino);  // nullptr when not open
  Status ReleaseNode(const std::shared_ptr<OpenInode>& node, bool direct);
  Result<Handle*> GetHandle(FileHandle fh);
  Status Commit(OpenInode& node);  // REQUIRES node.mu held exclusively
  Status MaybeDelete(Ino ino);     // after a name was removed
  Status RemoveName(Ino parent, std::string_view name);  // unlink/rmdir after their checks
  void Overlay(InodeAttr* attr);   // an open file's current attributes, via GetAttr
  Status CheckWritable() const;
  Status ReportCorruption(Ino ino, const Status& st);
  void ReadAhead(const Handle& h, const OpenInode& node, uint64_t offset, size_t n);
  // Deletes need a little space (a metadata transaction) even when the disk
  // is full: on ENOSPC they free the reserve file and retry once.
  Status WithReserve(const std::function<Status()>& op);
  void EnsureReserve();
  void NoteGarbage(uint64_t bytes);  // wakes the background gc past its threshold
  void GcLoop();

  Env* env_;
  std::string dir_;
  StoreConfig config_;
  StoreOptions options_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<MetadataStore> meta_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ChunkStore> chunks_;

  std::mutex open_mu_;
  std::unordered_map<Ino, std::shared_ptr<OpenInode>> open_;  // guarded by open_mu_
  std::unordered_map<Ino, std::pair<int64_t, uint64_t>> seen_;  // mtime,size at last close
  std::function<void(Ino)> invalidate_cache_;                   // guarded by open_mu_

  std::mutex handles_mu_;
  std::unordered_map<FileHandle, std::unique_ptr<Handle>> handles_;  // guarded by handles_mu_
  FileHandle next_fh_ = 1;
  std::atomic<uint64_t> staging_seq_{0};

  std::mutex reserve_mu_;
  bool reserve_present_ = false;  // guarded by reserve_mu_

  std::mutex gc_mu_;
  std::condition_variable gc_cv_;
  uint64_t garbage_bytes_ = 0;  // guarded by gc_mu_: stored bytes deleted since the last gc
  bool gc_wanted_ = false;      // guarded by gc_mu_
  bool stopping_ = false;       // guarded by gc_mu_
  std::thread gc_thread_;
};

}  // namespace ckptfs
