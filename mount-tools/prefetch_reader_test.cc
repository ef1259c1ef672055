// PrefetchReader: every byte in order, at any file size relative to the
// piece size, and read errors surfaced in order.
#include "mount-tools/prefetch_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/unique_fd.h"
#include "fs/test_util.h"

namespace ckptfs::cli {
namespace {

std::vector<std::byte> ReadAll(PrefetchReader& r, Status* error) {
  std::vector<std::byte> out;
  for (;;) {
    auto piece = r.Next();
    if (!piece.ok()) {
      *error = piece.status();
      return out;
    }
    if (piece->empty()) return out;
    out.insert(out.end(), piece->begin(), piece->end());
  }
}

TEST(PrefetchReaderTest, ReturnsEveryByteInOrder) {
  testing::TempDir dir;
  const size_t piece = 4096;
  for (size_t size : {size_t{0}, size_t{1}, piece - 1, piece, piece + 1, 10 * piece, 37 * piece + 5}) {
    auto data = testing::RandomBytes(size, size);
    const std::string path = dir.path() + "/f" + std::to_string(size);
    {
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
      ASSERT_TRUE(fd.valid());
      ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(size));
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY));
    ASSERT_TRUE(fd.valid());
    PrefetchReader r(fd.get(), path, piece, 3);
    Status error;
    EXPECT_EQ(ReadAll(r, &error), data) << "size " << size;
    EXPECT_TRUE(error.ok()) << error.ToString();
    auto again = r.Next();  // after the end: stays at the end, never blocks
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->empty());
  }
}

TEST(PrefetchReaderTest, ReadErrorIsReturnedAndNamesTheFile) {
  testing::TempDir dir;
  UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(fd.valid());
  PrefetchReader r(fd.get(), dir.path(), 4096, 2);
  Status error;
  EXPECT_TRUE(ReadAll(r, &error).empty());
  EXPECT_EQ(error.err(), EISDIR);
  EXPECT_NE(error.ToString().find(dir.path()), std::string::npos) << error.ToString();
}

TEST(PrefetchReaderTest, StoppingEarlyJoinsTheReader) {
  testing::TempDir dir;
  auto data = testing::RandomBytes(1 << 20, 3);
  const std::string path = dir.path() + "/big";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY));
  {
    PrefetchReader r(fd.get(), path, 4096, 3);
    auto first = r.Next();
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(std::equal(first->begin(), first->end(), data.begin()));
  }  // destroyed with most of the file unread: must not hang
}

}  // namespace
}  // namespace ckptfs::cli
