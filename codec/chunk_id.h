// ChunkId: the 128-bit keyed XXH3 digest that names a chunk.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace ckptfs {

struct ChunkId {
  std::array<uint8_t, 16> bytes{};

  auto operator<=>(const ChunkId&) const = default;
  bool operator==(const ChunkId&) const = default;
  std::string ToHex() const;
  // Parses 32 hex digits; false on bad input.
  static bool FromHex(const std::string& hex, ChunkId* out);
};

struct ChunkIdHash {
  size_t operator()(const ChunkId& id) const noexcept {
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof(h));  // the id is already a uniform hash
    return h;
  }
};

// How a chunk's payload is encoded inside a pack record. Values are part of
// the on-disk format: never renumber.
enum class Codec : uint8_t {
  kRaw = 0,         // stored as is (compression did not shrink it)
  kZstd = 1,        // zstd frame of the raw bytes
  kZstdPlanes2 = 2, // bytes grouped into 2 planes (bf16/fp16), then zstd
  kZstdPlanes4 = 3, // bytes grouped into 4 planes (fp32), then zstd
};

const char* CodecName(Codec c);

}  // namespace ckptfs
