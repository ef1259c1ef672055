#include "codec/compressor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <zstd.h>

#include <cstring>
#include <thread>

#include "codec/chunker.h"
#include "base/env.h"
#include "codec/test_util.h"

namespace ckptfs {
namespace {

using testing::RandomBytes;

constexpr Codec kAllCodecs[] = {Codec::kRaw, Codec::kZstd, Codec::kZstdPlanes2,
                                Codec::kZstdPlanes4};

// Float-like data: small-magnitude values, so exponents repeat and
// mantissas are noise, like trained weights.
std::vector<std::byte> FakeFp32(size_t n, uint64_t seed) {
  auto noise = RandomBytes(n, seed);
  std::vector<std::byte> out(n);
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t r;
    std::memcpy(&r, &noise[i], 4);
    float f = (static_cast<float>(r % 20001) - 10000.0f) * 1e-5f;
    std::memcpy(&out[i], &f, 4);
  }
  std::memcpy(out.data() + n / 4 * 4, noise.data(), n % 4);
  return out;
}

// An independent encoder written from docs/pack_format.md, so every codec
// is exercised at every size, including sizes where Compress would never
// pick it.
CompressedChunk SpecEncode(Codec codec, std::span<const std::byte> raw) {
  CompressedChunk c{codec, {}};
  if (codec == Codec::kRaw) {
    c.payload.assign(raw.begin(), raw.end());
    return c;
  }
  size_t w = codec == Codec::kZstd ? 1 : codec == Codec::kZstdPlanes2 ? 2 : 4;
  size_t m = raw.size() / w;
  std::vector<std::vector<std::byte>> pieces(w);
  for (size_t j = 0; j < w; ++j) {
    size_t k = w - 1 - j;  // frame j holds plane w-1-j
    for (size_t i = 0; i < m; ++i) pieces[j].push_back(raw[i * w + k]);
  }
  pieces[w - 1].insert(pieces[w - 1].end(), raw.begin() + m * w, raw.end());  // the tail
  for (auto& p : pieces) {
    std::vector<std::byte> frame(ZSTD_compressBound(p.size()));
    frame.resize(ZSTD_compress(frame.data(), frame.size(), p.data(), p.size(), 3));
    c.payload.insert(c.payload.end(), frame.begin(), frame.end());
  }
  return c;
}

std::vector<std::byte> RoundTrip(const CompressedChunk& c, size_t n) {
  std::vector<std::byte> out(n, std::byte{0xee});
  Status s = Compressor::Decompress(c.codec, c.payload, out);
  EXPECT_TRUE(s.ok()) << CodecName(c.codec) << " n=" << n << ": " << s.ToString();
  return out;
}

TEST(CompressorTest, RoundTripsAllSizesAndOptions) {
  const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 63, 64, 65, 4095, 4097, 65537, 100003, 300001};
  for (int level : {1, 3}) {
    for (bool grouping : {false, true}) {
      Compressor c(CompressionOptions{level, grouping});
      for (size_t n : sizes) {
        for (const auto& data : {FakeFp32(n, n), RandomBytes(n, n), std::vector<std::byte>(n)}) {
          CompressedChunk cc = c.Compress(data);
          if (!grouping) {
            EXPECT_TRUE(cc.codec == Codec::kRaw || cc.codec == Codec::kZstd);
          }
          EXPECT_LE(cc.payload.size(), n);  // never larger than raw
          EXPECT_EQ(RoundTrip(cc, n), data) << "level " << level << " n " << n;
        }
      }
    }
  }
}

TEST(CompressorTest, EveryCodecDecodesAtEverySize) {
  for (Codec codec : kAllCodecs) {
    for (size_t n : {0ul, 1ul, 2ul, 3ul, 5ul, 6ul, 7ul, 1001ul, 70001ul}) {
      auto data = FakeFp32(n, 100 + n);
      EXPECT_EQ(RoundTrip(SpecEncode(codec, data), n), data) << CodecName(codec) << " n=" << n;
    }
  }
}

TEST(CompressorTest, PlanesCodecsMatchTheDocumentedLayout) {
  // Compress's own planes payloads decode with a plain zstd decoder into the
  // documented grouped layout.
  Compressor c(CompressionOptions{});
  auto data = FakeFp32(300003, 8);
  CompressedChunk cc = c.Compress(data);
  ASSERT_EQ(cc.codec, Codec::kZstdPlanes4);
  std::vector<std::byte> grouped(data.size());
  ASSERT_EQ(ZSTD_decompress(grouped.data(), grouped.size(), cc.payload.data(), cc.payload.size()),
            data.size());
  size_t m = data.size() / 4;
  for (size_t i = 0; i < m; i += 997) {
    for (size_t k = 0; k < 4; ++k) ASSERT_EQ(grouped[(3 - k) * m + i], data[4 * i + k]);
  }
  EXPECT_EQ(grouped.back(), data.back());
}

TEST(CompressorTest, PicksPlanesForFloats) {
  Compressor c(CompressionOptions{});
  EXPECT_EQ(c.Compress(FakeFp32(256 * 1024, 1)).codec, Codec::kZstdPlanes4);
  EXPECT_EQ(c.Compress(testing::Fp32ToBf16(FakeFp32(512 * 1024, 2))).codec, Codec::kZstdPlanes2);
  std::string text;
  while (text.size() < 256 * 1024) text += "the quick brown fox jumps over the lazy dog ";
  EXPECT_EQ(c.Compress(AsBytes(text)).codec, Codec::kZstd);
}

TEST(CompressorTest, IncompressibleStoredRaw) {
  Compressor c(CompressionOptions{});
  for (size_t n : {10ul, 5000ul, 256ul * 1024, 1ul << 20}) {
    auto data = RandomBytes(n, n);
    CompressedChunk cc = c.Compress(data);
    EXPECT_EQ(cc.codec, Codec::kRaw) << n;
    EXPECT_TRUE(std::ranges::equal(cc.payload, data));
  }
}

TEST(CompressorTest, DetectsCorruptionWithoutOverrun) {
  Compressor c(CompressionOptions{});
  for (auto data : {FakeFp32(200003, 3), testing::Fp32ToBf16(FakeFp32(200000, 4))}) {
    CompressedChunk cc = c.Compress(data);
    ASSERT_NE(cc.codec, Codec::kRaw);
    // Wrong expected length, both ways. The guard bytes after the output
    // must survive: the decoder may not write past the span it was given.
    for (long delta : {-1L, 1L, -1000L, 1000L}) {
      std::vector<std::byte> out(data.size() + delta + 64, std::byte{0x5a});
      auto span = std::span(out).first(data.size() + delta);
      Status s = Compressor::Decompress(cc.codec, cc.payload, span);
      EXPECT_TRUE(s.IsCorruption()) << delta << ": " << s.ToString();
      for (size_t i = span.size(); i < out.size(); ++i) ASSERT_EQ(out[i], std::byte{0x5a});
    }
    // Truncated, garbage and bit-flipped frames: corruption or (for a flip in
    // entropy-coded data zstd cannot notice) a wrong result, never a crash.
    // The pack CRC and the chunk id catch the latter.
    std::vector<std::byte> out(data.size());
    auto truncated = std::span(cc.payload).first(cc.payload.size() / 2);
    EXPECT_TRUE(Compressor::Decompress(cc.codec, truncated, out).IsCorruption());
    EXPECT_TRUE(Compressor::Decompress(cc.codec, {}, out).IsCorruption());
    auto garbage = RandomBytes(cc.payload.size(), 5);
    EXPECT_TRUE(Compressor::Decompress(cc.codec, garbage, out).IsCorruption());
    for (size_t pos = 0; pos < cc.payload.size(); pos += 97) {
      auto bad = cc.payload;
      bad[pos] ^= std::byte{0x40};
      Status s = Compressor::Decompress(cc.codec, bad, out);
      if (s.ok()) continue;
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
  }
  std::vector<std::byte> out(10);
  EXPECT_TRUE(Compressor::Decompress(Codec::kRaw, RandomBytes(9, 1), out).IsCorruption());
  EXPECT_TRUE(
      Compressor::Decompress(static_cast<Codec>(9), RandomBytes(10, 1), out).IsCorruption());
}

TEST(CompressorTest, ThreadSafe) {
  Compressor c(CompressionOptions{});
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto data = (i % 2) ? FakeFp32(50000 + t * 1000 + i, t * 100 + i)
                            : RandomBytes(50000 + i, t * 100 + i);
        CompressedChunk cc = c.Compress(data);
        std::vector<std::byte> out(data.size());
        if (!Compressor::Decompress(cc.codec, cc.payload, out).ok() || out != data) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// --- Real weights (tests/data/fp32_weights_sample.bin, see its README) ---

struct Sizes {
  size_t logical = 0, ours = 0, zstd1 = 0;
};

// Chunks like the write path, compresses every chunk, and compares with
// plain zstd -1 on the same chunks.
Sizes Measure(std::span<const std::byte> data, int level) {
  Chunker chunker(ChunkerParams{});
  Compressor c(CompressionOptions{level, true});
  Sizes s;
  std::vector<std::byte> buf;
  for (auto ch : testing::ChunkAll(chunker, data)) {
    auto raw = data.subspan(ch.offset, ch.length);
    CompressedChunk cc = c.Compress(raw);
    std::vector<std::byte> back(raw.size());
    EXPECT_TRUE(Compressor::Decompress(cc.codec, cc.payload, back).ok());
    EXPECT_TRUE(std::equal(back.begin(), back.end(), raw.begin()));
    buf.resize(ZSTD_compressBound(raw.size()));
    s.zstd1 += ZSTD_compress(buf.data(), buf.size(), raw.data(), raw.size(), 1);
    s.logical += raw.size();
    s.ours += cc.payload.size();
  }
  return s;
}

TEST(CompressorRealWeightsTest, Fp32BeatsPlainZstd) {
  auto data = testing::ReadTestData("fp32_weights_sample.bin");
  ASSERT_GE(data.size(), 512u * 1024) << "tests/data/fp32_weights_sample.bin missing";
  for (int level : {1, 3}) {
    Sizes s = Measure(data, level);
    double ours = double(s.logical) / s.ours, plain = double(s.logical) / s.zstd1;
    std::printf("fp32 level %d: ckptfs %.3fx, plain zstd -1 %.3fx\n", level, ours, plain);
    EXPECT_GT(ours, plain * 1.05);
    EXPECT_GE(ours, 1.15);
  }
}

TEST(CompressorRealWeightsTest, Bf16AtLeast1_4x) {
  auto bf16 = testing::Fp32ToBf16(testing::ReadTestData("fp32_weights_sample.bin"));
  ASSERT_GE(bf16.size(), 256u * 1024);
  for (int level : {1, 3}) {
    Sizes s = Measure(bf16, level);
    double ours = double(s.logical) / s.ours, plain = double(s.logical) / s.zstd1;
    std::printf("bf16 level %d: ckptfs %.3fx, plain zstd -1 %.3fx\n", level, ours, plain);
    EXPECT_GE(ours, 1.4);
    EXPECT_GT(ours, plain);
  }
}

}  // namespace
}  // namespace ckptfs
