#include "codec/byte_planes.h"

#include <atomic>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ckptfs::planes {
namespace {

// Portable loops; W is a template parameter so the stride is a constant.
template <size_t W>
void SplitScalar(const std::byte* src, size_t m, std::byte* dst, size_t i0) {
  for (size_t k = 0; k < W; ++k) {
    std::byte* plane = dst + (W - 1 - k) * m;
    for (size_t i = i0; i < m; ++i) plane[i] = src[i * W + k];
  }
}

template <size_t W>
void MergeScalar(const std::byte* src, size_t m, std::byte* dst, size_t i0) {
  for (size_t k = 0; k < W; ++k) {
    const std::byte* plane = src + (W - 1 - k) * m;
    for (size_t i = i0; i < m; ++i) dst[i * W + k] = plane[i];
  }
}

#if defined(__x86_64__)
// The transform sits on every write and read of float data, so it is worth a
// shuffle-based kernel: the scalar loops above ran at ~1 GB/s and were the
// largest single cost of the write path in a profile. 16 words per step.
__attribute__((target("ssse3"))) size_t Split4Ssse3(const std::byte* src, size_t m,
                                                     std::byte* dst) {
  size_t i = 0;
  // Within each 16-byte lane: bytes k of the 4 words become dword k.
  const __m128i gather = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  std::byte* p3 = dst;          // byte 3 (sign/exponent) plane first
  std::byte* p2 = dst + m;
  std::byte* p1 = dst + 2 * m;
  std::byte* p0 = dst + 3 * m;
  for (; i + 16 <= m; i += 16) {
    const __m128i* s = reinterpret_cast<const __m128i*>(src + i * 4);
    __m128i a = _mm_shuffle_epi8(_mm_loadu_si128(s + 0), gather);
    __m128i b = _mm_shuffle_epi8(_mm_loadu_si128(s + 1), gather);
    __m128i c = _mm_shuffle_epi8(_mm_loadu_si128(s + 2), gather);
    __m128i d = _mm_shuffle_epi8(_mm_loadu_si128(s + 3), gather);
    // 4x4 transpose of dwords: row r = lane r, column k = byte-k group.
    __m128i ab_lo = _mm_unpacklo_epi32(a, b), ab_hi = _mm_unpackhi_epi32(a, b);
    __m128i cd_lo = _mm_unpacklo_epi32(c, d), cd_hi = _mm_unpackhi_epi32(c, d);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p0 + i), _mm_unpacklo_epi64(ab_lo, cd_lo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p1 + i), _mm_unpackhi_epi64(ab_lo, cd_lo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p2 + i), _mm_unpacklo_epi64(ab_hi, cd_hi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p3 + i), _mm_unpackhi_epi64(ab_hi, cd_hi));
  }
  return i;
}

__attribute__((target("ssse3"))) size_t Merge4Ssse3(const std::byte* src, size_t m,
                                                     std::byte* dst) {
  size_t i = 0;
  // Inverse of gather: dword k of a lane holds byte k of its 4 words.
  const __m128i scatter = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const std::byte* p3 = src;
  const std::byte* p2 = src + m;
  const std::byte* p1 = src + 2 * m;
  const std::byte* p0 = src + 3 * m;
  for (; i + 16 <= m; i += 16) {
    __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + i));
    __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + i));
    __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p2 + i));
    __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p3 + i));
    __m128i t01_lo = _mm_unpacklo_epi32(r0, r1), t01_hi = _mm_unpackhi_epi32(r0, r1);
    __m128i t23_lo = _mm_unpacklo_epi32(r2, r3), t23_hi = _mm_unpackhi_epi32(r2, r3);
    __m128i a = _mm_unpacklo_epi64(t01_lo, t23_lo), b = _mm_unpackhi_epi64(t01_lo, t23_lo);
    __m128i c = _mm_unpacklo_epi64(t01_hi, t23_hi), d = _mm_unpackhi_epi64(t01_hi, t23_hi);
    __m128i* o = reinterpret_cast<__m128i*>(dst + i * 4);
    _mm_storeu_si128(o + 0, _mm_shuffle_epi8(a, scatter));
    _mm_storeu_si128(o + 1, _mm_shuffle_epi8(b, scatter));
    _mm_storeu_si128(o + 2, _mm_shuffle_epi8(c, scatter));
    _mm_storeu_si128(o + 3, _mm_shuffle_epi8(d, scatter));
  }
  return i;
}

__attribute__((target("ssse3"))) size_t Split2Ssse3(const std::byte* src, size_t m,
                                                     std::byte* dst) {
  size_t i = 0;
  const __m128i gather = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  std::byte* p1 = dst;  // high byte plane first
  std::byte* p0 = dst + m;
  for (; i + 16 <= m; i += 16) {
    const __m128i* s = reinterpret_cast<const __m128i*>(src + i * 2);
    __m128i a = _mm_shuffle_epi8(_mm_loadu_si128(s + 0), gather);
    __m128i b = _mm_shuffle_epi8(_mm_loadu_si128(s + 1), gather);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p0 + i), _mm_unpacklo_epi64(a, b));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p1 + i), _mm_unpackhi_epi64(a, b));
  }
  return i;
}

__attribute__((target("ssse3"))) size_t Merge2Ssse3(const std::byte* src, size_t m,
                                                     std::byte* dst) {
  size_t i = 0;
  const std::byte* p1 = src;
  const std::byte* p0 = src + m;
  for (; i + 16 <= m; i += 16) {
    __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + i));
    __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + i));
    __m128i* o = reinterpret_cast<__m128i*>(dst + i * 2);
    _mm_storeu_si128(o + 0, _mm_unpacklo_epi8(lo, hi));
    _mm_storeu_si128(o + 1, _mm_unpackhi_epi8(lo, hi));
  }
  return i;
}

Isa DetectIsa() { return __builtin_cpu_supports("ssse3") ? Isa::kSsse3 : Isa::kScalar; }
#else
Isa DetectIsa() { return Isa::kScalar; }
#endif

std::atomic<Isa> g_isa{DetectIsa()};

}  // namespace

Isa SetIsaForTesting(Isa isa) {
  const Isa best = DetectIsa();
  g_isa.store(static_cast<int>(isa) < static_cast<int>(best) ? isa : best);
  return g_isa.load();
}

void Split(std::span<const std::byte> src, size_t width, std::span<std::byte> dst) {
  const size_t n = src.size(), m = n / width;
  size_t done = 0;
#if defined(__x86_64__)
  if (g_isa.load(std::memory_order_relaxed) == Isa::kSsse3)
    done = width == 2 ? Split2Ssse3(src.data(), m, dst.data())
                      : Split4Ssse3(src.data(), m, dst.data());
#endif
  if (width == 2) SplitScalar<2>(src.data(), m, dst.data(), done);
  else SplitScalar<4>(src.data(), m, dst.data(), done);
  std::memcpy(dst.data() + m * width, src.data() + m * width, n - m * width);
}

void Merge(std::span<const std::byte> src, size_t width, std::span<std::byte> dst) {
  const size_t n = src.size(), m = n / width;
  size_t done = 0;
#if defined(__x86_64__)
  if (g_isa.load(std::memory_order_relaxed) == Isa::kSsse3)
    done = width == 2 ? Merge2Ssse3(src.data(), m, dst.data())
                      : Merge4Ssse3(src.data(), m, dst.data());
#endif
  if (width == 2) MergeScalar<2>(src.data(), m, dst.data(), done);
  else MergeScalar<4>(src.data(), m, dst.data(), done);
  std::memcpy(dst.data() + m * width, src.data() + m * width, n - m * width);
}

}  // namespace ckptfs::planes
