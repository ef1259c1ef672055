#include "fs/chunk_store.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "base/fault_env.h"
#include "base/thread_pool.h"
#include "codec/pack_format.h"
#include "fs/filesystem.h"
#include "fs/metadata.h"
#include "fs/store_config.h"
#include "fs/test_util.h"

namespace ckptfs {
namespace {

class ChunkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() + "/s";
    InitOptions io;
    io.chunker = {1024, 4096, 16384};
    ASSERT_TRUE(Filesystem::Init(dir_, io).ok());
    auto text = Env::Default()->ReadFileToString(dir_ + "/ckptfs.json");
    ASSERT_TRUE(text.ok());
    auto config = StoreConfig::FromJson(*text, dir_ + "/ckptfs.json");
    ASSERT_TRUE(config.ok());
    config_ = *config;
    auto meta = OpenSqliteMetadata(dir_ + "/meta.db", SqliteMetadataOptions{});
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    meta_ = std::move(meta).value();
  }
  std::unique_ptr<ChunkStore> Open() {
    auto cs = ChunkStore::Open(Env::Default(), dir_, meta_.get(), config_, ChunkStore::Options{},
                               &pool_);
    EXPECT_TRUE(cs.ok()) << cs.status().ToString();
    return cs.ok() ? std::move(cs).value() : nullptr;
  }

  testing::TempDir tmp_;
  std::string dir_;
  StoreConfig config_;
  std::unique_ptr<MetadataStore> meta_;
  ThreadPool pool_{2};
};

// A long write with no sync rotates many packs. Each pack being sealed owns
// its write buffers, so the backlog of rotated-but-unsealed packs must stay
// bounded (the 10 GiB mount benchmark once held 140 of them, 1.1 GiB), and
// every chunk must still read back.
TEST_F(ChunkStoreTest, SealBacklogStaysBoundedWithoutSync) {
  config_.pack_target_size = 256 << 10;
  auto cs = Open();
  ASSERT_NE(cs, nullptr);
  std::vector<std::pair<ChunkId, std::vector<std::byte>>> written;
  size_t most = 0;
  for (int i = 0; i < 60; ++i) {
    auto raw = testing::RandomBytes(100 << 10, 1000 + i);
    auto put = cs->Put(raw);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    written.emplace_back(put->location.id, std::move(raw));
    most = std::max(most, cs->packs_sealing());
  }
  EXPECT_LE(most, ChunkStore::kMaxSealing);
  EXPECT_GE(cs->stats().puts, 60u);
  for (const auto& [id, raw] : written) {
    auto got = cs->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(std::equal((*got)->begin(), (*got)->end(), raw.begin(), raw.end()));
  }
  ASSERT_TRUE(cs->SyncData().ok());
  EXPECT_EQ(cs->packs_sealing(), 0u);
  ASSERT_TRUE(cs->Close().ok());
}

// A pack the index names but that is gone (or unreadable) is corruption:
// the reader gets EIO, not ENOENT for a file that `ls` lists.
TEST_F(ChunkStoreTest, MissingPackIsCorruptionNamingThePack) {
  auto cs = Open();
  ASSERT_NE(cs, nullptr);
  auto put = cs->Put(testing::RandomBytes(50 << 10, 7));
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(cs->Close().ok());
  auto packs = Env::Default()->GetChildren(dir_ + "/packs");
  ASSERT_TRUE(packs.ok());
  ASSERT_FALSE(packs->empty());
  for (const auto& p : *packs) ASSERT_EQ(::unlink((dir_ + "/packs/" + p).c_str()), 0);
  auto got = cs->Get(put->location.id);
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
  EXPECT_NE(got.status().message().find(".pack"), std::string::npos) << got.status().ToString();
}

// Readahead claims chunks and reads records that are neighbours in a pack
// with one read. Readers get the same verified bytes, and damage to one
// record fails that chunk only, as corruption naming the pack.
TEST_F(ChunkStoreTest, PrefetchReadsNeighboursTogetherAndChecksEach) {
  FaultInjectionEnv env(Env::Default());
  auto opened = ChunkStore::Open(&env, dir_, meta_.get(), config_, ChunkStore::Options{}, &pool_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto cs = std::move(opened).value();
  std::vector<ChunkId> ids;
  std::vector<std::vector<std::byte>> raws;
  std::vector<ChunkLocation> locs;
  for (int i = 0; i < 24; ++i) {
    raws.push_back(testing::RandomBytes(20 << 10, 500 + i));
    auto put = cs->Put(raws.back());
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    ids.push_back(put->location.id);
    locs.push_back(put->location);
  }
  ASSERT_TRUE(cs->SyncData().ok());
  ASSERT_EQ(locs[5].pack_id, locs[0].pack_id);
  char name[32];
  std::snprintf(name, sizeof(name), "/packs/%08x.pack", locs[5].pack_id);
  {
    int fd = ::open((dir_ + name).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    std::byte b;
    const off_t at = static_cast<off_t>(locs[5].offset + pack::kRecordHeaderSize + 3);
    ASSERT_EQ(::pread(fd, &b, 1, at), 1);
    b ^= std::byte{0x04};
    ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
    ::close(fd);
  }
  const uint64_t before = env.reads();
  cs->Prefetch(ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto got = cs->Get(ids[i]);
    if (i == 5) {
      ASSERT_FALSE(got.ok());
      EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
      EXPECT_NE(got.status().message().find(".pack"), std::string::npos)
          << got.status().ToString();
      continue;
    }
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_TRUE(std::equal((*got)->begin(), (*got)->end(), raws[i].begin(), raws[i].end())) << i;
  }
  // One read per prefetch group of adjacent records (24 chunks of 20 KiB:
  // 3 groups), where one per chunk would be 24. Opening the pack reads its
  // header (once per group at most, if the groups race to open it), and the
  // damaged chunk is not cached, so its Get may have read it once more.
  const uint64_t groups = (ids.size() + ChunkStore::kPrefetchGroup - 1) / ChunkStore::kPrefetchGroup;
  EXPECT_GE(env.reads() - before, groups + 1);
  EXPECT_LE(env.reads() - before, 2 * groups + 1);
  ASSERT_TRUE(cs->Close().ok());
}

// Chunk reads skip the payload CRC and rely on decoding plus the chunk id
// check (PayloadCheck). Damage anywhere in a payload of any codec must give
// Corruption or, where it hits bits the decoder never uses (a zstd frame
// header has some), exactly the stored bytes - never other bytes. fsck
// (VerifyAll) also checks the CRC, so it reports every damaged record.
TEST_F(ChunkStoreTest, DamageAnywhereInAPayloadIsCaughtByReadsAndFsck) {
  // Float weights (byte planes), text (plain zstd) and noise (raw).
  std::vector<std::byte> floats(12 << 10), text, noise = testing::RandomBytes(12 << 10, 9);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i + 4 <= floats.size(); i += 4) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const float f = (static_cast<float>(x % 20001) - 10000.0f) * 1e-5f;
    std::memcpy(floats.data() + i, &f, 4);
  }
  for (int i = 0; text.size() < (12 << 10); ++i) {
    const std::string line = "iter " + std::to_string(i) + " loss 0.25 lr 0.001\n";
    for (char c : line) text.push_back(static_cast<std::byte>(c));
  }
  ChunkStore::Options no_cache;
  no_cache.cache_bytes = 0;  // every Get reads the pack
  auto opened = ChunkStore::Open(Env::Default(), dir_, meta_.get(), config_, no_cache, &pool_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto cs = std::move(opened).value();
  std::vector<std::pair<ChunkLocation, std::vector<std::byte>>> chunks;
  std::vector<ChunkLocation> rows;
  std::vector<Extent> extents;
  uint64_t size = 0;
  for (const auto* raw : {&floats, &text, &noise}) {
    auto put = cs->Put(*raw);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    chunks.emplace_back(put->location, *raw);
    extents.push_back(Extent{size, raw->size(), put->location.id, 0});
    size += raw->size();
    rows.push_back(put->location);
  }
  ASSERT_TRUE(cs->SyncData().ok());
  std::set<Codec> codecs;
  for (const auto& [loc, raw] : chunks) codecs.insert(loc.codec);
  ASSERT_EQ(codecs.size(), 3u) << "the test needs a planes, a zstd and a raw chunk";
  // Index rows for VerifyAll, as a file's commit writes them.
  InodeAttr attr;
  attr.mode = S_IFREG | 0644;
  auto file = meta_->Create(kRootIno, "f", attr);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  Status committed = meta_->CommitFile(file->ino, extents, size, 1, rows);
  ASSERT_TRUE(committed.ok()) << committed.ToString();

  for (const auto& [loc, raw] : chunks) {
    char name[32];
    std::snprintf(name, sizeof(name), "/packs/%08x.pack", loc.pack_id);
    const int fd = ::open((dir_ + name).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const uint64_t payload = loc.offset + pack::kRecordHeaderSize;
    int flips = 0, read_failures = 0;
    for (uint64_t at = 0; at < loc.stored_len; at += at < 64 ? 1 : 37) {
      for (std::byte bit : {std::byte{0x01}, std::byte{0x80}}) {
        std::byte b;
        ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(payload + at)), 1);
        b ^= bit;
        ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(payload + at)), 1);
        auto got = cs->Get(loc.id);
        if (got.ok()) {
          EXPECT_TRUE(std::equal((*got)->begin(), (*got)->end(), raw.begin(), raw.end()))
              << CodecName(loc.codec) << " payload byte " << at << ": a read returned other bytes";
        } else {
          EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
          ++read_failures;
        }
        std::vector<std::pair<ChunkId, std::string>> bad;
        uint64_t checked = 0, bytes = 0;
        ASSERT_TRUE(cs->VerifyAll(nullptr, &bad, &checked, &bytes).ok());
        EXPECT_EQ(checked, 3u);
        ASSERT_EQ(bad.size(), 1u) << CodecName(loc.codec) << " payload byte " << at
                                  << " flipped, and fsck missed it";
        EXPECT_EQ(bad[0].first, loc.id);
        b ^= bit;
        ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(payload + at)), 1);
        ++flips;
      }
    }
    EXPECT_GT(flips, 100);
    EXPECT_GT(read_failures, flips * 9 / 10) << CodecName(loc.codec);
    auto got = cs->Get(loc.id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(std::equal((*got)->begin(), (*got)->end(), raw.begin(), raw.end()));
    ::close(fd);
  }
  ASSERT_TRUE(cs->Close().ok());
}

}  // namespace
}  // namespace ckptfs
