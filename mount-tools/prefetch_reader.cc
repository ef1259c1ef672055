#include "mount-tools/prefetch_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ckptfs::cli {

PrefetchReader::PrefetchReader(int fd, std::string path, size_t piece, size_t depth)
    : fd_(fd), path_(std::move(path)), ring_(depth < 2 ? 2 : depth) {
  for (auto& p : ring_) p.bytes.resize(piece);
  // A larger kernel readahead window for a front-to-back reader.
  (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  thread_ = std::thread([this] { Loop(); });
}

PrefetchReader::~PrefetchReader() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PrefetchReader::Loop() {
  for (;;) {
    Piece* p;
    {
      std::unique_lock<std::mutex> l(mu_);
      // Slot produced_ % depth is free once the consumer moved past the
      // piece that used it before; the piece it holds now (consumed_ - 1)
      // stays untouched.
      cv_.wait(l, [&] { return stop_ || produced_ + 1 < consumed_ + ring_.size(); });
      if (stop_) return;
      p = &ring_[produced_ % ring_.size()];
    }
    p->len = 0;
    p->status = Status::OK();
    p->eof = false;
    // Ask the kernel for the pieces after this one now, so the disk reads
    // them while this one is copied out and hashed (the default readahead
    // window is far smaller than a piece, so each read() waited for it).
    (void)::posix_fadvise(fd_, static_cast<off_t>(offset_ + p->bytes.size()),
                          static_cast<off_t>(2 * p->bytes.size()), POSIX_FADV_WILLNEED);
    while (p->len < p->bytes.size()) {
      ssize_t n = ::read(fd_, p->bytes.data() + p->len, p->bytes.size() - p->len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        p->status = Status::FromErrno("read " + path_, errno);
        break;
      }
      if (n == 0) {
        p->eof = true;
        break;
      }
      p->len += static_cast<size_t>(n);
    }
    offset_ += p->len;
    const bool last = p->eof || !p->status.ok();
    {
      std::lock_guard<std::mutex> l(mu_);
      produced_++;
    }
    cv_.notify_all();
    if (last) return;
  }
}

Result<ByteSpan> PrefetchReader::Next() {
  if (finished_) return ByteSpan();  // the reader thread has stopped
  Piece* p;
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return produced_ > consumed_; });
    p = &ring_[consumed_ % ring_.size()];
    consumed_++;
  }
  cv_.notify_all();
  finished_ = p->eof || !p->status.ok();
  if (!p->status.ok()) return p->status;
  return ByteSpan(p->bytes.data(), p->len);
}

}  // namespace ckptfs::cli
