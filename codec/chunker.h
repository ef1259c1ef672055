// FastCDC content-defined chunker (gear hash, normalized chunking).
//
// Stateless over a buffer that starts at a chunk boundary: the caller keeps
// the bytes of the chunk in progress and asks where it ends. Boundaries depend
// only on content (and the params), so an insertion changes only the chunks
// around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ckptfs {

struct ChunkerParams {
  uint32_t min_size = 64 * 1024;
  uint32_t avg_size = 256 * 1024;  // a power of two
  uint32_t max_size = 1024 * 1024;
  // Validates min < avg < max, avg a power of two, max <= 16 MiB.
  bool Valid() const;
};

class Chunker {
 public:
  explicit Chunker(const ChunkerParams& params);

  // `data` starts at a chunk boundary. Returns the length of the first chunk
  // in `data`, in [min_size, max_size], if its end lies within `data`.
  // Returns 0 when more bytes are needed (no cut found and data.size() <
  // max_size). At end of input the caller takes the remaining bytes as the
  // last chunk (it may be shorter than min_size).
  size_t FindBoundary(std::span<const std::byte> data) const;

  const ChunkerParams& params() const { return params_; }

 private:
  ChunkerParams params_;
  uint64_t mask_small_, mask_large_;  // normalized chunking masks
};

}  // namespace ckptfs
