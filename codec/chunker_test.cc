#include "codec/chunker.h"

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <map>
#include <set>

#include "codec/chunk_hasher.h"
#include "codec/test_util.h"

namespace ckptfs {
namespace {

using testing::ChunkAll;
using testing::RandomBytes;

std::vector<ChunkId> Ids(const ChunkHasher& h, std::span<const std::byte> data,
                         const std::vector<testing::ChunkSpan>& chunks) {
  std::vector<ChunkId> ids;
  for (auto c : chunks) ids.push_back(h.Hash(data.subspan(c.offset, c.length)));
  return ids;
}

TEST(ChunkerParamsTest, Validation) {
  EXPECT_TRUE(ChunkerParams{}.Valid());
  EXPECT_TRUE((ChunkerParams{2048, 8192, 65536}.Valid()));
  EXPECT_FALSE((ChunkerParams{64 * 1024, 200 * 1024, 1024 * 1024}.Valid()));  // avg not 2^k
  EXPECT_FALSE((ChunkerParams{256 * 1024, 256 * 1024, 1024 * 1024}.Valid()));  // min == avg
  EXPECT_FALSE((ChunkerParams{64 * 1024, 256 * 1024, 256 * 1024}.Valid()));    // avg == max
  EXPECT_FALSE((ChunkerParams{64 * 1024, 1024 * 1024, 32 * 1024 * 1024}.Valid()));  // max > 16M
  EXPECT_FALSE((ChunkerParams{0, 256, 1024}.Valid()));
}

// The boundary definition, written as plainly as possible: the gear table
// (rebuilt here from its documented seed), hashing from min_size, the small
// mask before avg and the large one after. The chunker's unrolled loop must
// cut exactly here: boundaries are part of the store format in effect
// (changing them defeats dedup against older data).
size_t ReferenceBoundary(const ChunkerParams& p, std::span<const std::byte> d) {
  uint64_t gear[256];
  uint64_t x = 0x636b7074'66736765ull;
  for (auto& v : gear) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    v = z ^ (z >> 31);
  }
  const int bits = std::countr_zero(p.avg_size);
  const uint64_t small = ~0ull << (64 - (bits + 2)), large = ~0ull << (64 - (bits - 2));
  if (d.size() <= p.min_size) return 0;
  uint64_t h = 0;
  for (size_t i = p.min_size; i < std::min<size_t>(d.size(), p.max_size); ++i) {
    h = (h << 1) + gear[static_cast<uint8_t>(d[i])];
    if (!(h & (i < p.avg_size ? small : large))) return i + 1;
  }
  return d.size() >= p.max_size ? p.max_size : 0;
}

TEST(ChunkerTest, BoundariesMatchTheReferenceDefinition) {
  // Odd sizes so the unrolled loop's remainders and every window end are hit.
  for (ChunkerParams p : {ChunkerParams{}, ChunkerParams{1001, 4096, 16387}, ChunkerParams{64, 128, 259}}) {
    Chunker chunker(p);
    auto data = RandomBytes(8 << 20, p.max_size);
    for (size_t at = 0; at < data.size();) {
      for (size_t window : {data.size() - at, size_t{p.avg_size + 3}, size_t{p.min_size + 1}}) {
        auto d = std::span(data).subspan(at, std::min(window, data.size() - at));
        ASSERT_EQ(chunker.FindBoundary(d), ReferenceBoundary(p, d))
            << "offset " << at << " window " << d.size() << " max " << p.max_size;
      }
      size_t n = chunker.FindBoundary(std::span(data).subspan(at));
      at += n ? n : data.size() - at;
    }
  }
}

TEST(ChunkerTest, SizesWithinBoundsAndDeterministic) {
  Chunker chunker(ChunkerParams{});
  auto data = RandomBytes(32 << 20, 1);
  auto a = ChunkAll(chunker, data);
  auto b = ChunkAll(Chunker(ChunkerParams{}), data);
  ASSERT_EQ(a.size(), b.size());
  size_t total = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].offset, b[i].offset);
    EXPECT_EQ(a[i].length, b[i].length);
    EXPECT_EQ(a[i].offset, total);
    total += a[i].length;
    if (i + 1 < a.size()) {
      EXPECT_GE(a[i].length, chunker.params().min_size) << "chunk " << i;
      EXPECT_LE(a[i].length, chunker.params().max_size) << "chunk " << i;
    }
  }
  EXPECT_EQ(total, data.size());
  // Normalized chunking keeps the mean near avg (32 MiB / 256 KiB = 128).
  EXPECT_GT(a.size(), 64u);
  EXPECT_LT(a.size(), 256u);
}

TEST(ChunkerTest, ZerosCutAtMaxSize) {
  // No content-defined cut exists in constant data, so max_size must apply.
  ChunkerParams p{4096, 16384, 65536};
  Chunker chunker(p);
  std::vector<std::byte> zeros(1 << 20);
  auto chunks = ChunkAll(chunker, zeros);
  ASSERT_EQ(chunks.size(), 16u);
  for (auto c : chunks) EXPECT_EQ(c.length, p.max_size);
}

TEST(ChunkerTest, NeedsMoreBytesBeforeMax) {
  Chunker chunker(ChunkerParams{});
  std::vector<std::byte> zeros(512 * 1024);
  EXPECT_EQ(chunker.FindBoundary(zeros), 0u);
  EXPECT_EQ(chunker.FindBoundary({}), 0u);
  // The boundary does not depend on how many bytes follow it.
  auto data = RandomBytes(4 << 20, 9);
  size_t full = chunker.FindBoundary(data);
  ASSERT_GT(full, 0u);
  EXPECT_EQ(chunker.FindBoundary(std::span(data).first(full)), full);
  EXPECT_EQ(chunker.FindBoundary(std::span(data).first(full - 1)), 0u);
}

TEST(ChunkerTest, InsertionChangesOnlyNearbyChunks) {
  auto hasher = ChunkHasher::Create(ChunkHasher::GenerateSecret()).value();
  Chunker chunker(ChunkerParams{});
  auto data = RandomBytes(64 << 20, 2);
  auto edited = data;
  auto extra = RandomBytes(100, 3);
  edited.insert(edited.begin() + edited.size() / 2, extra.begin(), extra.end());

  auto a = Ids(hasher, data, ChunkAll(chunker, data));
  auto b = Ids(hasher, edited, ChunkAll(chunker, edited));
  std::multiset<ChunkId> before(a.begin(), a.end());
  size_t shared = 0;
  for (const auto& id : b) {
    if (auto it = before.find(id); it != before.end()) {
      before.erase(it);
      ++shared;
    }
  }
  // The insertion lands in one chunk; at most its neighbour also moves.
  EXPECT_GE(shared + 3, b.size()) << "of " << b.size() << " chunks only " << shared << " kept";
  EXPECT_GE(shared + 3, a.size());
  EXPECT_LT(shared, b.size());  // the edited chunk itself must differ
}

TEST(ChunkerTest, PrependedHeaderKeepsMostBytesDeduplicated) {
  auto hasher = ChunkHasher::Create(ChunkHasher::GenerateSecret()).value();
  Chunker chunker(ChunkerParams{});
  auto data = RandomBytes(16 << 20, 4);
  auto with_header = RandomBytes(4096, 5);
  with_header.insert(with_header.end(), data.begin(), data.end());

  auto orig_chunks = ChunkAll(chunker, data);
  std::set<ChunkId> known;
  for (auto id : Ids(hasher, data, orig_chunks)) known.insert(id);
  auto chunks = ChunkAll(chunker, with_header);
  auto ids = Ids(hasher, with_header, chunks);
  size_t shared_bytes = 0;
  for (size_t i = 0; i < ids.size(); ++i)
    if (known.count(ids[i])) shared_bytes += chunks[i].length;
  EXPECT_GE(shared_bytes, data.size() * 9 / 10)
      << "shared " << shared_bytes << " of " << data.size();
}

TEST(ChunkerTest, SmallParamsAlsoResync) {
  // The same property at a small average, where many more cuts are tested.
  Chunker chunker(ChunkerParams{2048, 8192, 65536});
  auto data = RandomBytes(4 << 20, 6);
  auto edited = data;
  edited.erase(edited.begin() + 1000000, edited.begin() + 1000007);
  auto a = ChunkAll(chunker, data), b = ChunkAll(chunker, edited);
  // Chunks entirely after the edit, shifted by -7, must reappear.
  std::set<std::pair<size_t, size_t>> before;
  for (auto c : a) before.insert({c.offset, c.length});
  size_t after_edit = 0, matched = 0;
  for (auto c : b) {
    if (c.offset < 1100000) continue;
    ++after_edit;
    matched += before.count({c.offset + 7, c.length});
  }
  EXPECT_GT(after_edit, 100u);
  EXPECT_EQ(matched, after_edit);
}

TEST(ChunkerTest, Throughput) {
  Chunker chunker(ChunkerParams{});
  auto data = RandomBytes(64 << 20, 7);
  auto t0 = std::chrono::steady_clock::now();
  auto chunks = ChunkAll(chunker, data);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double mbps = data.size() / s / 1e6;
  std::printf("chunker: %.0f MB/s over %zu chunks\n", mbps, chunks.size());
  // A loose floor that still catches an accidentally quadratic or
  // unoptimized loop; bench/codec_bench reports the real number.
  EXPECT_GT(mbps, 150);
}

}  // namespace
}  // namespace ckptfs
