// FaultInjectionEnv: wraps an Env and injects the failures a storage system
// must survive, without root or a real full disk.
//
//  - SetSpaceLimit(n): once n bytes in total have been written through this
//    Env, further writes fail with ENOSPC (a write that crosses the limit
//    writes nothing).
//  - SetFailSync(true): every Sync() fails with EIO.
//  - SetFlushHook(f): f() runs at the start of every Flush() and Sync() of a
//    file, so a test can hold a commit at the point where it makes its data
//    durable while it races something against it.
//  - reads(): how many ReadAt calls its random-access files served, so a
//    test can check that reads are batched.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>

#include "base/env.h"

namespace ckptfs {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* target) : target_(target) {}

  void SetSpaceLimit(uint64_t bytes) { limit_ = bytes; }
  void ClearSpaceLimit() { limit_ = std::numeric_limits<uint64_t>::max(); }
  void SetFailSync(bool fail) { fail_sync_ = fail; }
  void SetFlushHook(std::function<void()> hook) {
    std::lock_guard<std::mutex> l(hook_mu_);
    flush_hook_ = std::move(hook);
  }
  void RunFlushHook() {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> l(hook_mu_);
      hook = flush_hook_;
    }
    if (hook) hook();
  }
  uint64_t bytes_written() const { return written_; }
  uint64_t reads() const { return reads_; }
  void CountRead() { ++reads_; }

  // Charges `n` bytes against the limit; false (and no charge) if it would exceed it.
  bool Charge(uint64_t n);
  bool fail_sync() const { return fail_sync_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override;
  Result<std::unique_ptr<WritableFile>> NewDirectWritableFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewDirectRandomAccessFile(
      const std::string& path) override;
  Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) override;
  Status CreateDir(const std::string& p) override { return target_->CreateDir(p); }
  Status RemoveFile(const std::string& p) override { return target_->RemoveFile(p); }
  Status RemoveDir(const std::string& p) override { return target_->RemoveDir(p); }
  Status Rename(const std::string& a, const std::string& b) override {
    return target_->Rename(a, b);
  }
  Status SyncDir(const std::string& p) override {
    if (fail_sync_) return Status::FromErrno("fsync " + p + " (injected)", EIO);
    return target_->SyncDir(p);
  }
  bool FileExists(const std::string& p) override { return target_->FileExists(p); }
  Result<uint64_t> GetFileSize(const std::string& p) override { return target_->GetFileSize(p); }
  Result<uint64_t> GetFileAllocatedSize(const std::string& p) override {
    return target_->GetFileAllocatedSize(p);
  }
  Result<std::vector<std::string>> GetChildren(const std::string& d) override {
    return target_->GetChildren(d);
  }
  Result<FsSpace> GetSpace(const std::string& p) override { return target_->GetSpace(p); }
  Status TruncateFile(const std::string& p, uint64_t size) override {
    return target_->TruncateFile(p, size);
  }
  Status Preallocate(const std::string& p, uint64_t bytes) override {
    if (!Charge(bytes)) return Status::FromErrno("fallocate " + p + " (injected)", ENOSPC);
    return target_->Preallocate(p, bytes);
  }
  Status PunchHole(const std::string& p, uint64_t offset, uint64_t len) override {
    return target_->PunchHole(p, offset, len);
  }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return target_->LockFile(p);
  }

 private:
  Env* target_;
  std::atomic<uint64_t> limit_{std::numeric_limits<uint64_t>::max()};
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> fail_sync_{false};
  std::atomic<uint64_t> reads_{0};
  std::mutex hook_mu_;
  std::function<void()> flush_hook_;
};

}  // namespace ckptfs
