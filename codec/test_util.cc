#include "codec/test_util.h"

#include <cstring>
#include <fstream>
#include <iterator>

namespace ckptfs::testing {

std::vector<std::byte> RandomBytes(size_t n, uint64_t seed) {
  std::vector<std::byte> out(n);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min<size_t>(8, n - i));
  }
  return out;
}

std::vector<ChunkSpan> ChunkAll(const Chunker& chunker, std::span<const std::byte> data) {
  std::vector<ChunkSpan> chunks;
  size_t off = 0;
  while (off < data.size()) {
    size_t len = chunker.FindBoundary(data.subspan(off));
    if (len == 0) len = data.size() - off;
    chunks.push_back({off, len});
    off += len;
  }
  return chunks;
}

std::vector<std::byte> ReadTestData(const std::string& name) {
  std::ifstream f(std::string(CKPTFS_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  if (!f) return {};
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::vector<std::byte> Fp32ToBf16(std::span<const std::byte> fp32) {
  std::vector<std::byte> out;
  out.reserve(fp32.size() / 2);
  for (size_t i = 0; i + 4 <= fp32.size(); i += 4) {
    out.push_back(fp32[i + 2]);
    out.push_back(fp32[i + 3]);
  }
  return out;
}

}  // namespace ckptfs::testing
