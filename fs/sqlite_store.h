// SqliteMetadataStore: the SQLite implementation of MetadataStore (private;
// callers use OpenSqliteMetadata in fs/metadata.h).
//
// Connections and locking:
//   - one writer connection, guarded by write_mu_. Every mutating method runs
//     as ONE "BEGIN IMMEDIATE ... COMMIT" on it, rolled back on any error, so
//     writers are serialized in-process by the mutex and across processes by
//     SQLite's write lock;
//   - a pool of reader connections (query_only) for the read methods. In WAL
//     mode a reader sees the last committed transaction and never blocks the
//     writer. A multi-statement read runs inside one deferred transaction so
//     it sees a single snapshot. Idle readers are kept up to kMaxIdleReaders;
//     more are opened on demand under load.
//   Lock order: write_mu_ may be held while taking pool_mu_ (never the
//   reverse); pool_mu_ is held only to push/pop the idle list.
//
// Stored nlink: for non-directories it is the number of dentries naming the
// inode. For directories it is what GetAttr reports: 2 + number of
// subdirectories while linked (root included), 0 once removed. It is
// maintained by every namespace write rather than counted on each GetAttr.
//
// inodes.stored_bytes is the approximate compressed size a file references:
// sum over extents of len * stored_len / raw_len of its chunk, recomputed
// when extents change (CommitFile, truncation).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "fs/metadata.h"
#include "fs/sqlite_db.h"

namespace ckptfs::sqlite {

class SqliteMetadataStore final : public MetadataStore {
 public:
  // Opens per the contract of OpenSqliteMetadata.
  static Result<std::unique_ptr<MetadataStore>> Open(const std::string& path,
                                                     const SqliteMetadataOptions& options);

  Result<InodeAttr> GetAttr(Ino ino) override;
  Result<Ino> Lookup(Ino parent, std::string_view name) override;
  Result<std::vector<DirEntry>> ReadDir(Ino dir, std::string_view after_name,
                                        size_t limit) override;
  Result<bool> DirIsEmpty(Ino dir) override;
  Result<std::string> ReadLink(Ino ino) override;
  Result<Ino> GetParent(Ino dir) override;

  Result<InodeAttr> Create(Ino parent, std::string_view name, const InodeAttr& attr,
                           std::string_view symlink_target) override;
  Result<InodeAttr> Link(Ino ino, Ino new_parent, std::string_view new_name,
                         int64_t now_ns) override;
  Result<InodeAttr> Unlink(Ino parent, std::string_view name, int64_t now_ns) override;
  Result<std::optional<InodeAttr>> Rename(Ino old_parent, std::string_view old_name,
                                          Ino new_parent, std::string_view new_name,
                                          unsigned flags, int64_t now_ns) override;
  Result<InodeAttr> SetAttr(Ino ino, const InodeAttr& values, uint32_t mask) override;
  Status DeleteInode(Ino ino) override;
  Result<std::vector<Ino>> ListOrphans() override;

  Result<std::vector<Extent>> GetExtents(Ino ino) override;
  Status CommitFile(Ino ino, const std::vector<Extent>& extents, uint64_t size,
                    int64_t mtime_ns, const std::vector<ChunkLocation>& new_chunks) override;

  Result<std::optional<ChunkLocation>> FindChunk(const ChunkId& id) override;
  Status AddPack(const PackInfo& pack) override;
  Status UpdatePack(const PackInfo& pack) override;
  Result<std::vector<PackInfo>> ListPacks() override;
  Status RemovePack(uint32_t pack_id) override;
  Result<std::vector<ChunkLocation>> ListUnreferencedChunks() override;
  Status DeleteChunks(const std::vector<ChunkId>& ids) override;
  Result<std::vector<ChunkLocation>> ListChunksInPack(uint32_t pack_id) override;
  Status RelocateChunks(const std::vector<ChunkLocation>& moved) override;
  Result<std::vector<ChunkLocation>> ListChunks(const ChunkId& after, size_t limit) override;
  Result<std::vector<std::pair<Ino, std::string>>> FilesReferencing(
      const std::vector<ChunkId>& ids) override;
  Result<std::string> PathOf(Ino ino) override;

  Result<std::string> GetXattr(Ino ino, std::string_view name) override;
  Status SetXattr(Ino ino, std::string_view name, std::string_view value, int flags) override;
  Result<std::vector<std::string>> ListXattr(Ino ino) override;
  Status RemoveXattr(Ino ino, std::string_view name) override;

  Result<StoreStats> Stats() override;
  Result<std::vector<std::string>> CheckIntegrity(size_t max_problems) override;
  Status Sync() override;

 private:
  static constexpr size_t kMaxIdleReaders = 4;

  SqliteMetadataStore(std::string path, std::string label, bool read_only,
                      std::unique_ptr<Conn> writer)
      : path_(std::move(path)),
        label_(std::move(label)),
        read_only_(read_only),
        writer_(std::move(writer)) {}

  // Runs fn(Conn&) -> Status inside BEGIN IMMEDIATE ... COMMIT on the writer.
  // Any error (from fn or from COMMIT) rolls the whole transaction back.
  template <typename Fn>
  Status Write(const char* op, Fn&& fn);
  // Runs fn(Conn&) -> Status inside one read transaction on a pooled reader.
  template <typename Fn>
  Status Read(const char* op, Fn&& fn);

  Result<std::unique_ptr<Conn>> TakeReader();
  void ReturnReader(std::unique_ptr<Conn> conn);

  const std::string path_;
  const std::string label_;  // file name used in error messages ("meta.db")
  const bool read_only_;

  std::mutex write_mu_;
  std::unique_ptr<Conn> writer_;  // GUARDED_BY(write_mu_); null when read_only_

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> idle_readers_;  // GUARDED_BY(pool_mu_)
};

// ---- helpers shared by the .cc files (all run inside a transaction) ----

// The attr of `ino`, or NotFound.
Result<InodeAttr> LoadAttr(Conn& c, Ino ino);
// The attr of directory `dir`: NotFound, or ENOTDIR if it is not one.
Result<InodeAttr> LoadDir(Conn& c, Ino dir);
// The ino named parent/name, or nullopt.
Result<std::optional<Ino>> FindEntry(Conn& c, Ino parent, std::string_view name);
// Recomputes inodes.stored_bytes of `ino` from its extents.
Status RefreshStoredBytes(Conn& c, Ino ino);
// Path of `ino` as in MetadataStore::PathOf.
Result<std::string> ComputePath(Conn& c, Ino ino);

// ---- template definitions ----

template <typename Fn>
Status SqliteMetadataStore::Write(const char* op, Fn&& fn) {
  if (read_only_) {
    return Status::Errno(EROFS, label_ + ": metadata store is open read-only (" + op + ")");
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  Conn& c = *writer_;
  c.set_op(op);
  {
    Query begin = c.Prepare("BEGIN IMMEDIATE");
    CKPTFS_RETURN_IF_ERROR(begin.Run());
  }
  Status s = fn(c);
  if (s.ok()) {
    Query commit = c.Prepare("COMMIT");
    s = commit.Run();
  }
  // A failed statement or COMMIT may leave the transaction open (or SQLite
  // may already have rolled it back): end it either way so the next
  // operation starts clean.
  if (!s.ok() && c.in_txn()) {
    Query rollback = c.Prepare("ROLLBACK");
    (void)rollback.Run();
  }
  return s;
}

template <typename Fn>
Status SqliteMetadataStore::Read(const char* op, Fn&& fn) {
  CKPTFS_ASSIGN_OR_RETURN(std::unique_ptr<Conn> c, TakeReader());
  c->set_op(op);
  Status s;
  {
    Query begin = c->Prepare("BEGIN");
    s = begin.Run();
  }
  if (s.ok()) s = fn(*c);
  if (c->in_txn()) {
    Query end = c->Prepare("COMMIT");
    Status e = end.Run();
    if (s.ok()) s = e;
  }
  ReturnReader(std::move(c));
  return s;
}

}  // namespace ckptfs::sqlite
