// ChunkCache: LRU of decompressed, verified chunks, bounded in bytes.
//
// Values are shared and immutable, so a reader keeps its chunk alive while
// copying out even if the cache evicts it meanwhile. Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "codec/byte_buffer.h"
#include "codec/chunk_id.h"

namespace ckptfs {

// ByteBuffer: a chunk is decompressed into it, so it is not zeroed first.
using ChunkBytes = std::shared_ptr<const ByteBuffer>;

class ChunkCache {
 public:
  explicit ChunkCache(uint64_t budget_bytes) : budget_(budget_bytes) {}

  ChunkBytes Get(const ChunkId& id);
  void Put(const ChunkId& id, ChunkBytes bytes);
  void Erase(const ChunkId& id);
  uint64_t used_bytes() const;

 private:
  using Lru = std::list<std::pair<ChunkId, ChunkBytes>>;
  mutable std::mutex mu_;
  uint64_t budget_;
  uint64_t used_ = 0;                                          // guarded by mu_
  Lru lru_;                                                    // front = most recent
  std::unordered_map<ChunkId, Lru::iterator, ChunkIdHash> map_;  // guarded by mu_
};

}  // namespace ckptfs
