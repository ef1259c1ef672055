// ChunkHasher: keyed XXH3-128 chunk ids.
//
// The key is a per-store secret generated at init and kept in ckptfs.json, so
// nobody who does not know the store can craft colliding chunks.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "codec/chunk_id.h"

namespace ckptfs {

class ChunkHasher {
 public:
  // Secret length must be at least XXH3_SECRET_SIZE_MIN (136) bytes.
  static Result<ChunkHasher> Create(std::vector<uint8_t> secret);
  // A fresh random secret (from getrandom()), kSecretSize bytes.
  static std::vector<uint8_t> GenerateSecret();
  static constexpr size_t kSecretSize = 192;

  ChunkId Hash(std::span<const std::byte> data) const;  // thread-safe

 private:
  explicit ChunkHasher(std::vector<uint8_t> secret) : secret_(std::move(secret)) {}
  std::vector<uint8_t> secret_;
};

}  // namespace ckptfs
