#include "codec/chunker.h"

#include <array>
#include <bit>

namespace ckptfs {
namespace {

// The gear table: 256 fixed pseudo-random words (splitmix64 from a fixed
// seed). It is part of the store format in effect: changing it moves every
// boundary, which is still correct but defeats dedup against older data.
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> t{};
  uint64_t x = 0x636b7074'66736765ull;  // "ckptfsge"
  for (auto& v : t) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    v = z ^ (z >> 31);
  }
  return t;
}
constexpr auto kGear = MakeGear();

// A mask of the `bits` highest bits. The gear hash shifts left once per byte,
// so its top bits mix the last 64 bytes: the widest window the hash has.
constexpr uint64_t TopBits(int bits) {
  return bits <= 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

}  // namespace

bool ChunkerParams::Valid() const {
  return min_size >= 64 && min_size < avg_size && avg_size < max_size &&
         std::has_single_bit(avg_size) && max_size <= (16u << 20);
}

// Normalized chunking (FastCDC, level 2): before avg the mask has two bits
// more than log2(avg), after it two fewer, which pulls chunk sizes towards
// avg and keeps the boundary as content-defined as a single mask.
Chunker::Chunker(const ChunkerParams& params) : params_(params) {
  int bits = std::countr_zero(params.avg_size);
  mask_small_ = TopBits(bits + 2);
  mask_large_ = TopBits(bits - 2);
}

size_t Chunker::FindBoundary(std::span<const std::byte> data) const {
  const size_t n = data.size();
  if (n <= params_.min_size) return 0;  // min < max, so more bytes can follow
  const size_t end = n < params_.max_size ? n : params_.max_size;
  const size_t normal = end < params_.avg_size ? end : params_.avg_size;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());

  // Bytes before min_size are skipped (FastCDC's cut-point skipping); the
  // hash warms up over the first 64 bytes after it, so a boundary depends
  // only on the bytes since the chunk start.
  uint64_t h = 0;
  size_t i = params_.min_size;
  for (; i < normal; ++i) {
    h = (h << 1) + kGear[p[i]];
    if (!(h & mask_small_)) return i + 1;
  }
  for (; i < end; ++i) {
    h = (h << 1) + kGear[p[i]];
    if (!(h & mask_large_)) return i + 1;
  }
  return end == params_.max_size ? end : 0;
}

}  // namespace ckptfs
