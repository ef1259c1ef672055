#include "codec/chunk_hasher.h"

#include <gtest/gtest.h>

#include <set>

#include "base/env.h"
#include "codec/test_util.h"

namespace ckptfs {
namespace {

TEST(ChunkHasherTest, RejectsShortSecret) {
  auto r = ChunkHasher::Create(std::vector<uint8_t>(135, 7));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(ChunkHasher::Create(std::vector<uint8_t>(136, 7)).ok());
}

TEST(ChunkHasherTest, SecretsAreFreshAndFullSize) {
  auto a = ChunkHasher::GenerateSecret(), b = ChunkHasher::GenerateSecret();
  EXPECT_EQ(a.size(), ChunkHasher::kSecretSize);
  EXPECT_NE(a, b);
}

TEST(ChunkHasherTest, KeyedDeterministicAndSensitive) {
  auto secret = ChunkHasher::GenerateSecret();
  auto h1 = ChunkHasher::Create(secret).value();
  auto h2 = ChunkHasher::Create(secret).value();
  auto other = ChunkHasher::Create(ChunkHasher::GenerateSecret()).value();
  auto data = testing::RandomBytes(100000, 1);
  EXPECT_EQ(h1.Hash(data), h2.Hash(data));
  EXPECT_NE(h1.Hash(data), other.Hash(data));  // the key matters
  std::set<ChunkId> ids{h1.Hash(data)};
  for (size_t pos : {0ul, 1ul, 4999ul, 99999ul}) {
    auto flipped = data;
    flipped[pos] ^= std::byte{1};
    EXPECT_TRUE(ids.insert(h1.Hash(flipped)).second) << "bit flip at " << pos;
  }
  EXPECT_TRUE(ids.insert(h1.Hash(std::span(data).first(99999))).second);
  EXPECT_TRUE(ids.insert(h1.Hash({})).second);
}

TEST(ChunkHasherTest, KnownVectorIsStable) {
  // Ids are stored on disk: the same secret and bytes must always give the
  // same id on every host and build.
  std::vector<uint8_t> secret(192);
  for (size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<uint8_t>(i * 7 + 1);
  auto h = ChunkHasher::Create(secret).value();
  std::string s = "ckptfs";
  ChunkId id = h.Hash(AsBytes(s));
  ChunkId again;
  ASSERT_TRUE(ChunkId::FromHex(id.ToHex(), &again));
  EXPECT_EQ(id, again);
  EXPECT_EQ(id.ToHex(), "c1a379fa55c976ebe617e8067f7b7406");
}

TEST(ChunkIdTest, HexRoundTripAndRejects) {
  ChunkId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(i * 17);
  std::string hex = id.ToHex();
  EXPECT_EQ(hex, "00112233445566778899aabbccddeeff");
  ChunkId back;
  ASSERT_TRUE(ChunkId::FromHex(hex, &back));
  EXPECT_EQ(back, id);
  ASSERT_TRUE(ChunkId::FromHex("00112233445566778899AABBCCDDEEFF", &back));
  EXPECT_EQ(back, id);
  ChunkId untouched = back;
  EXPECT_FALSE(ChunkId::FromHex("", &back));
  EXPECT_FALSE(ChunkId::FromHex(hex.substr(1), &back));
  EXPECT_FALSE(ChunkId::FromHex(hex + "0", &back));
  EXPECT_FALSE(ChunkId::FromHex("g0112233445566778899aabbccddeeff", &back));
  EXPECT_EQ(back, untouched);
}

TEST(ChunkIdTest, CodecNames) {
  EXPECT_STREQ(CodecName(Codec::kRaw), "raw");
  EXPECT_STREQ(CodecName(Codec::kZstd), "zstd");
  EXPECT_STREQ(CodecName(Codec::kZstdPlanes2), "zstd-planes2");
  EXPECT_STREQ(CodecName(Codec::kZstdPlanes4), "zstd-planes4");
  EXPECT_STREQ(CodecName(static_cast<Codec>(200)), "unknown");
}

}  // namespace
}  // namespace ckptfs
