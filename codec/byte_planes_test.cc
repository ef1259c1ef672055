#include "codec/byte_planes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/test_util.h"

namespace ckptfs {
namespace {

// The layout written as plainly as possible (byte_planes.h): plane k holds
// byte k of every word, the most significant plane first, then the tail.
std::vector<std::byte> ReferenceSplit(const std::vector<std::byte>& src, size_t w) {
  const size_t m = src.size() / w;
  std::vector<std::byte> out;
  for (size_t k = w; k-- > 0;)
    for (size_t i = 0; i < m; ++i) out.push_back(src[i * w + k]);
  for (size_t i = m * w; i < src.size(); ++i) out.push_back(src[i]);
  return out;
}

class PlanesTest : public ::testing::TestWithParam<planes::Isa> {
 protected:
  void SetUp() override {
    if (planes::SetIsaForTesting(GetParam()) != GetParam())
      GTEST_SKIP() << "this CPU lacks the kernel";  // the others still run
  }
  void TearDown() override { planes::SetIsaForTesting(planes::Isa::kSsse3); }
};

// Every length up to several SIMD steps of 4-byte words (so the kernel hands
// its remainder to the portable loop at every offset), then chunk-sized
// lengths with tails.
TEST_P(PlanesTest, SplitMatchesTheDefinitionAndMergeInvertsIt) {
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 300; ++n) sizes.push_back(n);
  for (size_t n : {4093u, 65536u, 65537u, 262147u}) sizes.push_back(n);
  for (size_t w : {2u, 4u}) {
    for (size_t n : sizes) {
      const auto src = testing::RandomBytes(n, n * 7 + w);
      std::vector<std::byte> grouped(n), back(n);
      planes::Split(src, w, grouped);
      ASSERT_EQ(grouped, ReferenceSplit(src, w)) << "width " << w << ", " << n << " bytes";
      planes::Merge(grouped, w, back);
      ASSERT_EQ(back, src) << "width " << w << ", " << n << " bytes";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, PlanesTest,
                         ::testing::Values(planes::Isa::kScalar, planes::Isa::kSsse3),
                         [](const auto& info) {
                           return std::string(info.param == planes::Isa::kScalar ? "Scalar"
                                                                                 : "Ssse3");
                         });

}  // namespace
}  // namespace ckptfs
