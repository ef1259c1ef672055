// ReadView: the bytes of one read as pieces that point into cached chunks,
// so the FUSE adapter can hand them to the kernel (fuse_reply_iov) without
// first copying them into a reply buffer.
//
// Invariant: every piece's bytes stay valid while the view holds `pins`
// (the chunks it points into) and `scratch` (bytes that had to be copied:
// uncommitted writes). A piece with data == nullptr is a run of zeros (a
// hole). Reusing one view per thread keeps its vectors' capacity.
#pragma once

#include <cstddef>
#include <vector>

#include "fs/chunk_cache.h"

namespace ckptfs {

struct ReadView {
  struct Piece {
    const std::byte* data;  // nullptr: `len` zero bytes
    size_t len;
  };
  std::vector<Piece> pieces;
  std::vector<ChunkBytes> pins;
  std::vector<std::byte> scratch;
  size_t size = 0;  // sum of the pieces' lengths

  void Clear() {
    pieces.clear();
    pins.clear();
    size = 0;
  }
  void Add(const std::byte* data, size_t len) {
    if (len == 0) return;
    pieces.push_back({data, len});
    size += len;
  }
};

}  // namespace ckptfs
