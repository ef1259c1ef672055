#include "fs/chunk_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>

#include "base/thread_pool.h"
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

}  // namespace
}  // namespace ckptfs
