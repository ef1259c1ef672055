// PrefetchReader: reads a file front to back on its own thread, a few
// pieces ahead of the consumer.
//
// `ckptfs import` chunks on the calling thread; with read() on that thread
// too, the kernel's page-cache copy and the chunker take turns and one core
// idles. Reading ahead on a second thread overlaps them. Memory is
// depth x piece bytes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace ckptfs::cli {

class PrefetchReader {
 public:
  // Does not own `fd`; it must stay open until the reader is destroyed.
  PrefetchReader(int fd, std::string path, size_t piece = 4u << 20, size_t depth = 3);
  ~PrefetchReader();  // stops and joins the reader thread
  PrefetchReader(const PrefetchReader&) = delete;
  PrefetchReader& operator=(const PrefetchReader&) = delete;

  // The next piece of the file, valid until the next call; empty at end of
  // file. A read error is returned once, in order (after the pieces before it).
  Result<ByteSpan> Next();

 private:
  struct Piece {
    std::vector<std::byte> bytes;
    size_t len = 0;
    Status status;
    bool eof = false;
  };
  void Loop();

  const int fd_;
  const std::string path_;
  std::vector<Piece> ring_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t produced_ = 0;  // GUARDED_BY(mu_): pieces filled so far
  size_t consumed_ = 0;  // GUARDED_BY(mu_): pieces handed back (the one at consumed_-1 may be in use)
  bool stop_ = false;    // GUARDED_BY(mu_)
  bool finished_ = false;  // consumer side: the end or an error was returned
  uint64_t offset_ = 0;    // reader thread only: file offset of the next piece
  std::thread thread_;
};

}  // namespace ckptfs::cli
