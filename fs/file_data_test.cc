// FileData: the streaming/overlay write state, against a real chunk store.
#include "fs/file_data.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "fs/filesystem.h"
#include "fs/metadata.h"
#include "fs/store_config.h"
#include "fs/test_util.h"

namespace ckptfs {
namespace {

std::vector<std::byte> Flatten(const ReadView& v) {
  std::vector<std::byte> out;
  for (const auto& p : v.pieces) {
    if (p.data) out.insert(out.end(), p.data, p.data + p.len);
    else out.insert(out.end(), p.len, std::byte{0});
  }
  return out;
}

// Random writes of random sizes at random offsets, checked against an
// in-memory model after every commit and reopen: the class of bugs where
// overlay, holes, truncation and streaming interact.
TEST(FileDataModelTest, RandomOperationsMatchModel) {
  testing::TempDir dir;
  InitOptions io;
  io.chunker = {1024, 4096, 16384};
  ASSERT_TRUE(Filesystem::Init(dir.path() + "/s", io).ok());
  StoreOptions so;
  auto fs = Filesystem::Open(dir.path() + "/s", so);
  ASSERT_TRUE(fs.ok());
  auto c = (*fs)->Create(kRootIno, "m", 0644, O_CREAT | O_RDWR, 0, 0);
  ASSERT_TRUE(c.ok());
  Ino ino = c->first.ino;
  FileHandle fh = c->second;
  std::vector<std::byte> model;
  std::mt19937_64 rng(99);
  for (int step = 0; step < 400; ++step) {
    int op = rng() % 10;
    if (op < 6) {
      uint64_t off = model.empty() || rng() % 3 == 0 ? model.size() : rng() % (model.size() + 20000);
      auto data = testing::RandomBytes(1 + rng() % 30000, rng());
      ASSERT_TRUE((*fs)->Write(fh, off, data).ok());
      if (model.size() < off + data.size()) model.resize(off + data.size(), std::byte{0});
      std::copy(data.begin(), data.end(), model.begin() + off);
    } else if (op == 6) {
      uint64_t size = rng() % (model.size() + 10000);
      InodeAttr v;
      v.size = size;
      ASSERT_TRUE((*fs)->SetAttr(ino, v, kSetSize, fh).ok());
      model.resize(size, std::byte{0});
    } else if (op == 7) {
      Status flushed = (*fs)->Flush(fh);
      ASSERT_TRUE(flushed.ok()) << flushed.ToString();
    } else {
      uint64_t off = model.empty() ? 0 : rng() % model.size();
      std::vector<std::byte> buf(1 + rng() % 50000, std::byte{0xAB});  // holes must be zeroed
      auto r = (*fs)->Read(fh, off, buf);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      size_t expect = off < model.size() ? std::min(buf.size(), model.size() - off) : 0;
      ASSERT_EQ(*r, expect) << "step " << step;
      ASSERT_TRUE(std::equal(buf.begin(), buf.begin() + *r, model.begin() + off)) << "step " << step;
      // The zero-copy read returns the same bytes, as pieces and holes.
      ReadView view;
      auto pr = (*fs)->ReadPinned(fh, off, buf.size(), &view);
      ASSERT_TRUE(pr.ok()) << pr.status().ToString();
      ASSERT_EQ(*pr, expect) << "step " << step;
      ASSERT_EQ(view.size, expect) << "step " << step;
      ASSERT_EQ(Flatten(view), std::vector<std::byte>(model.begin() + off, model.begin() + off + expect))
          << "step " << step;
    }
  }
  ASSERT_TRUE((*fs)->Release(fh).ok());
  fs->reset();
  auto fs2 = Filesystem::Open(dir.path() + "/s", so);
  ASSERT_TRUE(fs2.ok());
  auto a = (*fs2)->GetAttr(ino);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size, model.size());
  auto rh = (*fs2)->Open(ino, O_RDONLY);
  std::vector<std::byte> all(model.size(), std::byte{0xCD});
  auto r = (*fs2)->Read(*rh, 0, all);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(all, model);
  ReadView view;
  auto pr = (*fs2)->ReadPinned(*rh, 0, model.size() + 100, &view);
  ASSERT_TRUE(pr.ok());
  EXPECT_EQ(*pr, model.size());
  EXPECT_EQ(Flatten(view), model);
  EXPECT_FALSE(view.pins.empty());  // committed bytes are served from chunks, not copied
  ASSERT_TRUE((*fs2)->Release(*rh).ok());
  auto fsck = (*fs2)->Fsck(nullptr);
  ASSERT_TRUE(fsck.ok());
  EXPECT_TRUE(fsck->ok());
}

// A deferred write only copies its bytes; the cut happens in CutDeferred
// (the FUSE adapter acknowledges the write in between). Either way the
// committed file is the same bytes in the same chunks.
TEST(FileDataTest, DeferredCutLeavesBytesUncutUntilAsked) {
  testing::TempDir dir;
  ASSERT_TRUE(Filesystem::Init(dir.path() + "/s", InitOptions{}).ok());
  auto text = Env::Default()->ReadFileToString(dir.path() + "/s/ckptfs.json");
  ASSERT_TRUE(text.ok());
  auto config = StoreConfig::FromJson(*text, "ckptfs.json");
  ASSERT_TRUE(config.ok());
  auto meta = OpenSqliteMetadata(dir.path() + "/s/meta.db", SqliteMetadataOptions{});
  ASSERT_TRUE(meta.ok());
  ThreadPool pool(2);
  auto cs = ChunkStore::Open(Env::Default(), dir.path() + "/s", meta->get(), *config,
                             ChunkStore::Options{}, &pool);
  ASSERT_TRUE(cs.ok());
  const ChunkerParams& params = config->chunker;
  const auto data = testing::RandomBytes(4 * size_t{params.max_size}, 5);
  const size_t piece = params.max_size / 4;
  std::vector<std::vector<Extent>> committed;
  for (bool defer : {true, false}) {
    FileData fd(cs->get(), &pool, Env::Default(), dir.path() + "/staging." + std::to_string(defer),
                params, {}, 0);
    size_t most_uncut = 0;
    for (size_t off = 0; off < data.size(); off += piece) {
      ASSERT_TRUE(fd.Write(off, std::span(data).subspan(off, piece), defer).ok());
      most_uncut = std::max(most_uncut, fd.uncut_bytes());
      if (defer) ASSERT_TRUE(fd.CutDeferred().ok());
      EXPECT_LT(fd.uncut_bytes(), params.max_size) << "at " << off;
    }
    if (defer) EXPECT_GE(most_uncut, params.max_size) << "nothing was left for CutDeferred";
    else EXPECT_LT(most_uncut, params.max_size);
    auto plan = fd.PrepareCommit();
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    EXPECT_EQ(plan->size, data.size());
    committed.push_back(plan->extents);
    fd.Committed(*plan);
  }
  ASSERT_EQ(committed[0].size(), committed[1].size());
  for (size_t i = 0; i < committed[0].size(); ++i) {
    EXPECT_EQ(committed[0][i].file_off, committed[1][i].file_off);
    EXPECT_EQ(committed[0][i].len, committed[1][i].len);
    EXPECT_EQ(committed[0][i].chunk, committed[1][i].chunk);
  }
}

// Filesystem::Write answers through `reply` exactly once, errors included.
TEST(FileDataTest, WriteRepliesOnceWithTheResult) {
  testing::TempDir dir;
  ASSERT_TRUE(Filesystem::Init(dir.path() + "/s", InitOptions{}).ok());
  auto fs = Filesystem::Open(dir.path() + "/s", StoreOptions{});
  ASSERT_TRUE(fs.ok());
  auto c = (*fs)->Create(kRootIno, "f", 0644, O_CREAT | O_RDWR, 0, 0);
  ASSERT_TRUE(c.ok());
  const auto data = testing::RandomBytes(3 << 20, 6);
  int replies = 0;
  Result<size_t> got = size_t{0};
  (*fs)->Write(c->second, 0, data, [&](const Result<size_t>& r) {
    ++replies;
    got = r;
  });
  EXPECT_EQ(replies, 1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, data.size());
  ASSERT_TRUE((*fs)->Flush(c->second).ok());
  ASSERT_TRUE((*fs)->Release(c->second).ok());
  auto ro = (*fs)->Open(c->first.ino, O_RDONLY);
  ASSERT_TRUE(ro.ok());
  replies = 0;
  (*fs)->Write(*ro, 0, data, [&](const Result<size_t>& r) {
    ++replies;
    got = r;
  });
  EXPECT_EQ(replies, 1);
  EXPECT_EQ(got.status().err(), EBADF);
  std::vector<std::byte> back(data.size());
  auto n = (*fs)->Read(*ro, 0, back);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, data.size());
  EXPECT_TRUE(back == data);
}

}  // namespace
}  // namespace ckptfs
