// CRC32C: the hardware path (three interleaved streams on long inputs)
// against the table version, at every length around the stream boundaries.
#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace ckptfs {
namespace {

std::vector<uint8_t> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(crc32c::Value("123456789", 9), 0xE3069283u);  // RFC 3720 check value
  EXPECT_EQ(crc32c::ExtendPortable(0, "123456789", 9), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c::Value(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c::Value(nullptr, 0), 0u);
}

TEST(Crc32cTest, MatchesTableVersionAtEveryLengthAndOffset) {
  const auto data = Random(200000, 1);
  std::mt19937_64 rng(2);
  // Lengths around multiples of the 3 x 4096-byte group, and random ones.
  std::vector<size_t> lengths;
  for (size_t g : {0, 1, 2, 3, 5, 16}) {
    for (int d = -9; d <= 9; ++d) {
      const long n = static_cast<long>(g * 3 * 4096) + d;
      if (n >= 0) lengths.push_back(static_cast<size_t>(n));
    }
  }
  for (int i = 0; i < 200; ++i) lengths.push_back(rng() % 150000);
  for (size_t n : lengths) {
    const size_t off = rng() % 13;  // unaligned starts
    const uint32_t seed = static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c::Extend(seed, data.data() + off, n),
              crc32c::ExtendPortable(seed, data.data() + off, n))
        << "length " << n << " offset " << off;
  }
}

TEST(Crc32cTest, ExtendingInPiecesEqualsOneCall) {
  const auto data = Random(100000, 3);
  const uint32_t whole = crc32c::Value(data.data(), data.size());
  for (size_t cut : {size_t{1}, size_t{4095}, size_t{12288}, size_t{50001}}) {
    uint32_t c = crc32c::Value(data.data(), cut);
    c = crc32c::Extend(c, data.data() + cut, data.size() - cut);
    EXPECT_EQ(c, whole) << "cut at " << cut;
  }
  auto flipped = data;
  flipped[77777] ^= 1;
  EXPECT_NE(crc32c::Value(flipped.data(), flipped.size()), whole);
}

}  // namespace
}  // namespace ckptfs
