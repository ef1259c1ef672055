#include "base/fault_env.h"

namespace ckptfs {
namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> f)
      : env_(env), f_(std::move(f)) {}
  Status AppendV(std::span<const ByteSpan> parts) override {
    if (!error_.ok()) return error_;
    size_t n = 0;
    for (const auto& p : parts) n += p.size();
    if (!env_->Charge(n))
      return error_ = Status::FromErrno("write " + f_->path() + " (injected)", ENOSPC);
    return f_->AppendV(parts);
  }
  Status Flush() override {
    if (!error_.ok()) return error_;
    env_->RunFlushHook();
    return f_->Flush();
  }
  Status Sync() override {
    if (!error_.ok()) return error_;
    env_->RunFlushHook();
    if (env_->fail_sync()) return error_ = Status::FromErrno("fdatasync " + f_->path() + " (injected)", EIO);
    return f_->Sync();
  }
  Status Close() override { return f_->Close(); }
  uint64_t Size() const override { return f_->Size(); }
  const std::string& path() const override { return f_->path(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> f_;
  Status error_;
};

class FaultRandomRWFile final : public RandomRWFile {
 public:
  FaultRandomRWFile(FaultInjectionEnv* env, std::unique_ptr<RandomRWFile> f)
      : env_(env), f_(std::move(f)) {}
  Status WriteAt(uint64_t off, ByteSpan data) override {
    if (!env_->Charge(data.size()))
      return Status::FromErrno("write " + f_->path() + " (injected)", ENOSPC);
    return f_->WriteAt(off, data);
  }
  Status ReadAt(uint64_t off, MutableByteSpan out, size_t* got) const override {
    return f_->ReadAt(off, out, got);
  }
  Status Truncate(uint64_t size) override { return f_->Truncate(size); }
  Status Sync() override {
    env_->RunFlushHook();
    if (env_->fail_sync()) return Status::FromErrno("fdatasync " + f_->path() + " (injected)", EIO);
    return f_->Sync();
  }
  const std::string& path() const override { return f_->path(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<RandomRWFile> f_;
};

class CountingRandomAccessFile final : public RandomAccessFile {
 public:
  CountingRandomAccessFile(FaultInjectionEnv* env, std::unique_ptr<RandomAccessFile> f)
      : env_(env), f_(std::move(f)) {}
  Status ReadAt(uint64_t offset, MutableByteSpan out, size_t* got) const override {
    env_->CountRead();
    return f_->ReadAt(offset, out, got);
  }
  Result<uint64_t> Size() const override { return f_->Size(); }
  const std::string& path() const override { return f_->path(); }
  size_t alignment() const override { return f_->alignment(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<RandomAccessFile> f_;
};

}  // namespace

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::NewRandomAccessFile(
    const std::string& path) {
  CKPTFS_ASSIGN_OR_RETURN(auto f, target_->NewRandomAccessFile(path));
  return std::unique_ptr<RandomAccessFile>(new CountingRandomAccessFile(this, std::move(f)));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::NewDirectRandomAccessFile(
    const std::string& path) {
  CKPTFS_ASSIGN_OR_RETURN(auto f, target_->NewDirectRandomAccessFile(path));
  return std::unique_ptr<RandomAccessFile>(new CountingRandomAccessFile(this, std::move(f)));
}

bool FaultInjectionEnv::Charge(uint64_t n) {
  uint64_t cur = written_.load();
  do {
    if (cur + n > limit_.load()) return false;
  } while (!written_.compare_exchange_weak(cur, cur + n));
  return true;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path,
                                                                         bool truncate) {
  CKPTFS_ASSIGN_OR_RETURN(auto f, target_->NewWritableFile(path, truncate));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(f)));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewDirectWritableFile(
    const std::string& path) {
  CKPTFS_ASSIGN_OR_RETURN(auto f, target_->NewDirectWritableFile(path));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(f)));
}

Result<std::unique_ptr<RandomRWFile>> FaultInjectionEnv::NewRandomRWFile(const std::string& path) {
  CKPTFS_ASSIGN_OR_RETURN(auto f, target_->NewRandomRWFile(path));
  return std::unique_ptr<RandomRWFile>(new FaultRandomRWFile(this, std::move(f)));
}

}  // namespace ckptfs
