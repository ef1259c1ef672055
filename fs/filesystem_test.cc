// POSIX semantics of fs/filesystem without a kernel mount.
#include "fs/filesystem.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/xattr.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "base/fault_env.h"
#include "codec/chunker.h"
#include "fs/test_util.h"

namespace ckptfs {
namespace {

using testing::RandomBytes;
using testing::TempDir;

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions io;
    io.chunker = {4096, 16384, 65536};  // small chunks so tests cross many boundaries
    ASSERT_TRUE(Filesystem::Init(dir_.path() + "/store", io).ok());
    Reopen();
  }
  void Reopen(Env* env = nullptr, bool direct_writes = false) {
    fs_.reset();
    StoreOptions so;
    so.env = env;
    so.direct_writes = direct_writes;
    so.cache_bytes = 1 << 20;
    auto r = Filesystem::Open(dir_.path() + "/store", so);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    fs_ = std::move(r).value();
  }
  Ino MakeFile(Ino parent, const std::string& name, const std::vector<std::byte>& data,
               size_t piece = 1 << 20) {
    auto c = fs_->Create(parent, name, 0644, O_WRONLY | O_CREAT, 0, 0);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    for (size_t off = 0; off < data.size(); off += piece) {
      size_t n = std::min(piece, data.size() - off);
      auto w = fs_->Write(c->second, off, ByteSpan(data.data() + off, n));
      EXPECT_TRUE(w.ok()) << w.status().ToString();
    }
    EXPECT_TRUE(fs_->Release(c->second).ok());
    return c->first.ino;
  }
  std::vector<std::byte> ReadAll(Ino ino) {
    auto fh = fs_->Open(ino, O_RDONLY);
    EXPECT_TRUE(fh.ok()) << fh.status().ToString();
    std::vector<std::byte> out;
    std::vector<std::byte> buf(200000);
    for (uint64_t off = 0;;) {
      auto r = fs_->Read(*fh, off, buf);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || *r == 0) break;
      out.insert(out.end(), buf.begin(), buf.begin() + *r);
      off += *r;
    }
    EXPECT_TRUE(fs_->Release(*fh).ok());
    return out;
  }

  TempDir dir_;
  FaultInjectionEnv fault_env_{Env::Default()};  // outlives fs_, which may use it
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(FilesystemTest, WriteReadRoundTripAcrossReopen) {
  auto data = RandomBytes(3 << 20, 1);
  Ino ino = MakeFile(kRootIno, "model", data, 128 * 1024 + 7);
  EXPECT_EQ(ReadAll(ino), data);
  Reopen();
  auto a = fs_->Lookup(kRootIno, "model");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, data.size());
  EXPECT_EQ(ReadAll(a->ino), data);
}

TEST_F(FilesystemTest, IdenticalFilesDeduplicate) {
  auto data = RandomBytes(2 << 20, 2);
  MakeFile(kRootIno, "a", data);
  auto before = fs_->Stats();
  ASSERT_TRUE(before.ok());
  MakeFile(kRootIno, "b", data);
  auto after = fs_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->stored_bytes, before->stored_bytes);
  EXPECT_EQ(after->logical_bytes, 2 * before->logical_bytes);
}

// Chunk boundaries depend only on content: the same bytes streamed in odd
// write sizes (crossing the write path's segment boundaries at different
// points) cut into exactly the chunks the chunker finds over the whole
// buffer, so the second copy stores nothing.
TEST_F(FilesystemTest, StreamingBoundariesIgnoreWriteSizes) {
  auto data = RandomBytes(3 << 20, 7);
  Chunker chunker({4096, 16384, 65536});
  uint64_t expect_chunks = 0;
  for (size_t at = 0; at < data.size();) {
    size_t n = chunker.FindBoundary(std::span(data).subspan(at));
    at += n ? n : data.size() - at;
    expect_chunks++;
  }
  MakeFile(kRootIno, "whole", data, data.size());
  auto one = fs_->Stats();
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->unique_chunks, expect_chunks);
  for (size_t piece : {size_t{1} + 4096, size_t{65537}, size_t{333333}}) {
    MakeFile(kRootIno, "pieces" + std::to_string(piece), data, piece);
    auto more = fs_->Stats();
    ASSERT_TRUE(more.ok());
    EXPECT_EQ(more->unique_chunks, expect_chunks) << "write size " << piece;
    EXPECT_EQ(more->stored_bytes, one->stored_bytes) << "write size " << piece;
  }
}

TEST_F(FilesystemTest, RandomWritesOverwritesAndHoles) {
  auto data = RandomBytes(1 << 20, 3);
  Ino ino = MakeFile(kRootIno, "f", data);
  std::vector<std::byte> expect = data;
  auto fh = fs_->Open(ino, O_RDWR);
  ASSERT_TRUE(fh.ok());
  auto patch = RandomBytes(5000, 4);
  ASSERT_TRUE(fs_->Write(*fh, 300000, patch).ok());
  std::copy(patch.begin(), patch.end(), expect.begin() + 300000);
  // Past EOF: the gap is a hole and reads as zeros.
  ASSERT_TRUE(fs_->Write(*fh, (1 << 20) + 100000, patch).ok());
  expect.resize((1 << 20) + 100000, std::byte{0});
  expect.insert(expect.end(), patch.begin(), patch.end());
  // Readers see the uncommitted state through the same inode.
  std::vector<std::byte> mid(6000);
  auto r = fs_->Read(*fh, 299000, mid);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::equal(mid.begin(), mid.end(), expect.begin() + 299000));
  ASSERT_TRUE(fs_->Release(*fh).ok());
  EXPECT_EQ(ReadAll(ino), expect);
  Reopen();
  EXPECT_EQ(ReadAll(ino), expect);
}

TEST_F(FilesystemTest, AppendHandlesWriteAtEnd) {
  Ino ino = MakeFile(kRootIno, "log.txt", {});
  for (int i = 0; i < 50; ++i) {
    auto fh = fs_->Open(ino, O_WRONLY | O_APPEND);
    ASSERT_TRUE(fh.ok());
    std::string line = "line " + std::to_string(i) + "\n";
    ASSERT_TRUE(fs_->Write(*fh, 0, AsBytes(line)).ok());
    ASSERT_TRUE(fs_->Release(*fh).ok());
  }
  auto all = ReadAll(ino);
  std::string s(reinterpret_cast<const char*>(all.data()), all.size());
  EXPECT_EQ(s.substr(0, 14), "line 0\nline 1\n");
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 50);
}

// Every way to grow a file has the same size limit (EFBIG), so a truncate
// cannot make a file that a write at the same offset would refuse.
TEST_F(FilesystemTest, SizeLimitIsTheSameForTruncateAndWrite) {
  Ino ino = MakeFile(kRootIno, "big", RandomBytes(10, 1));
  InodeAttr v;
  v.size = kMaxFileSize;
  ASSERT_TRUE(fs_->SetAttr(ino, v, kSetSize, std::nullopt).ok());
  v.size = kMaxFileSize + 1;
  EXPECT_EQ(fs_->SetAttr(ino, v, kSetSize, std::nullopt).status().err(), EFBIG);
  v.size = ~uint64_t{0} >> 1;
  EXPECT_EQ(fs_->SetAttr(ino, v, kSetSize, std::nullopt).status().err(), EFBIG);
  auto fh = fs_->Open(ino, O_WRONLY);
  ASSERT_TRUE(fh.ok());
  EXPECT_EQ(fs_->Write(*fh, kMaxFileSize - 1, AsBytes("xy")).status().err(), EFBIG);
  {
    auto w = fs_->Write(*fh, kMaxFileSize - 2, AsBytes("xy"));
    EXPECT_TRUE(w.ok()) << w.status().ToString();
  }
  ASSERT_TRUE(fs_->Release(*fh).ok());
  EXPECT_EQ(fs_->GetAttr(ino)->size, kMaxFileSize);
}

TEST_F(FilesystemTest, TruncateShrinkGrowAndOTrunc) {
  auto data = RandomBytes(500000, 5);
  Ino ino = MakeFile(kRootIno, "t", data);
  InodeAttr v;
  v.size = 1000;
  ASSERT_TRUE(fs_->SetAttr(ino, v, kSetSize, std::nullopt).ok());
  v.size = 3000;
  ASSERT_TRUE(fs_->SetAttr(ino, v, kSetSize, std::nullopt).ok());
  auto got = ReadAll(ino);
  ASSERT_EQ(got.size(), 3000u);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 1000, data.begin()));
  EXPECT_TRUE(std::all_of(got.begin() + 1000, got.end(), [](std::byte b) { return b == std::byte{0}; }));
  auto fh = fs_->Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fh.ok());
  ASSERT_TRUE(fs_->Write(*fh, 0, AsBytes("new")).ok());
  ASSERT_TRUE(fs_->Release(*fh).ok());
  auto n = ReadAll(ino);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(n.data()), n.size()), "new");
}

TEST_F(FilesystemTest, UnlinkWhileOpenKeepsDataUntilRelease) {
  auto data = RandomBytes(100000, 6);
  Ino ino = MakeFile(kRootIno, "gone", data);
  auto fh = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(fh.ok());
  ASSERT_TRUE(fs_->Unlink(kRootIno, "gone").ok());
  EXPECT_TRUE(fs_->Lookup(kRootIno, "gone").status().IsNotFound());
  std::vector<std::byte> buf(data.size());
  auto r = fs_->Read(*fh, 0, buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(buf, data);
  ASSERT_TRUE(fs_->Release(*fh).ok());
  EXPECT_FALSE(fs_->GetAttr(ino).ok());
}

TEST_F(FilesystemTest, RenameReplacesAndIsAtomic) {
  MakeFile(kRootIno, "a", RandomBytes(1000, 7));
  auto b = RandomBytes(2000, 8);
  MakeFile(kRootIno, "b.tmp", b);
  ASSERT_TRUE(fs_->Rename(kRootIno, "b.tmp", kRootIno, "a", 0).ok());
  auto a = fs_->Lookup(kRootIno, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ReadAll(a->ino), b);
  EXPECT_TRUE(fs_->Lookup(kRootIno, "b.tmp").status().IsNotFound());
  auto d = fs_->Mkdir(kRootIno, "d", 0755, 0, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(fs_->Rename(kRootIno, "d", d->ino, "inside", 0).err(), EINVAL);
  EXPECT_EQ(fs_->Rename(kRootIno, "a", kRootIno, "d", 0).err(), EISDIR);
}

TEST_F(FilesystemTest, DirectoriesLinksSymlinksAndNames) {
  auto d = fs_->Mkdir(kRootIno, "dir", 0755, 0, 0);
  ASSERT_TRUE(d.ok());
  Ino f = MakeFile(d->ino, "f", RandomBytes(10, 9));
  ASSERT_TRUE(fs_->Link(f, kRootIno, "hard").ok());
  EXPECT_EQ(fs_->GetAttr(f)->nlink, 2u);
  auto s = fs_->Symlink(kRootIno, "sym", "dir/f", 0, 0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*fs_->ReadLink(s->ino), "dir/f");
  EXPECT_EQ(fs_->Rmdir(kRootIno, "dir").err(), ENOTEMPTY);
  EXPECT_EQ(fs_->Mkdir(kRootIno, std::string(256, 'x'), 0755, 0, 0).status().err(), ENAMETOOLONG);
  EXPECT_EQ(fs_->Mkdir(kRootIno, "dir", 0755, 0, 0).status().err(), EEXIST);
  auto c = fs_->Create(kRootIno, "hard", 0644, O_CREAT | O_EXCL | O_WRONLY, 0, 0);
  EXPECT_EQ(c.status().err(), EEXIST);
  auto list = fs_->ReadDir(kRootIno, "", 100);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].first.name, "dir");
  EXPECT_EQ((*list)[1].first.name, "hard");
  EXPECT_EQ((*list)[2].first.name, "sym");
}

TEST_F(FilesystemTest, CopyFileRangeClonesWithoutNewData) {
  auto data = RandomBytes(1 << 20, 10);
  Ino src = MakeFile(kRootIno, "src", data);
  auto before = fs_->Stats();
  auto in = fs_->Open(src, O_RDONLY);
  auto out = fs_->Create(kRootIno, "dst", 0644, O_CREAT | O_WRONLY, 0, 0);
  ASSERT_TRUE(in.ok() && out.ok());
  auto n = fs_->CopyFileRange(*in, 0, out->second, 0, data.size());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, data.size());
  ASSERT_TRUE(fs_->Release(*in).ok());
  ASSERT_TRUE(fs_->Release(out->second).ok());
  EXPECT_EQ(ReadAll(out->first.ino), data);
  EXPECT_EQ(fs_->Stats()->stored_bytes, before->stored_bytes);
  // Unaligned partial clone.
  auto in2 = fs_->Open(src, O_RDONLY);
  auto out2 = fs_->Create(kRootIno, "part", 0644, O_CREAT | O_WRONLY, 0, 0);
  ASSERT_TRUE(fs_->CopyFileRange(*in2, 12345, out2->second, 7, 300000).ok());
  ASSERT_TRUE(fs_->Release(*in2).ok());
  ASSERT_TRUE(fs_->Release(out2->second).ok());
  auto part = ReadAll(out2->first.ino);
  ASSERT_EQ(part.size(), 300007u);
  EXPECT_TRUE(std::equal(part.begin() + 7, part.end(), data.begin() + 12345));
}

TEST_F(FilesystemTest, XattrsFollowCreateReplaceRules) {
  Ino f = MakeFile(kRootIno, "x", {});
  EXPECT_TRUE(fs_->SetXattr(f, "user.k", "v", XATTR_CREATE).ok());
  EXPECT_EQ(fs_->SetXattr(f, "user.k", "v", XATTR_CREATE).err(), EEXIST);
  EXPECT_EQ(*fs_->GetXattr(f, "user.k"), "v");
  EXPECT_EQ(fs_->RemoveXattr(f, "user.nope").err(), ENODATA);
}

TEST_F(FilesystemTest, GcReclaimsDeletedFiles) {
  for (int i = 0; i < 4; ++i) MakeFile(kRootIno, "f" + std::to_string(i), RandomBytes(2 << 20, 20 + i));
  Reopen();  // seals the pack so gc may compact it
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(fs_->Unlink(kRootIno, "f" + std::to_string(i)).ok());
  auto gc = fs_->Gc(nullptr);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_GT(gc->chunks_deleted, 0u);
  EXPECT_GT(gc->bytes_reclaimed, 4u << 20);
  auto f3 = fs_->Lookup(kRootIno, "f3");
  ASSERT_TRUE(f3.ok());
  EXPECT_EQ(ReadAll(f3->ino), RandomBytes(2 << 20, 23));
  auto fsck = fs_->Fsck(nullptr);
  ASSERT_TRUE(fsck.ok());
  EXPECT_TRUE(fsck->ok());
}

TEST_F(FilesystemTest, CorruptionGivesEioAndNamesTheFile) {
  auto data = RandomBytes(300000, 30);
  MakeFile(kRootIno, "good", RandomBytes(300000, 31));
  MakeFile(kRootIno, "bad", data);
  fs_.reset();
  // Flip one byte in the middle of the last record of the pack.
  std::string pack = dir_.path() + "/store/packs/00000001.pack";
  FILE* f = std::fopen(pack.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, size - 5000, SEEK_SET);
  int c = std::fgetc(f);
  std::fseek(f, size - 5000, SEEK_SET);
  std::fputc(c ^ 0x40, f);
  std::fclose(f);
  Reopen();
  auto fsck = fs_->Fsck(nullptr);
  ASSERT_TRUE(fsck.ok());
  EXPECT_FALSE(fsck->ok());
  ASSERT_EQ(fsck->affected_files.size(), 1u);
  EXPECT_EQ(fsck->affected_files[0], "/bad");
  auto bad = fs_->Lookup(kRootIno, "bad");
  auto fh = fs_->Open(bad->ino, O_RDONLY);
  std::vector<std::byte> buf(data.size());
  auto r = fs_->Read(*fh, 0, buf);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EIO);
  ASSERT_TRUE(fs_->Release(*fh).ok());
}

TEST_F(FilesystemTest, FullDiskGivesEnospcAndKeepsExistingFiles) {
  auto keep = RandomBytes(200000, 40);
  MakeFile(kRootIno, "keep", keep);
  FaultInjectionEnv& env = fault_env_;
  Reopen(&env);
  env.SetSpaceLimit(env.bytes_written() + 300000);
  auto c = fs_->Create(kRootIno, "big", 0644, O_CREAT | O_WRONLY, 0, 0);
  ASSERT_TRUE(c.ok());
  Status last;
  auto chunk = RandomBytes(1 << 20, 41);
  for (int i = 0; i < 8 && last.ok(); ++i) {
    auto w = fs_->Write(c->second, uint64_t(i) << 20, chunk);
    last = w.ok() ? Status::OK() : w.status();
  }
  if (last.ok()) last = fs_->Flush(c->second);
  EXPECT_EQ(last.err(), ENOSPC) << last.ToString();
  (void)fs_->Release(c->second);
  env.ClearSpaceLimit();
  auto k = fs_->Lookup(kRootIno, "keep");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(ReadAll(k->ino), keep);
  // gc cuts the failed write's records off the end of its pack.
  auto gc = fs_->Gc(nullptr);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_GT(gc->bytes_reclaimed, 100000u);
  // The failed write's pack has no row left: it goes whole, not by its tail.
  EXPECT_GE(gc->packs_deleted + gc->pack_tails_cut, 1u);
  // The store keeps working once space is back.
  MakeFile(kRootIno, "after", RandomBytes(50000, 42));
  EXPECT_EQ(ReadAll(fs_->Lookup(kRootIno, "after")->ino), RandomBytes(50000, 42));
  EXPECT_EQ(ReadAll(k->ino), keep);
  auto fsck = fs_->Fsck(nullptr);
  ASSERT_TRUE(fsck.ok());
  EXPECT_TRUE(fsck->ok());
}

// A stat that overlaps the commit of a close must see the size the file had
// all along: it once read the committed size (0) before the commit and the
// in-memory size after it (clean by then), and returned 0, which the kernel
// then cached for the attribute timeout.
TEST_F(FilesystemTest, GetAttrDuringCommitSeesTheWrittenSize) {
  const auto data = RandomBytes(3 << 20, 50);
  int wrong = 0;
  for (int round = 0; round < 40 && !wrong; ++round) {
    auto c = fs_->Create(kRootIno, "f" + std::to_string(round), 0644, O_CREAT | O_WRONLY, 0, 0);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(fs_->Write(c->second, 0, data).ok());
    // From here to the end of the round the file's size is data.size(),
    // first in memory, then committed.
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::vector<std::thread> stats;
    for (int t = 0; t < 2; ++t)
      stats.emplace_back([&] {
        while (!stop) {
          auto a = fs_->GetAttr(c->first.ino);
          if (!a.ok() || a->size != data.size()) ++bad;
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE(fs_->Flush(c->second).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop = true;
    for (auto& t : stats) t.join();
    ASSERT_TRUE(fs_->Release(c->second).ok());
    wrong += bad;
  }
  EXPECT_EQ(wrong, 0) << "stats that saw another size than the file had";
}

// On a full disk, deleting files and running gc must make room: packs with
// nothing live are deleted first, which needs no space, and a pack that
// cannot be compacted for lack of room has its dead records' blocks freed
// in place, instead of failing the whole gc.
TEST_F(FilesystemTest, GcOnAFullDiskDeletesDeadPacksBeforeCompacting) {
  {
    const std::string cfg = dir_.path() + "/store/ckptfs.json";
    auto text = Env::Default()->ReadFileToString(cfg);
    ASSERT_TRUE(text.ok());
    auto j = nlohmann::json::parse(*text);
    j["pack_target_size"] = 256 << 10;  // many small packs
    std::ofstream(cfg) << j.dump(2);
  }
  FaultInjectionEnv& env = fault_env_;
  Reopen(&env);
  // keep and junk_a share the first packs (a compaction candidate once
  // junk_a is gone); junk_b fills packs of its own.
  auto keep = RandomBytes(100000, 60);
  Ino k = MakeFile(kRootIno, "keep", keep);
  MakeFile(kRootIno, "junk_a", RandomBytes(300000, 61));
  MakeFile(kRootIno, "junk_b", RandomBytes(1500000, 62));
  ASSERT_TRUE(fs_->Unlink(kRootIno, "junk_a").ok());
  ASSERT_TRUE(fs_->Unlink(kRootIno, "junk_b").ok());
  env.SetSpaceLimit(env.bytes_written() + 4096);  // the disk is full
  auto gc = fs_->Gc(nullptr);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_GE(gc->packs_deleted, 3u);
  EXPECT_GT(gc->bytes_reclaimed, 1000000u);
  // The shared pack could not be copied: its dead records' blocks were
  // freed in place, and keep's records, between the holes, read back.
  EXPECT_GE(gc->packs_freed_in_place, 1u);
  EXPECT_EQ(gc->packs_not_compacted, 0u);
  Reopen(&env);  // a cold cache: keep is read from the punched pack
  k = fs_->Lookup(kRootIno, "keep")->ino;
  EXPECT_EQ(ReadAll(k), keep);
  auto punched = fs_->Fsck(nullptr);
  ASSERT_TRUE(punched.ok());
  EXPECT_TRUE(punched->ok());
  // stats (and df) count what the packs occupy, holes excluded.
  uint64_t allocated = 0, apparent = 0;
  auto packs = Env::Default()->GetChildren(dir_.path() + "/store/packs");
  ASSERT_TRUE(packs.ok());
  for (const auto& p : *packs) {
    struct stat st;
    ASSERT_EQ(::stat((dir_.path() + "/store/packs/" + p).c_str(), &st), 0);
    allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    apparent += static_cast<uint64_t>(st.st_size);
  }
  ASSERT_LT(allocated, apparent) << "the test needs a pack with holes";
  auto stats = fs_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pack_bytes, allocated);
  // With room again, the next gc compacts what was left.
  env.ClearSpaceLimit();
  auto again = fs_->Gc(nullptr);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_GE(again->packs_compacted, 1u);
  EXPECT_EQ(again->packs_not_compacted, 0u);
  EXPECT_EQ(ReadAll(k), keep);
  auto fsck = fs_->Fsck(nullptr);
  ASSERT_TRUE(fsck.ok());
  EXPECT_TRUE(fsck->ok());
}

// Kernel cache modes (FilesystemImpl::Acquire): write-only handles are
// direct, handles that may read are cached (a shared mmap of a direct handle
// fails); once an inode has a direct handle no open of it keeps the kernel's
// cache; and when the last direct handle of an inode that also had cached
// handles closes, the kernel's pages of it are dropped.
TEST_F(FilesystemTest, CacheModesOfDirectWritersAndTheirReaders) {
  Reopen(nullptr, /*direct_writes=*/true);
  std::vector<Ino> invalidated;
  fs_->SetCacheInvalidator([&](Ino ino) { invalidated.push_back(ino); });
  auto data = RandomBytes(100000, 7);
  const Ino ino = MakeFile(kRootIno, "f", data);  // write-only create: direct
  auto mode = [&](FileHandle fh) { return fs_->GetCacheMode(fh); };
  auto open = [&](int flags) {
    auto fh = fs_->Open(ino, flags);
    EXPECT_TRUE(fh.ok()) << fh.status().ToString();
    return fh.ok() ? *fh : FileHandle{0};
  };
  auto release = [&](FileHandle fh) { ASSERT_TRUE(fs_->Release(fh).ok()); };
  EXPECT_TRUE(invalidated.empty()) << "no cached handle shared the file with its writer";

  // Read, close, read again: the second open may keep what the first cached.
  FileHandle r1 = open(O_RDONLY);
  EXPECT_FALSE(mode(r1).direct_io);
  EXPECT_FALSE(mode(r1).keep_cache) << "the file was written directly: nothing cached is valid";
  release(r1);
  FileHandle r2 = open(O_RDONLY);
  EXPECT_TRUE(mode(r2).keep_cache);
  // A writer that joins a cached reader is direct all the same; the reader's
  // mapped pages are dropped when it closes.
  FileHandle w1 = open(O_WRONLY);
  EXPECT_TRUE(mode(w1).direct_io);
  EXPECT_FALSE(mode(w1).keep_cache);
  ASSERT_TRUE(fs_->Write(w1, 0, ByteSpan(data.data() + 1, 10)).ok());
  release(w1);
  EXPECT_EQ(invalidated, std::vector<Ino>{ino});
  release(r2);
  FileHandle r3 = open(O_RDONLY);
  EXPECT_FALSE(mode(r3).keep_cache) << "written directly since the last cached open";
  release(r3);

  // Several direct writers and a reader that joins them: the pages are
  // dropped once, when the last writer closes.
  invalidated.clear();
  FileHandle w = open(O_WRONLY);
  FileHandle w_joined = open(O_WRONLY | O_APPEND);
  EXPECT_TRUE(mode(w_joined).direct_io);
  FileHandle r4 = open(O_RDONLY);
  EXPECT_FALSE(mode(r4).direct_io);
  EXPECT_FALSE(mode(r4).keep_cache);
  FileHandle w_late = open(O_WRONLY);
  EXPECT_TRUE(mode(w_late).direct_io);
  release(w_late);
  release(w_joined);
  EXPECT_TRUE(invalidated.empty()) << "a direct handle is still open";
  release(w);
  EXPECT_EQ(invalidated, std::vector<Ino>{ino});
  release(r4);

  // Read-write opens are cached (they may be mmapped), and without the
  // option every open is.
  FileHandle rw = open(O_RDWR);
  EXPECT_FALSE(mode(rw).direct_io);
  release(rw);
  Reopen(nullptr, /*direct_writes=*/false);
  FileHandle w3 = open(O_WRONLY);
  EXPECT_FALSE(fs_->GetCacheMode(w3).direct_io);
  release(w3);
}

// The kernel sends release after close() has returned, so an open, stat or
// truncate may come while the last release is still committing. It must
// join the file being committed, not start from the rows that commit is
// about to replace (it read the old size and extents: a stat said one size
// and a read returned fewer bytes).
TEST_F(FilesystemTest, OpenDuringTheLastReleaseSeesWhatItCommits) {
  Reopen(&fault_env_);
  auto first = RandomBytes(100000, 11), more = RandomBytes(300000, 12);
  const Ino ino = MakeFile(kRootIno, "f", first);
  auto w = fs_->Open(ino, O_WRONLY);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(fs_->Write(*w, first.size(), more).ok());

  std::mutex mu;
  std::condition_variable cv;
  bool in_sync = false, go = false;
  fault_env_.SetFlushHook([&] {
    std::unique_lock<std::mutex> l(mu);
    if (in_sync) return;  // hold the first flush only
    in_sync = true;
    cv.notify_all();
    cv.wait(l, [&] { return go; });
  });
  std::thread releaser([&] { EXPECT_TRUE(fs_->Release(*w).ok()); });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_sync; });
  }
  // The release is inside its commit, making the new chunks durable.
  auto r = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  {
    std::lock_guard<std::mutex> l(mu);
    go = true;
  }
  cv.notify_all();
  releaser.join();
  fault_env_.SetFlushHook(nullptr);
  std::vector<std::byte> buf(first.size() + more.size() + 10);
  auto n = fs_->Read(*r, 0, buf);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, first.size() + more.size());
  auto a = fs_->GetAttr(ino);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, first.size() + more.size());
  ASSERT_TRUE(fs_->Release(*r).ok());
  std::vector<std::byte> want = first;
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(ReadAll(ino), want);
}

// A truncate by path (no handle) used to write the size straight to the
// rows. An open racing it could build its node from the rows just before,
// serve the old size, and keep it at its next commit: the truncate was lost.
TEST_F(FilesystemTest, TruncateByPathRacingOpensIsNeverLost) {
  const Ino ino = MakeFile(kRootIno, "t", RandomBytes(65536, 21));
  std::atomic<bool> stop{false};
  std::atomic<int> open_errors{0};
  auto opener = [&] {
    while (!stop) {
      auto fh = fs_->Open(ino, O_RDONLY);
      if (!fh.ok()) {
        ++open_errors;
        continue;
      }
      std::vector<std::byte> one(1);
      (void)fs_->Read(*fh, 0, one);
      if (!fs_->Release(*fh).ok()) ++open_errors;
    }
  };
  std::thread a(opener), b(opener);
  int wrong = 0;
  for (int i = 0; i < 3000 && wrong == 0; ++i) {
    InodeAttr v;
    v.size = 65536;
    ASSERT_TRUE(fs_->SetAttr(ino, v, kSetSize, std::nullopt).ok());
    v.size = 131072;
    ASSERT_TRUE(fs_->SetAttr(ino, v, kSetSize, std::nullopt).ok());
    auto attr = fs_->GetAttr(ino);
    ASSERT_TRUE(attr.ok());
    if (attr->size != 131072) ++wrong;
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(wrong, 0) << "a truncate to 131072 was not seen";
  EXPECT_EQ(open_errors, 0);
  Reopen();
  auto after = fs_->GetAttr(ino);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size, 131072u);
  EXPECT_EQ(ReadAll(ino).size(), 131072u);
}

TEST_F(FilesystemTest, OpenRefusesNonStoresAndLockedStores) {
  StoreOptions so;
  auto second = Filesystem::Open(dir_.path() + "/store", so);
  EXPECT_EQ(second.status().code(), Code::kBusy);
  auto missing = Filesystem::Open(dir_.path() + "/nope", so);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  InitOptions io;
  EXPECT_FALSE(Filesystem::Init(dir_.path() + "/store", io).ok());
}

}  // namespace
}  // namespace ckptfs
