// Tests of the SQLite MetadataStore (fs/metadata.h): namespace semantics,
// file data, chunks/packs, xattrs, stats, open-time checks, concurrency and
// crash consistency (SIGKILL of a writer process).
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "fs/metadata.h"
#include "fs/sqlite_db.h"

namespace ckptfs {
namespace {

namespace fsys = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kFile = S_IFREG | 0644;
constexpr uint32_t kDir = S_IFDIR | 0755;

InodeAttr Attr(uint32_t mode, int64_t t = 1000) {
  InodeAttr a;
  a.mode = mode;
  a.uid = 7;
  a.gid = 8;
  a.atime_ns = a.mtime_ns = a.ctime_ns = t;
  return a;
}

ChunkId Id(uint64_t n) {
  ChunkId id;
  for (int i = 0; i < 8; ++i) id.bytes[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  id.bytes[0] = 0xc0;  // never the all-zero id
  return id;
}

ChunkLocation Loc(uint64_t n, uint32_t pack, uint32_t raw = 1000, uint32_t stored = 500) {
  return ChunkLocation{Id(n), pack, n * 100, raw, stored, Codec::kZstd};
}

// The value of a Result, or a test failure and T{}.
template <typename T>
T Val(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return T{};
  }
  return std::move(r).value();
}

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Runs one integer query against the db file with a separate raw connection.
int64_t RawInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int64(st, 0);
  } else {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

void RawExec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// The referential invariants of fs/metadata.h, checked on the raw tables.
void CheckInvariants(const std::string& path) {
  const char* kChecks[] = {
      // 1. every dentry points to an existing inode
      "SELECT count(*) FROM dentries d LEFT JOIN inodes i ON i.ino = d.ino WHERE i.ino IS NULL",
      // 2. non-directories: nlink == number of dentries
      "SELECT count(*) FROM inodes i WHERE (i.mode & 61440) != 16384 AND "
      "i.nlink != (SELECT count(*) FROM dentries d WHERE d.ino = i.ino)",
      // 2'. directories: 2 + subdirs while linked (root always), 0 when removed
      "SELECT count(*) FROM inodes i WHERE (i.mode & 61440) = 16384 AND i.nlink != "
      "CASE WHEN i.ino = 1 OR EXISTS (SELECT 1 FROM dentries d WHERE d.ino = i.ino) THEN 2 + "
      "(SELECT count(*) FROM dentries d JOIN inodes c ON c.ino = d.ino WHERE d.parent = i.ino "
      "AND (c.mode & 61440) = 16384) ELSE 0 END",
      // a directory has at most one name
      "SELECT count(*) FROM (SELECT d.ino FROM dentries d JOIN inodes i ON i.ino = d.ino "
      "WHERE (i.mode & 61440) = 16384 GROUP BY d.ino HAVING count(*) > 1)",
      // every dentry's parent is an existing directory
      "SELECT count(*) FROM dentries d LEFT JOIN inodes p ON p.ino = d.parent "
      "WHERE p.ino IS NULL OR (p.mode & 61440) != 16384",
      // 3. every extent references an existing chunk
      "SELECT count(*) FROM extents e LEFT JOIN chunks c ON c.id = e.chunk_id WHERE c.id IS NULL",
  };
  for (const char* sql : kChecks) EXPECT_EQ(RawInt(path, sql), 0) << sql;
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM pragma_integrity_check WHERE "
                         "integrity_check != 'ok'"),
            0);
}

class MetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ckptfs-meta-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/meta.db";
    Reopen(/*create=*/true);
  }
  void TearDown() override {
    store_.reset();
    fsys::remove_all(dir_);
  }

  void Reopen(bool create = false) {
    store_.reset();
    SqliteMetadataOptions o;
    o.create_if_missing = create;
    o.root_uid = 11;
    o.root_gid = 12;
    auto r = OpenSqliteMetadata(path_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r).value();
  }

  Ino Make(Ino parent, const std::string& name, uint32_t mode = kFile, int64_t t = 1000) {
    auto r = store_->Create(parent, name, Attr(mode, t));
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    return r.ok() ? r->ino : 0;
  }
  uint32_t Nlink(Ino ino) {
    auto r = store_->GetAttr(ino);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->nlink : 0;
  }
  // Commits `n` extents of `len` bytes, each in its own new chunk.
  void CommitChunks(Ino ino, uint64_t first_chunk, int n, uint32_t len = 1000) {
    std::vector<Extent> ext;
    std::vector<ChunkLocation> chunks;
    for (int i = 0; i < n; ++i) {
      chunks.push_back(Loc(first_chunk + i, 1, len, len / 2));
      ext.push_back(Extent{uint64_t(i) * len, len, Id(first_chunk + i), 0});
    }
    Status s = store_->CommitFile(ino, ext, uint64_t(n) * len, 2000, chunks);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::string dir_, path_;
  std::unique_ptr<MetadataStore> store_;
};

// ---------------------------------------------------------------- open

TEST_F(MetadataTest, CreateMakesRootAndIdentifiesFile) {
  auto root = store_->GetAttr(kRootIno);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->mode, uint32_t(S_IFDIR | 0755));
  EXPECT_EQ(root->nlink, 2u);
  EXPECT_EQ(root->uid, 11u);
  EXPECT_EQ(root->gid, 12u);
  EXPECT_GT(root->mtime_ns, 0);
  EXPECT_EQ(RawInt(path_, "PRAGMA application_id"), 0x636B7074);
  EXPECT_EQ(RawInt(path_, "PRAGMA user_version"), 1);
  EXPECT_EQ(RawInt(path_, "SELECT value FROM meta WHERE key = 'schema_version'"), 1);
  auto parent = store_->GetParent(kRootIno);
  ASSERT_TRUE(parent.ok());
  EXPECT_EQ(*parent, kRootIno);
  EXPECT_EQ(Val(store_->PathOf(kRootIno)), "/");
}

TEST_F(MetadataTest, MissingFileIsNotFound) {
  auto r = OpenSqliteMetadata(dir_ + "/nope.db", {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
}

TEST_F(MetadataTest, GarbageFileIsCorruption) {
  store_.reset();
  std::string garbage = dir_ + "/garbage.db";
  std::mt19937 rng(1);
  std::string bytes(16384, 0);
  for (char& c : bytes) c = static_cast<char>(rng());
  std::ofstream(garbage, std::ios::binary) << bytes;
  auto r = OpenSqliteMetadata(garbage, {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find(garbage + ": not a ckptfs metadata database"),
            std::string::npos)
      << r.status().message();

  // An empty file is an empty database: not ours unless creating.
  std::string empty = dir_ + "/empty.db";
  std::ofstream(empty).close();
  r = OpenSqliteMetadata(empty, {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();

  // Another application's SQLite database.
  std::string other = dir_ + "/other.db";
  RawExec(other, "CREATE TABLE t(x); PRAGMA application_id = 42;");
  r = OpenSqliteMetadata(other, {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_NE(r.status().message().find("application_id"), std::string::npos);
  SqliteMetadataOptions create;
  create.create_if_missing = true;
  r = OpenSqliteMetadata(other, create);  // never overwrites a foreign database
  EXPECT_TRUE(r.status().IsCorruption());
}

TEST_F(MetadataTest, TruncatedFileIsCorruptionNeverACrash) {
  Ino d = Make(kRootIno, "d", kDir);
  for (int i = 0; i < 300; ++i) {
    Ino f = Make(d, "file-with-a-long-name-" + std::to_string(i));
    CommitChunks(f, uint64_t(i) * 10, 10);
  }
  store_.reset();  // the last close checkpoints and removes the WAL
  const auto full = fsys::file_size(path_);
  ASSERT_GT(full, 65536u);
  for (uint64_t size : {uint64_t{10}, uint64_t{100}, uint64_t{4096}, full / 2, full - 4096}) {
    std::string copy = dir_ + "/trunc.db";
    fsys::copy_file(path_, copy, fsys::copy_options::overwrite_existing);
    fsys::resize_file(copy, size);
    auto r = OpenSqliteMetadata(copy, {});
    if (r.ok()) {
      // Whatever opened must report damage on a full read, not crash.
      auto stats = (*r)->Stats();
      auto chunks = (*r)->ListChunks(ChunkId{}, 1u << 20);
      EXPECT_TRUE(!stats.ok() || !chunks.ok()) << "size " << size;
    } else {
      EXPECT_TRUE(r.status().IsCorruption()) << size << ": " << r.status().ToString();
      EXPECT_NE(r.status().message().find(copy), std::string::npos) << r.status().message();
    }
  }
}

TEST_F(MetadataTest, NewerSchemaIsVersionError) {
  store_.reset();
  RawExec(path_, "PRAGMA user_version = 99");
  auto r = OpenSqliteMetadata(path_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kVersion) << r.status().ToString();
  EXPECT_NE(r.status().message().find(path_), std::string::npos);
}

TEST_F(MetadataTest, ReadOnlyOpenRefusesWrites) {
  Ino f = Make(kRootIno, "f");
  store_.reset();
  SqliteMetadataOptions o;
  o.read_only = true;
  auto r = OpenSqliteMetadata(path_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto& ro = *r;
  EXPECT_EQ(Val(ro->Lookup(kRootIno, "f")), f);
  auto c = ro->Create(kRootIno, "g", Attr(kFile));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().err(), EROFS);
  EXPECT_TRUE(ro->Sync().ok());
}

TEST(SqliteStatusTest, MapsResultCodes) {
  Status s = sqlite::SqliteStatus(SQLITE_FULL, "meta.db", "database or disk is full", "CommitFile");
  EXPECT_TRUE(s.IsNoSpace());
  EXPECT_EQ(s.message(), "meta.db: database or disk is full (CommitFile)");
  EXPECT_TRUE(sqlite::SqliteStatus(SQLITE_CORRUPT, "m", "x", "op").IsCorruption());
  EXPECT_TRUE(sqlite::SqliteStatus(SQLITE_NOTADB, "m", "x", "op").IsCorruption());
  EXPECT_TRUE(sqlite::SqliteStatus(SQLITE_IOERR_FSYNC, "m", "x", "op").err() == EIO);
  EXPECT_EQ(sqlite::SqliteStatus(SQLITE_BUSY, "m", "x", "op").code(), Code::kBusy);
}

// ---------------------------------------------------------------- namespace

TEST_F(MetadataTest, CreateLookupAndDirLinkCounts) {
  Ino f = Make(kRootIno, "f");
  auto dup = store_->Create(kRootIno, "f", Attr(kFile));
  EXPECT_EQ(dup.status().code(), Code::kExists);
  Ino d = Make(kRootIno, "d", kDir);
  EXPECT_EQ(Nlink(d), 2u);
  EXPECT_EQ(Nlink(kRootIno), 3u);
  Make(d, "sub", kDir);
  EXPECT_EQ(Nlink(d), 3u);
  EXPECT_EQ(Nlink(kRootIno), 3u);
  EXPECT_EQ(Nlink(f), 1u);
  EXPECT_EQ(Val(store_->Lookup(kRootIno, "d")), d);
  EXPECT_TRUE(store_->Lookup(kRootIno, "nope").status().IsNotFound());
  // Under a file: ENOTDIR; under a missing inode: NotFound.
  EXPECT_EQ(store_->Create(f, "x", Attr(kFile)).status().err(), ENOTDIR);
  EXPECT_TRUE(store_->Create(999, "x", Attr(kFile)).status().IsNotFound());
  EXPECT_EQ(store_->Create(kRootIno, "a/b", Attr(kFile)).status().code(), Code::kInvalidArgument);
  // Parent's mtime follows the entry change.
  EXPECT_EQ(store_->GetAttr(d)->mtime_ns, 1000);
  Make(d, "late", kFile, 5000);
  EXPECT_EQ(store_->GetAttr(d)->mtime_ns, 5000);

  auto l = store_->Create(kRootIno, "link", Attr(S_IFLNK | 0777), "../target/path");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size, 14u);
  EXPECT_EQ(Val(store_->ReadLink(l->ino)), "../target/path");
  EXPECT_EQ(store_->ReadLink(f).status().err(), EINVAL);
  EXPECT_EQ(Val(store_->GetParent(d)), kRootIno);
  EXPECT_EQ(store_->GetParent(f).status().err(), ENOTDIR);
  CheckInvariants(path_);
}

TEST_F(MetadataTest, ReadDirIsSortedAndPages) {
  Ino d = Make(kRootIno, "d", kDir);
  std::vector<std::string> names;
  for (int i = 0; i < 57; ++i) names.push_back("n" + std::to_string(i * 7919 % 1000));
  std::vector<std::string> shuffled = names;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(3));
  for (const auto& n : shuffled) Make(d, n, n.size() % 2 ? kFile : kDir);
  std::sort(names.begin(), names.end());
  std::vector<std::string> got;
  std::string after;
  for (;;) {
    auto page = store_->ReadDir(d, after, 7);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 7u);
    for (const auto& e : *page) {
      got.push_back(e.name);
      EXPECT_EQ(S_ISDIR(e.mode), e.name.size() % 2 == 0);
      EXPECT_EQ(e.ino, Val(store_->Lookup(d, e.name)));
    }
    after = page->back().name;
  }
  EXPECT_EQ(got, names);
  EXPECT_FALSE(Val(store_->DirIsEmpty(d)));
  EXPECT_TRUE(Val(store_->DirIsEmpty(Make(kRootIno, "e", kDir))));
  EXPECT_EQ(store_->ReadDir(Make(kRootIno, "f"), "", 10).status().err(), ENOTDIR);
}

TEST_F(MetadataTest, LinkUnlinkAndOrphans) {
  Ino d = Make(kRootIno, "d", kDir);
  Ino f = Make(kRootIno, "f");
  auto l = store_->Link(f, d, "f2", 3000);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->nlink, 2u);
  EXPECT_EQ(l->ctime_ns, 3000);
  EXPECT_EQ(store_->Link(d, kRootIno, "d2", 1).status().err(), EPERM);
  EXPECT_EQ(store_->Link(f, d, "f2", 1).status().code(), Code::kExists);

  auto u = store_->Unlink(kRootIno, "f", 4000);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->nlink, 1u);
  EXPECT_EQ(Val(store_->PathOf(f)), "/d/f2");
  EXPECT_TRUE(store_->Unlink(kRootIno, "f", 1).status().IsNotFound());
  EXPECT_EQ(store_->Unlink(kRootIno, "d", 1).status().err(), ENOTEMPTY);
  EXPECT_EQ(store_->DeleteInode(f).err(), EBUSY);
  u = store_->Unlink(d, "f2", 5000);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->nlink, 0u);
  // Kept at nlink 0 until the caller deletes it (it may be open).
  EXPECT_TRUE(store_->GetAttr(f).ok());
  EXPECT_EQ(Val(store_->ListOrphans()), std::vector<Ino>{f});
  EXPECT_EQ(Val(store_->PathOf(f)), "<inode " + std::to_string(f) + ">");

  EXPECT_EQ(Nlink(kRootIno), 3u);
  u = store_->Unlink(kRootIno, "d", 6000);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->nlink, 0u);
  EXPECT_EQ(Nlink(kRootIno), 2u);
  EXPECT_EQ(store_->GetAttr(kRootIno)->mtime_ns, 6000);
  // A removed directory (still open somewhere) takes no new entries.
  EXPECT_TRUE(store_->Create(d, "x", Attr(kFile)).status().IsNotFound());
  EXPECT_TRUE(Val(store_->ReadDir(d, "", 10)).empty());
  EXPECT_EQ(Val(store_->ListOrphans()), (std::vector<Ino>{d, f}));
  CheckInvariants(path_);
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  ASSERT_TRUE(store_->DeleteInode(d).ok());
  EXPECT_TRUE(store_->GetAttr(f).status().IsNotFound());
  EXPECT_TRUE(store_->ListOrphans()->empty());
  // Inode numbers are never reused (stale kernel handles stay stale).
  EXPECT_GT(Make(kRootIno, "new"), f);
}

TEST_F(MetadataTest, RenameSemantics) {
  Ino a = Make(kRootIno, "a", kDir);
  Ino b = Make(kRootIno, "b", kDir);
  Ino f = Make(a, "f");
  Ino g = Make(b, "g");
  // same directory
  ASSERT_TRUE(store_->Rename(a, "f", a, "f1", 0, 10).ok());
  EXPECT_EQ(Val(store_->Lookup(a, "f1")), f);
  EXPECT_TRUE(store_->Lookup(a, "f").status().IsNotFound());
  EXPECT_EQ(store_->GetAttr(f)->ctime_ns, 10);
  // cross directory, replacing a file: the victim's attr after its decrement
  auto r = store_->Rename(a, "f1", b, "g", 0, 11);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->ino, g);
  EXPECT_EQ((*r)->nlink, 0u);
  EXPECT_EQ(Val(store_->Lookup(b, "g")), f);
  EXPECT_TRUE(Val(store_->DirIsEmpty(a)));
  // missing source
  EXPECT_TRUE(store_->Rename(a, "zz", b, "x", 0, 1).status().IsNotFound());
  // NOREPLACE
  Make(a, "h");
  EXPECT_EQ(store_->Rename(a, "h", b, "g", RENAME_NOREPLACE, 1).status().code(), Code::kExists);
  ASSERT_TRUE(store_->Rename(a, "h", b, "h", RENAME_NOREPLACE, 1).ok());
  // type mismatches and non-empty target
  Ino e = Make(kRootIno, "empty", kDir);
  EXPECT_EQ(store_->Rename(b, "g", kRootIno, "empty", 0, 1).status().err(), EISDIR);
  EXPECT_EQ(store_->Rename(kRootIno, "empty", b, "g", 0, 1).status().err(), ENOTDIR);
  EXPECT_EQ(store_->Rename(a, "", b, "g", 0, 1).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Rename(kRootIno, "a", kRootIno, "b", 0, 1).status().err(), ENOTEMPTY);
  // replace an empty directory (across parents): link counts follow
  Ino c = Make(b, "c", kDir);
  EXPECT_EQ(Nlink(b), 3u);
  r = store_->Rename(kRootIno, "empty", b, "c", 0, 12);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->ino, c);
  EXPECT_EQ((*r)->nlink, 0u);
  EXPECT_EQ(Nlink(b), 3u);  // "c" is still one subdir
  EXPECT_EQ(Nlink(kRootIno), 4u);  // a, b (empty moved away)
  EXPECT_EQ(Val(store_->GetParent(e)), b);
  // into its own subtree
  Ino deep = Make(e, "deep", kDir);
  EXPECT_EQ(store_->Rename(kRootIno, "b", deep, "x", 0, 1).status().err(), EINVAL);
  EXPECT_EQ(store_->Rename(kRootIno, "b", b, "x", 0, 1).status().err(), EINVAL);
  // onto itself, and between two hard links of one file: no-op success
  r = store_->Rename(b, "g", b, "g", 0, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  ASSERT_TRUE(store_->Link(f, a, "f-link", 1).ok());
  ASSERT_TRUE(store_->Rename(a, "f-link", b, "g", 0, 1).ok());
  EXPECT_EQ(Val(store_->Lookup(a, "f-link")), f);
  EXPECT_EQ(Nlink(f), 2u);
  // EXCHANGE a file and a directory in different parents
  ASSERT_TRUE(store_->Rename(a, "f-link", kRootIno, "b", RENAME_EXCHANGE, 20).ok());
  EXPECT_EQ(Val(store_->Lookup(a, "f-link")), b);
  EXPECT_EQ(Val(store_->Lookup(kRootIno, "b")), f);
  EXPECT_EQ(Val(store_->GetParent(b)), a);
  EXPECT_EQ(Nlink(a), 3u);
  EXPECT_EQ(Nlink(kRootIno), 3u);
  EXPECT_EQ(store_->Rename(a, "f-link", a, "none", RENAME_EXCHANGE, 1).status().code(),
            Code::kNotFound);
  EXPECT_EQ(store_->Rename(a, "f-link", a, "x", RENAME_EXCHANGE | RENAME_NOREPLACE, 1)
                .status()
                .err(),
            EINVAL);
  // EXCHANGE may not put a directory inside itself either
  Make(deep, "x");
  EXPECT_EQ(store_->Rename(kRootIno, "a", deep, "x", RENAME_EXCHANGE, 1).status().err(), EINVAL);
  EXPECT_EQ(Val(store_->PathOf(deep)), "/a/f-link/c/deep");
  CheckInvariants(path_);
}

TEST_F(MetadataTest, SetAttrAndTruncation) {
  Ino f = Make(kRootIno, "f");
  CommitChunks(f, 1, 3, 100);  // extents [0,100) [100,200) [200,300)
  InodeAttr v;
  v.mode = S_IFDIR | 0600;  // type bits are ignored
  v.uid = 1;
  v.gid = 2;
  v.atime_ns = 3;
  v.mtime_ns = 4;
  v.ctime_ns = 5;
  auto r = store_->SetAttr(f, v, kSetMode | kSetUid | kSetGid | kSetAtime | kSetMtime | kSetCtime);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->mode, uint32_t(S_IFREG | 0600));
  EXPECT_EQ(r->uid, 1u);
  EXPECT_EQ(r->gid, 2u);
  EXPECT_EQ(r->atime_ns, 3);
  EXPECT_EQ(r->mtime_ns, 4);
  EXPECT_EQ(r->ctime_ns, 5);
  EXPECT_EQ(r->size, 300u);
  EXPECT_EQ(r->stored_bytes, 150u);

  v.size = 150;
  r = store_->SetAttr(f, v, kSetSize);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size, 150u);
  EXPECT_EQ(r->stored_bytes, 75u);
  auto ext = Val(store_->GetExtents(f));
  ASSERT_EQ(ext.size(), 2u);
  EXPECT_EQ(ext[1].file_off, 100u);
  EXPECT_EQ(ext[1].len, 50u);
  v.size = 100;  // exactly at an extent boundary
  ASSERT_TRUE(store_->SetAttr(f, v, kSetSize).ok());
  EXPECT_EQ(store_->GetExtents(f)->size(), 1u);
  v.size = 1 << 20;  // growing leaves a hole
  r = store_->SetAttr(f, v, kSetSize);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size, 1u << 20);
  EXPECT_EQ(store_->GetExtents(f)->size(), 1u);
  EXPECT_EQ(store_->SetAttr(kRootIno, v, kSetSize).status().err(), EISDIR);
  EXPECT_TRUE(store_->SetAttr(999, v, kSetUid).status().IsNotFound());
  CheckInvariants(path_);
}

// ---------------------------------------------------------------- file data

TEST_F(MetadataTest, CommitFileIsAtomicAndValidated) {
  Ino f = Make(kRootIno, "f");
  ASSERT_TRUE(store_->FindChunk(Id(1))->has_value() == false);
  CommitChunks(f, 1, 4);
  auto a = Val(store_->GetAttr(f));
  EXPECT_EQ(a.size, 4000u);
  EXPECT_EQ(a.mtime_ns, 2000);
  EXPECT_EQ(a.ctime_ns, 2000);
  EXPECT_EQ(a.stored_bytes, 2000u);
  auto loc = Val(store_->FindChunk(Id(2)));
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->pack_id, 1u);
  EXPECT_EQ(loc->offset, 200u);
  EXPECT_EQ(loc->codec, Codec::kZstd);

  // A new commit replaces the extents; re-sent chunk rows are ignored.
  std::vector<Extent> ext = {{0, 10, Id(1), 5}, {100, 20, Id(9), 0}};
  ASSERT_TRUE(store_->CommitFile(f, ext, 500, 3000, {Loc(1, 7), Loc(9, 2)}).ok());
  EXPECT_EQ(store_->FindChunk(Id(1))->value().pack_id, 1u);
  auto got = Val(store_->GetExtents(f));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].chunk_off, 5u);
  EXPECT_EQ(got[1].chunk, Id(9));
  EXPECT_EQ(store_->GetAttr(f)->size, 500u);

  // Failures change nothing: unknown chunk (new chunk rows roll back too),
  // overlap, extent past size, extent past its chunk, directory.
  std::vector<Extent> bad = {{0, 10, Id(77), 0}, {10, 10, Id(555), 0}};
  Status s = store_->CommitFile(f, bad, 100, 1, {Loc(77, 1)});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(store_->FindChunk(Id(77))->has_value());
  EXPECT_EQ(store_->CommitFile(f, {{0, 10, Id(1), 0}, {5, 10, Id(1), 0}}, 100, 1, {}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->CommitFile(f, {{0, 10, Id(1), 0}}, 5, 1, {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->CommitFile(f, {{0, 10, Id(1), 995}}, 100, 1, {}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->CommitFile(kRootIno, {}, 0, 1, {}).err(), EISDIR);
  auto after = Val(store_->GetExtents(f));
  ASSERT_EQ(after.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(after[i].file_off, got[i].file_off);
    EXPECT_EQ(after[i].len, got[i].len);
    EXPECT_EQ(after[i].chunk, got[i].chunk);
    EXPECT_EQ(after[i].chunk_off, got[i].chunk_off);
  }
  EXPECT_EQ(store_->GetAttr(f)->mtime_ns, 3000);
  EXPECT_TRUE(store_->GetExtents(12345).status().IsNotFound());
  CheckInvariants(path_);
}

TEST_F(MetadataTest, LargeFileExtentsAreFast) {
  Ino f = Make(kRootIno, "big");
  constexpr int kN = 40000;
  auto t0 = Clock::now();
  CommitChunks(f, 1, kN, 65536);
  double commit_ms = Ms(t0);
  t0 = Clock::now();
  auto ext = store_->GetExtents(f);
  double read_ms = Ms(t0);
  ASSERT_TRUE(ext.ok());
  ASSERT_EQ(ext->size(), size_t(kN));
  EXPECT_EQ(ext->back().file_off, uint64_t(kN - 1) * 65536);
  std::printf("40k extents: CommitFile %.1f ms, GetExtents %.1f ms\n", commit_ms, read_ms);
  EXPECT_LT(read_ms, 500);
  EXPECT_LT(commit_ms, 5000);
}

TEST_F(MetadataTest, ManySmallTransactionsAreFast) {
  // Generous bounds: this catches quadratic behaviour, not a slow CI box.
  constexpr int kN = 10000;
  Ino d = Make(kRootIno, "d", kDir);
  auto t0 = Clock::now();
  std::vector<Ino> inos;
  for (int i = 0; i < kN; ++i) inos.push_back(Make(d, "f" + std::to_string(i)));
  double create_ms = Ms(t0);
  t0 = Clock::now();
  for (Ino ino : inos) ASSERT_TRUE(store_->GetAttr(ino).ok());
  double stat_ms = Ms(t0);
  std::printf("%d creates %.0f ms, %d getattrs %.0f ms\n", kN, create_ms, kN, stat_ms);
  EXPECT_LT(create_ms, 20000);
  EXPECT_LT(stat_ms, 10000);
}

// ---------------------------------------------------------------- chunks/packs

TEST_F(MetadataTest, PacksAndGarbageCollection) {
  ASSERT_TRUE(store_->AddPack({1, 100, false}).ok());
  ASSERT_TRUE(store_->AddPack({2, 0, false}).ok());
  EXPECT_EQ(store_->AddPack({1, 5, false}).code(), Code::kExists);
  ASSERT_TRUE(store_->UpdatePack({1, 4096, true}).ok());
  EXPECT_TRUE(store_->UpdatePack({9, 1, true}).IsNotFound());

  Ino f = Make(kRootIno, "f");
  Ino g = Make(kRootIno, "g");
  CommitChunks(f, 1, 3);  // chunks 1..3 in pack 1, stored 500 each
  ASSERT_TRUE(store_->CommitFile(g, {{0, 1000, Id(3), 0}}, 1000, 1, {Loc(4, 2), Loc(5, 2)}).ok());
  auto packs = Val(store_->ListPacks());
  ASSERT_EQ(packs.size(), 2u);
  EXPECT_EQ(packs[0].pack_id, 1u);
  EXPECT_EQ(packs[0].size, 4096u);
  EXPECT_TRUE(packs[0].sealed);
  EXPECT_EQ(packs[0].chunks, 3u);
  EXPECT_EQ(packs[0].live_bytes, 1500u);
  EXPECT_EQ(packs[1].chunks, 2u);
  EXPECT_EQ(packs[1].live_bytes, 0u);  // 4 and 5 are unreferenced

  auto garbage = Val(store_->ListUnreferencedChunks());
  ASSERT_EQ(garbage.size(), 2u);
  EXPECT_EQ(garbage[0].id, Id(4));
  // f goes away: chunks 1, 2 become garbage; 3 is still used by g.
  ASSERT_TRUE(store_->Unlink(kRootIno, "f", 1).ok());
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  EXPECT_EQ(store_->ListUnreferencedChunks()->size(), 4u);
  EXPECT_EQ(store_->ListPacks()->at(0).live_bytes, 500u);
  EXPECT_EQ(store_->DeleteChunks({Id(1), Id(3)}).err(), EBUSY);  // 3 is referenced
  EXPECT_TRUE(store_->FindChunk(Id(1))->has_value());             // whole batch rolled back
  ASSERT_TRUE(store_->DeleteChunks({Id(1), Id(2), Id(4), Id(5)}).ok());
  EXPECT_TRUE(store_->ListUnreferencedChunks()->empty());

  // Compaction: move chunk 3 from pack 1 to pack 2, then drop pack 1.
  EXPECT_EQ(store_->RemovePack(1).err(), EBUSY);
  auto in1 = Val(store_->ListChunksInPack(1));
  ASSERT_EQ(in1.size(), 1u);
  in1[0].pack_id = 2;
  in1[0].offset = 64;
  in1[0].stored_len = 400;
  ASSERT_TRUE(store_->RelocateChunks(in1).ok());
  ChunkLocation ghost = Loc(99, 2);
  EXPECT_TRUE(store_->RelocateChunks({in1[0], ghost}).IsNotFound());
  EXPECT_EQ(store_->FindChunk(Id(3))->value().offset, 64u);
  ASSERT_TRUE(store_->RemovePack(1).ok());
  EXPECT_TRUE(store_->RemovePack(1).IsNotFound());
  packs = Val(store_->ListPacks());
  ASSERT_EQ(packs.size(), 1u);
  EXPECT_EQ(packs[0].live_bytes, 400u);
  CheckInvariants(path_);
}

TEST_F(MetadataTest, ListChunksPagesById) {
  Ino f = Make(kRootIno, "f");
  CommitChunks(f, 1, 25);
  std::vector<ChunkId> seen;
  ChunkId after{};
  for (;;) {
    auto page = store_->ListChunks(after, 4);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const auto& c : *page) seen.push_back(c.id);
    after = page->back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

TEST_F(MetadataTest, FilesReferencingAndPathOf) {
  Ino a = Make(kRootIno, "a", kDir);
  Ino b = Make(a, "b", kDir);
  Ino f = Make(b, "f");
  Ino g = Make(kRootIno, "g");
  CommitChunks(f, 1, 2);
  ASSERT_TRUE(store_->CommitFile(g, {{0, 10, Id(2), 0}, {10, 10, Id(2), 10}}, 20, 1, {}).ok());
  ASSERT_TRUE(store_->Link(g, b, "a-link", 1).ok());
  EXPECT_EQ(Val(store_->PathOf(f)), "/a/b/f");
  EXPECT_EQ(Val(store_->PathOf(b)), "/a/b");
  EXPECT_EQ(Val(store_->PathOf(g)), "/g");  // the smallest (parent, name) names a hard link
  auto files = Val(store_->FilesReferencing({Id(2), Id(1), Id(42)}));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].first, f);
  EXPECT_EQ(files[0].second, "/a/b/f");
  EXPECT_EQ(files[1].first, g);
  EXPECT_TRUE(store_->PathOf(777).status().IsNotFound());
}

// ---------------------------------------------------------------- xattrs, stats

TEST_F(MetadataTest, XattrSemantics) {
  Ino f = Make(kRootIno, "f");
  EXPECT_EQ(store_->GetXattr(f, "user.a").status().err(), ENODATA);
  EXPECT_EQ(store_->SetXattr(f, "user.a", "x", XATTR_REPLACE).err(), ENODATA);
  ASSERT_TRUE(store_->SetXattr(f, "user.b", std::string("v\0w", 3), XATTR_CREATE).ok());
  ASSERT_TRUE(store_->SetXattr(f, "user.a", "", 0).ok());
  EXPECT_EQ(store_->SetXattr(f, "user.a", "y", XATTR_CREATE).err(), EEXIST);
  ASSERT_TRUE(store_->SetXattr(f, "user.a", "z", XATTR_REPLACE).ok());
  EXPECT_EQ(Val(store_->GetXattr(f, "user.a")), "z");
  EXPECT_EQ(Val(store_->GetXattr(f, "user.b")), std::string("v\0w", 3));
  EXPECT_EQ(Val(store_->ListXattr(f)), (std::vector<std::string>{"user.a", "user.b"}));
  ASSERT_TRUE(store_->RemoveXattr(f, "user.a").ok());
  EXPECT_EQ(store_->RemoveXattr(f, "user.a").err(), ENODATA);
  EXPECT_TRUE(store_->GetXattr(999, "user.a").status().IsNotFound());
  EXPECT_TRUE(store_->SetXattr(999, "user.a", "", 0).IsNotFound());
  ASSERT_TRUE(store_->Unlink(kRootIno, "f", 1).ok());
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  EXPECT_EQ(RawInt(path_, "SELECT count(*) FROM xattrs"), 0);
}

// Sparse files can sum past 2^63 bytes; stats (and so fsck, which starts
// from them) must still answer rather than fail with an integer overflow.
TEST_F(MetadataTest, StatsSurviveLogicalSizesPast2To63) {
  for (const char* name : {"a", "b", "c"}) {
    Ino f = Make(kRootIno, name);
    InodeAttr v;
    v.size = uint64_t{5} << 60;
    ASSERT_TRUE(store_->SetAttr(f, v, kSetSize).ok());
  }
  auto s = store_->Stats();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->files, 3u);
  EXPECT_GE(s->logical_bytes, uint64_t{1} << 62);  // saturated, not wrapped
}

TEST_F(MetadataTest, StatsCountEverything) {
  Ino d = Make(kRootIno, "d", kDir);
  Ino f = Make(d, "f");
  Ino g = Make(d, "g");
  ASSERT_TRUE(store_->Create(d, "l", Attr(S_IFLNK | 0777), "f").ok());
  ASSERT_TRUE(store_->AddPack({1, 8000, true}).ok());
  CommitChunks(f, 1, 3);  // 3 extents of 1000, chunks raw 1000 stored 500
  ASSERT_TRUE(store_->CommitFile(g, {{0, 1000, Id(1), 0}}, 5000, 1, {Loc(9, 1, 300, 100)}).ok());
  auto s = Val(store_->Stats());
  EXPECT_EQ(s.files, 2u);
  EXPECT_EQ(s.dirs, 2u);
  EXPECT_EQ(s.symlinks, 1u);
  EXPECT_EQ(s.logical_bytes, 8000u);
  EXPECT_EQ(s.referenced_raw_bytes, 4000u);
  EXPECT_EQ(s.extents, 4u);
  EXPECT_EQ(s.unique_chunks, 4u);
  EXPECT_EQ(s.unique_raw_bytes, 3300u);
  EXPECT_EQ(s.stored_bytes, 1600u);
  EXPECT_EQ(s.packs, 1u);
  EXPECT_EQ(s.pack_bytes, 8000u);
}

TEST_F(MetadataTest, PersistsAcrossReopenAfterSync) {
  Ino d = Make(kRootIno, "d", kDir);
  Ino f = Make(d, "f");
  CommitChunks(f, 1, 5);
  ASSERT_TRUE(store_->SetXattr(f, "user.k", "v", 0).ok());
  ASSERT_TRUE(store_->Sync().ok());
  Reopen();
  EXPECT_EQ(Val(store_->Lookup(d, "f")), f);
  EXPECT_EQ(store_->GetExtents(f)->size(), 5u);
  EXPECT_EQ(Val(store_->GetXattr(f, "user.k")), "v");
  EXPECT_EQ(Nlink(kRootIno), 3u);
  ASSERT_TRUE(store_->Sync().ok());  // before any write on this connection
}

// ---------------------------------------------------------------- concurrency

TEST_F(MetadataTest, ReadersRunConcurrentlyWithAWriter) {
  Ino d = Make(kRootIno, "d", kDir);
  Ino big = Make(d, "big");
  CommitChunks(big, 1, 2000);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      while (!stop) {
        auto ext = store_->GetExtents(big);
        bool ok = store_->GetAttr(d).ok() && store_->ReadDir(d, "", 100).ok() && ext.ok() &&
                  ext->size() == 2000 && store_->Stats().ok();
        auto l = store_->Lookup(d, "f" + std::to_string(t));
        if (!l.ok() && !l.status().IsNotFound()) ok = false;
        if (!ok) ++errors;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 600; ++i) {
    std::string name = "f" + std::to_string(i % 8);
    auto c = store_->Create(d, name, Attr(kFile));
    if (c.ok()) {
      ASSERT_TRUE(store_->CommitFile(c->ino, {{0, 10, Id(1), 0}}, 10, i, {}).ok());
    }
    if (i % 3 == 0) {
      ASSERT_TRUE(store_->Rename(d, name, d, "r" + name, 0, i).ok());
    }
    if (i % 5 == 0) {
      ASSERT_TRUE(store_->Sync().ok());
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  CheckInvariants(path_);
}

// ---------------------------------------------------------------- crash

// Child workload: random namespace changes and commits, forever.
[[noreturn]] void CrashWorkload(const std::string& path, unsigned seed) {
  auto r = OpenSqliteMetadata(path, {});
  if (!r.ok()) _exit(3);
  MetadataStore& m = **r;
  std::mt19937_64 rng(seed);
  const Ino dirs[] = {Val(m.Lookup(kRootIno, "a")), Val(m.Lookup(kRootIno, "b"))};
  uint64_t next_chunk = seed * 1000000;
  for (int64_t i = 1;; ++i) {
    Ino d = dirs[rng() % 2];
    std::string name = "f" + std::to_string(rng() % 20);
    switch (rng() % 6) {
      case 0:
      case 1: {  // create or rewrite a file
        auto ino = m.Lookup(d, name);
        Ino f = ino.ok() ? *ino : 0;
        if (!f) {
          auto c = m.Create(d, name, Attr(kFile, i));
          if (!c.ok()) break;
          f = c->ino;
        }
        std::vector<Extent> ext;
        std::vector<ChunkLocation> chunks;
        int n = 1 + rng() % 50;
        for (int k = 0; k < n; ++k) {
          chunks.push_back(Loc(++next_chunk, 1));
          ext.push_back({uint64_t(k) * 1000, 1000, Id(next_chunk), 0});
        }
        (void)m.CommitFile(f, ext, uint64_t(n) * 1000, i, chunks);
        break;
      }
      case 2:  // rename across directories, replacing
        (void)m.Rename(d, name, dirs[rng() % 2], "f" + std::to_string(rng() % 20), 0, i);
        break;
      case 3: {  // subdirectories move between a and b
        std::string sub = "s" + std::to_string(rng() % 4);
        if (!m.Create(d, sub, Attr(kDir, i)).ok()) {
          (void)m.Rename(d, sub, dirs[rng() % 2], sub, RENAME_NOREPLACE, i);
        }
        break;
      }
      case 4: {  // unlink, deleting the inode like release() would
        auto u = m.Unlink(d, name, i);
        if (u.ok() && u->nlink == 0) (void)m.DeleteInode(u->ino);
        break;
      }
      case 5: {  // hard links
        auto src = m.Lookup(dirs[0], "f1");
        if (src.ok()) (void)m.Link(*src, d, "h" + std::to_string(rng() % 5), i);
        if (rng() % 10 == 0) (void)m.Sync();
        break;
      }
    }
  }
}

TEST_F(MetadataTest, SurvivesSigkillOfAWriter) {
  Make(kRootIno, "a", kDir);
  Make(kRootIno, "b", kDir);
  store_.reset();  // never carry an open SQLite connection across fork()
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) CrashWorkload(path_, round + 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(80 + rng() % 220));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    Reopen();
    auto orphans = store_->ListOrphans();
    ASSERT_TRUE(orphans.ok());
    for (Ino o : *orphans) ASSERT_TRUE(store_->DeleteInode(o).ok());
    EXPECT_TRUE(store_->Stats().ok());
    store_.reset();
    CheckInvariants(path_);
  }
  Reopen();
  auto s = Val(store_->Stats());
  EXPECT_GT(s.files, 0u);
  std::printf("after crashes: %llu files, %llu extents\n", (unsigned long long)s.files,
              (unsigned long long)s.extents);
}

}  // namespace
}  // namespace ckptfs
