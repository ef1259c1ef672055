// Helpers shared by the codec tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codec/chunker.h"

namespace ckptfs::testing {

// Deterministic pseudo-random bytes (splitmix64), fast enough for 64 MiB.
std::vector<std::byte> RandomBytes(size_t n, uint64_t seed);

struct ChunkSpan {
  size_t offset, length;
};
// Chunks `data` the way a writer does: FindBoundary over the unconsumed
// bytes, the remainder as the last chunk.
std::vector<ChunkSpan> ChunkAll(const Chunker& chunker, std::span<const std::byte> data);

// Reads a file under tests/data/; empty if missing.
std::vector<std::byte> ReadTestData(const std::string& name);

// Keeps the top two bytes of every little-endian fp32: what a bf16 cast by
// truncation stores.
std::vector<std::byte> Fp32ToBf16(std::span<const std::byte> fp32);

}  // namespace ckptfs::testing
