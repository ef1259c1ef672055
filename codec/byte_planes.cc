#include "codec/byte_planes.h"

#include <cstring>

namespace ckptfs::planes {
namespace {

// W is a template parameter so the inner loops have a constant stride the
// compiler can unroll; they run at several GB/s, far from the bottleneck.
template <size_t W>
void SplitW(const std::byte* src, size_t n, std::byte* dst) {
  const size_t m = n / W;
  for (size_t k = 0; k < W; ++k) {
    std::byte* plane = dst + (W - 1 - k) * m;
    const std::byte* s = src + k;
    for (size_t i = 0; i < m; ++i) plane[i] = s[i * W];
  }
  std::memcpy(dst + m * W, src + m * W, n - m * W);
}

template <size_t W>
void MergeW(const std::byte* src, size_t n, std::byte* dst) {
  const size_t m = n / W;
  for (size_t k = 0; k < W; ++k) {
    const std::byte* plane = src + (W - 1 - k) * m;
    std::byte* d = dst + k;
    for (size_t i = 0; i < m; ++i) d[i * W] = plane[i];
  }
  std::memcpy(dst + m * W, src + m * W, n - m * W);
}

}  // namespace

void Split(std::span<const std::byte> src, size_t width, std::span<std::byte> dst) {
  if (width == 2) SplitW<2>(src.data(), src.size(), dst.data());
  else SplitW<4>(src.data(), src.size(), dst.data());
}

void Merge(std::span<const std::byte> src, size_t width, std::span<std::byte> dst) {
  if (width == 2) MergeW<2>(src.data(), src.size(), dst.data());
  else MergeW<4>(src.data(), src.size(), dst.data());
}

}  // namespace ckptfs::planes
