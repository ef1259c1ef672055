// DirectWritableFile: an append-only file written around the page cache
// (O_DIRECT) through aligned user-space buffers.
//
// Why: pack files are written once, read back rarely (the chunk cache and
// the kernel's cache of the *mounted* files serve most reads), and can be
// gigabytes per checkpoint. Written through the page cache, every byte costs
// a copy into freshly allocated page-cache pages, and the dirty pages pile
// up until the commit's fdatasync, which then writes them all while the
// writer waits. With O_DIRECT the disk reads straight from two recycled
// buffers: one fills while the other is written on a background thread, so
// the disk runs while the next bytes are compressed.
//
// Contract (beyond WritableFile's):
//   1. Appended bytes may sit in the buffer until Flush(), Sync() or Close();
//      only then can another descriptor read them.
//   2. Flush() writes the partial last block padded with zeros and keeps it
//      buffered, so the next flush rewrites that block with the same leading
//      bytes; a reader of already-visible bytes never sees them change.
//   3. Sync() and Close() also cut the file back to exactly Size() bytes, so
//      a synced file never ends in padding (a sealed pack's footer is its
//      last bytes). A crash between a Flush() and the next Sync() can leave
//      zero padding after the last record: a torn tail, as after any crash.
//   4. The first error (of a write, including a background one) is sticky.
// Not thread-safe: one owner, as for every WritableFile.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/unique_fd.h"

namespace ckptfs {

class DirectWritableFile final : public WritableFile {
 public:
  // Alignment of file offsets, lengths and buffers for O_DIRECT. 4 KiB
  // satisfies every common block device; a device that needs more fails the
  // first write with EINVAL, and the file falls back to buffered writes.
  static constexpr size_t kAlign = 4096;
  static constexpr size_t kBufferSize = 4u << 20;  // per buffer; two per file

  // Creates (truncating) `path` for direct writes. Fails with EINVAL where
  // the filesystem has no O_DIRECT; the caller then uses a buffered file.
  static Result<std::unique_ptr<WritableFile>> Create(const std::string& path);
  ~DirectWritableFile() override;

  Status AppendV(std::span<const ByteSpan> parts) override;
  Status Flush() override;
  Status Sync() override;
  Status Close() override;
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  struct AlignedFree {
    void operator()(std::byte* p) const { std::free(p); }
  };
  using Buffer = std::unique_ptr<std::byte, AlignedFree>;

  DirectWritableFile(std::string path, UniqueFd fd, Buffer a, Buffer b);
  // Writes `len` (aligned) bytes of `buf` at `off` (aligned), retrying short
  // writes; falls back to buffered I/O once if the device rejects the alignment.
  Status WriteAligned(const std::byte* buf, size_t len, uint64_t off);
  // Hands the full current buffer to the background writer.
  Status SubmitFull();
  Status WaitInFlight();
  // Writes everything buffered (padding the last block) and, when `cut`,
  // truncates the file to Size().
  Status WriteOut(bool cut);

  std::string path_;
  UniqueFd fd_;
  Buffer cur_, spare_;             // cur_ fills; spare_ is in flight or idle
  size_t cur_len_ = 0;             // bytes in cur_, starting at file offset cur_off_
  uint64_t cur_off_ = 0;           // aligned
  uint64_t size_ = 0;              // logical size: bytes appended
  uint64_t visible_ = 0;           // bytes other descriptors can read
  uint64_t on_disk_ = 0;           // file length after the last write (may include padding)
  bool direct_ = true;             // false after falling back to buffered writes
  std::future<Status> in_flight_;  // writes spare_
  uint64_t in_flight_end_ = 0;     // visible once in_flight_ succeeds
  Status error_;
};

}  // namespace ckptfs
