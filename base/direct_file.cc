#include "base/direct_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ckptfs {
namespace {

constexpr uint64_t RoundUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }
constexpr uint64_t RoundDown(uint64_t n, uint64_t a) { return n / a * a; }

}  // namespace

Result<std::unique_ptr<WritableFile>> DirectWritableFile::Create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644));
  if (!fd.valid()) return Status::FromErrno("open " + path + " (O_DIRECT)", errno);
  Buffer a(static_cast<std::byte*>(std::aligned_alloc(kAlign, kBufferSize)));
  Buffer b(static_cast<std::byte*>(std::aligned_alloc(kAlign, kBufferSize)));
  if (!a || !b) return Status::FromErrno("allocate write buffers for " + path, ENOMEM);
  return std::unique_ptr<WritableFile>(
      new DirectWritableFile(path, std::move(fd), std::move(a), std::move(b)));
}

DirectWritableFile::DirectWritableFile(std::string path, UniqueFd fd, Buffer a, Buffer b)
    : path_(std::move(path)), fd_(std::move(fd)), cur_(std::move(a)), spare_(std::move(b)) {}

DirectWritableFile::~DirectWritableFile() { (void)Close(); }

Status DirectWritableFile::AppendV(std::span<const ByteSpan> parts) {
  if (!error_.ok()) return error_;
  if (!fd_.valid()) return Status::InvalidArgument("append to closed file " + path_);
  for (ByteSpan p : parts) {
    while (!p.empty()) {
      const size_t n = std::min(p.size(), kBufferSize - cur_len_);
      std::memcpy(cur_.get() + cur_len_, p.data(), n);
      cur_len_ += n;
      size_ += n;
      p = p.subspan(n);
      if (cur_len_ == kBufferSize) CKPTFS_RETURN_IF_ERROR(SubmitFull());
    }
  }
  return Status::OK();
}

Status DirectWritableFile::WriteAligned(const std::byte* buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd_.get(), buf + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && direct_) {
        // The device wants a larger alignment than kAlign (or a short write
        // left us unaligned): carry on through the page cache.
        int flags = ::fcntl(fd_.get(), F_GETFL);
        if (flags >= 0 && ::fcntl(fd_.get(), F_SETFL, flags & ~O_DIRECT) == 0) {
          direct_ = false;
          continue;
        }
      }
      return Status::FromErrno("write " + path_, errno);
    }
    if (n == 0) return Status::FromErrno("write " + path_, EIO);
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status DirectWritableFile::SubmitFull() {
  CKPTFS_RETURN_IF_ERROR(WaitInFlight());
  std::swap(cur_, spare_);
  const std::byte* full = spare_.get();
  const uint64_t off = cur_off_;
  in_flight_ = std::async(std::launch::async,
                          [this, full, off] { return WriteAligned(full, kBufferSize, off); });
  in_flight_end_ = off + kBufferSize;
  cur_off_ += kBufferSize;
  cur_len_ = 0;
  on_disk_ = std::max(on_disk_, cur_off_);
  return Status::OK();
}

Status DirectWritableFile::WaitInFlight() {
  if (in_flight_.valid()) {
    Status st = in_flight_.get();
    if (!st.ok() && error_.ok()) error_ = st;
    if (st.ok()) visible_ = std::max(visible_, in_flight_end_);
  }
  return error_;
}

Status DirectWritableFile::WriteOut(bool cut) {
  CKPTFS_RETURN_IF_ERROR(WaitInFlight());
  if (visible_ < size_) {
    const size_t padded = RoundUp(cur_len_, kAlign);
    std::memset(cur_.get() + cur_len_, 0, padded - cur_len_);
    if (Status st = WriteAligned(cur_.get(), padded, cur_off_); !st.ok()) return error_ = st;
    on_disk_ = std::max(on_disk_, cur_off_ + padded);
    visible_ = size_;
    // Keep the partial last block: the next write-out rewrites it whole.
    const size_t whole = RoundDown(cur_len_, kAlign);
    if (whole > 0) {
      std::memmove(cur_.get(), cur_.get() + whole, cur_len_ - whole);
      cur_off_ += whole;
      cur_len_ -= whole;
    }
  }
  if (cut && on_disk_ > size_) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0)
      return error_ = Status::FromErrno("truncate " + path_, errno);
    on_disk_ = size_;
  }
  return Status::OK();
}

Status DirectWritableFile::Flush() {
  if (!error_.ok()) return error_;
  if (!fd_.valid()) return Status::InvalidArgument("flush of closed file " + path_);
  return WriteOut(/*cut=*/false);
}

Status DirectWritableFile::Sync() {
  if (!error_.ok()) return error_;
  if (!fd_.valid()) return Status::InvalidArgument("sync of closed file " + path_);
  CKPTFS_RETURN_IF_ERROR(WriteOut(/*cut=*/true));
  if (::fdatasync(fd_.get()) != 0) return error_ = Status::FromErrno("fdatasync " + path_, errno);
  return Status::OK();
}

Status DirectWritableFile::Close() {
  if (!fd_.valid()) return error_;
  // The background writer uses fd_: it must finish before the close.
  if (error_.ok()) {
    (void)WriteOut(/*cut=*/true);
  } else if (in_flight_.valid()) {
    (void)in_flight_.get();
  }
  if (fd_.reset() != 0 && error_.ok()) error_ = Status::FromErrno("close " + path_, errno);
  cur_.reset();  // a closed file keeps no buffers (its owner may live on)
  spare_.reset();
  return error_;
}

}  // namespace ckptfs
