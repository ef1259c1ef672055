// FileData: the streaming/overlay write state, against a real chunk store.
#include "fs/file_data.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "fs/filesystem.h"
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

}  // namespace
}  // namespace ckptfs
