// Byte grouping ("planes") for arrays of little-endian words, the transform
// behind Codec::kZstdPlanes2 and kZstdPlanes4.
//
// Layout of the grouped buffer for width W and n input bytes, m = n / W:
//   plane W-1 (m bytes) | plane W-2 | ... | plane 0 | tail (n % W bytes)
// where plane k holds byte k of every word. The most significant byte comes
// first: for fp32/bf16/fp16 it carries the sign and exponent, the one plane
// that compresses well. The tail keeps bytes that do not fill a word as is.
// The grouped buffer has exactly the size of the input.
#pragma once

#include <cstddef>
#include <span>

namespace ckptfs::planes {

// REQUIRES: width is 2 or 4; dst.size() == src.size(); no overlap.
void Split(std::span<const std::byte> src, size_t width, std::span<std::byte> dst);
// The inverse of Split. Same requirements.
void Merge(std::span<const std::byte> src, size_t width, std::span<std::byte> dst);

// Split and Merge use the SSSE3 kernels where the CPU has them, else
// portable loops; both give the same bytes. Tests run each by capping the
// kernel used (kScalar forces the loops). Returns the kernel now in use:
// the cap, or the best the CPU has if that is less.
enum class Isa { kScalar = 0, kSsse3 = 1 };
Isa SetIsaForTesting(Isa isa);

}  // namespace ckptfs::planes
