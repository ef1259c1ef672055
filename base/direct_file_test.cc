#include "base/direct_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/fault_env.h"

namespace ckptfs {
namespace {

class DirectFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/ckptfs-direct-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/f";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  // What another descriptor reads: the whole file.
  std::vector<std::byte> ReadBack() const {
    std::vector<std::byte> out;
    int fd = ::open(path_.c_str(), O_RDONLY);
    if (fd < 0) return out;
    std::byte buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.insert(out.end(), buf, buf + n);
    ::close(fd);
    return out;
  }
  uint64_t FileSize() const {
    struct stat st {};
    return ::stat(path_.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : ~0ull;
  }

  std::string dir_, path_;
};

std::vector<std::byte> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// Every prefix made visible by Flush() reads back exactly, including across
// the rewrite of a padded partial block and across full-buffer hand-offs.
TEST_F(DirectFileTest, FlushedPrefixReadsBackAtEveryStep) {
  auto f = Env::Default()->NewDirectWritableFile(path_).value();
  std::mt19937 rng(7);
  std::vector<std::byte> ref;
  const size_t sizes[] = {1, 100, 4095, 4096, 4097, 65536, 1u << 20, 3u << 20, 5000000};
  for (int step = 0; step < 40; ++step) {
    auto piece = Random(sizes[rng() % std::size(sizes)], step);
    ASSERT_TRUE(f->Append(piece).ok());
    ref.insert(ref.end(), piece.begin(), piece.end());
    ASSERT_EQ(f->Size(), ref.size());
    if (rng() % 3 == 0) {
      ASSERT_TRUE(f->Flush().ok());
      auto got = ReadBack();
      ASSERT_GE(got.size(), ref.size()) << step;  // may end in zero padding
      ASSERT_TRUE(std::equal(ref.begin(), ref.end(), got.begin())) << step;
      for (size_t i = ref.size(); i < got.size(); ++i) ASSERT_EQ(got[i], std::byte{0});
    }
  }
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_EQ(FileSize(), ref.size());  // Sync cuts the padding
  EXPECT_EQ(ReadBack(), ref);
  // Appending after a Sync rewrites the cut partial block.
  auto more = Random(12345, 99);
  ASSERT_TRUE(f->Append(more).ok());
  ref.insert(ref.end(), more.begin(), more.end());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(FileSize(), ref.size());
  EXPECT_EQ(ReadBack(), ref);
}

TEST_F(DirectFileTest, CloseWithoutSyncWritesEverythingExactly) {
  std::vector<std::byte> ref = Random((9u << 20) + 17, 3);
  {
    auto f = Env::Default()->NewDirectWritableFile(path_).value();
    for (size_t off = 0; off < ref.size(); off += 1000003)
      ASSERT_TRUE(
          f->Append(ByteSpan(ref).subspan(off, std::min<size_t>(1000003, ref.size() - off))).ok());
  }  // destructor closes
  EXPECT_EQ(FileSize(), ref.size());
  EXPECT_EQ(ReadBack(), ref);
}

TEST_F(DirectFileTest, AppendsAreBufferedUntilFlush) {
  auto f = Env::Default()->NewDirectWritableFile(path_).value();
  ASSERT_TRUE(f->Append(Random(100, 1)).ok());
  // Direct files hold small appends in memory; a buffered fallback (a
  // filesystem without O_DIRECT) shows them at once. Either way Flush()
  // makes them visible.
  ASSERT_TRUE(f->Flush().ok());
  auto got = ReadBack();
  ASSERT_GE(got.size(), 100u);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 100, Random(100, 1).begin()));
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_EQ(FileSize(), 100u);
}

TEST_F(DirectFileTest, ErrorsAreStickyThroughTheFaultEnv) {
  FaultInjectionEnv env(Env::Default());
  auto f = env.NewDirectWritableFile(path_).value();
  ASSERT_TRUE(f->Append(Random(5000, 1)).ok());
  env.SetSpaceLimit(env.bytes_written() + 100);
  EXPECT_TRUE(f->Append(Random(5000, 2)).IsNoSpace());
  env.ClearSpaceLimit();
  EXPECT_TRUE(f->Append(Random(10, 3)).IsNoSpace());
  EXPECT_TRUE(f->Flush().IsNoSpace());
  EXPECT_TRUE(f->Sync().IsNoSpace());
}

TEST_F(DirectFileTest, CreateFailsOnAMissingDirectory) {
  auto f = Env::Default()->NewDirectWritableFile(dir_ + "/no/such/dir/f");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().err(), ENOENT);
}

// Direct reads at every alignment class return exactly the file's bytes:
// aligned into an aligned buffer (no bounce), unaligned offsets and lengths,
// reads that cross or start past EOF, and a file whose size is not a block
// multiple (the last direct read is short).
TEST_F(DirectFileTest, DirectReadsMatchTheFileAtAnyOffset) {
  const auto data = Random(3 * 4096 + 1234, 11);
  {
    auto w = Env::Default()->NewWritableFile(path_, /*truncate=*/true).value();
    ASSERT_TRUE(w->Append(data).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  auto f = Env::Default()->NewDirectRandomAccessFile(path_).value();
  EXPECT_EQ(f->Size().value(), data.size());
  AlignedBuffer buf;
  ASSERT_TRUE(buf.Reserve(5 * 4096));
  struct Case {
    uint64_t off;
    size_t len;
  };
  for (Case c : {Case{0, 4096}, Case{4096, 8192}, Case{0, 5 * 4096}, Case{1, 10},
                 Case{4095, 2}, Case{100, 3 * 4096}, Case{3 * 4096, 4096},
                 Case{data.size() - 5, 100}, Case{data.size(), 10}, Case{data.size() + 9000, 4096}}) {
    size_t got = 12345;
    ASSERT_TRUE(f->ReadAt(c.off, MutableByteSpan(buf.data(), c.len), &got).ok())
        << c.off << "+" << c.len;
    const size_t want = c.off >= data.size() ? 0 : std::min<size_t>(c.len, data.size() - c.off);
    ASSERT_EQ(got, want) << c.off << "+" << c.len;
    EXPECT_EQ(0, std::memcmp(buf.data(), data.data() + std::min<uint64_t>(c.off, data.size()), got))
        << c.off << "+" << c.len;
  }
  // An unaligned destination takes the bounce path but returns the same bytes.
  std::vector<std::byte> odd(4097);
  size_t got = 0;
  ASSERT_TRUE(f->ReadAt(4096, MutableByteSpan(odd.data() + 1, 4096), &got).ok());
  ASSERT_EQ(got, 4096u);
  EXPECT_EQ(0, std::memcmp(odd.data() + 1, data.data() + 4096, 4096));
}

// A direct reader sees what a direct writer has flushed, padding excluded
// from the logical bytes the caller asked for.
TEST_F(DirectFileTest, DirectReaderSeesFlushedDirectWrites) {
  auto w = Env::Default()->NewDirectWritableFile(path_).value();
  const auto a = Random(6000, 21);
  ASSERT_TRUE(w->Append(a).ok());
  ASSERT_TRUE(w->Flush().ok());
  auto r = Env::Default()->NewDirectRandomAccessFile(path_).value();
  std::vector<std::byte> out(a.size());
  size_t got = 0;
  ASSERT_TRUE(r->ReadAt(0, out, &got).ok());
  ASSERT_GE(got, a.size());
  EXPECT_EQ(out, a);
  const auto b = Random(3000, 22);
  ASSERT_TRUE(w->Append(b).ok());
  ASSERT_TRUE(w->Flush().ok());
  std::vector<std::byte> tail(b.size());
  ASSERT_TRUE(r->ReadAt(a.size(), tail, &got).ok());
  EXPECT_EQ(tail, b);
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(r->Size().value(), a.size() + b.size());
}

TEST_F(DirectFileTest, DirectOpenOfAMissingFileIsNotFound) {
  auto f = Env::Default()->NewDirectRandomAccessFile(dir_ + "/missing");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().err(), ENOENT);
}

}  // namespace
}  // namespace ckptfs
