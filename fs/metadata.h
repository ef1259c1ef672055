// MetadataStore: the filesystem's namespace, inode attributes, file extents,
// chunk index and pack table.
//
// The default implementation is SQLite in WAL mode (sqlite_metadata.cc). The
// interface is what a later PostgreSQL backend implements too, so it speaks in
// whole operations: each mutating method is ONE transaction, atomic and
// isolated. Callers (fs/filesystem) do the POSIX permission and type checks;
// the metadata store enforces referential invariants:
//   1. every dentry points to an existing inode;
//   2. an inode's nlink equals the number of dentries naming it (+1 "." for
//      directories is NOT counted: directories report nlink = 2 + subdirs,
//      computed by the store);
//   3. every extent references a chunk present in the chunk table;
//   4. a chunk row exists only after the pack bytes it points to were written
//      (the caller guarantees this ordering, see docs/ARCHITECTURE.md).
//
// Thread safety: all methods are thread-safe (internally serialized writers;
// readers may run concurrently with a writer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "codec/chunk_id.h"

namespace ckptfs {

using Ino = uint64_t;
inline constexpr Ino kRootIno = 1;

struct InodeAttr {
  Ino ino = 0;
  uint32_t mode = 0;  // type bits and permissions, as st_mode
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;  // logical size (symlink: target length)
  uint64_t rdev = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  uint64_t stored_bytes = 0;  // approximate compressed bytes referenced (for st_blocks)
};

struct DirEntry {
  std::string name;
  Ino ino = 0;
  uint32_t mode = 0;
};

// A run of file bytes [file_off, file_off+len) that equals bytes
// [chunk_off, chunk_off+len) of the chunk's raw (decompressed) content.
// Gaps between extents are holes and read as zeros.
struct Extent {
  uint64_t file_off = 0;
  uint64_t len = 0;
  ChunkId chunk;
  uint32_t chunk_off = 0;
};

// Where a chunk's record sits. `offset` is the offset of the record header in
// the pack file.
struct ChunkLocation {
  ChunkId id;
  uint32_t pack_id = 0;
  uint64_t offset = 0;
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;  // payload length
  Codec codec = Codec::kRaw;
};

struct PackInfo {
  uint32_t pack_id = 0;
  uint64_t size = 0;        // bytes in the file when last recorded
  bool sealed = false;
  uint64_t live_bytes = 0;  // stored bytes of chunks still referenced by an extent
  uint64_t chunks = 0;      // chunk rows in this pack
};

struct StoreStats {
  uint64_t files = 0;          // regular files
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t logical_bytes = 0;  // sum of regular file sizes
  uint64_t referenced_raw_bytes = 0;  // sum of extent lengths (logical minus holes)
  uint64_t extents = 0;               // chunk references from files
  uint64_t unique_chunks = 0;         // chunk rows
  uint64_t unique_raw_bytes = 0;      // sum of raw_len over chunk rows
  uint64_t stored_bytes = 0;          // sum of stored_len over chunk rows
  uint64_t packs = 0;
  uint64_t pack_bytes = 0;            // sum of pack file sizes recorded
};

// Which attributes SetAttr changes.
enum SetAttrMask : uint32_t {
  kSetMode = 1 << 0,
  kSetUid = 1 << 1,
  kSetGid = 1 << 2,
  kSetSize = 1 << 3,  // shrinking drops/clips extents beyond the new size
  kSetAtime = 1 << 4,
  kSetMtime = 1 << 5,
  kSetCtime = 1 << 6,
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // --- namespace reads ---
  virtual Result<InodeAttr> GetAttr(Ino ino) = 0;                  // NotFound
  virtual Result<Ino> Lookup(Ino parent, std::string_view name) = 0;  // NotFound
  // Entries of `dir` sorted by name, strictly after `after_name` (empty:
  // from the start), at most `limit`. "." and ".." are not stored.
  virtual Result<std::vector<DirEntry>> ReadDir(Ino dir, std::string_view after_name,
                                                size_t limit) = 0;
  virtual Result<bool> DirIsEmpty(Ino dir) = 0;
  virtual Result<std::string> ReadLink(Ino ino) = 0;
  // Parent of a directory (root's parent is root).
  virtual Result<Ino> GetParent(Ino dir) = 0;

  // --- namespace writes: each is one transaction ---
  // Creates a new inode (file, dir, symlink, fifo, ...) named parent/name.
  // `attr.ino` is ignored and assigned; nlink is set (1, or 2 for dirs).
  // Exists if the name is taken. `symlink_target` only for symlinks.
  virtual Result<InodeAttr> Create(Ino parent, std::string_view name, const InodeAttr& attr,
                                   std::string_view symlink_target = {}) = 0;
  // Adds a hard link; returns the updated attr (nlink+1, ctime = now_ns).
  virtual Result<InodeAttr> Link(Ino ino, Ino new_parent, std::string_view new_name,
                                 int64_t now_ns) = 0;
  // Removes the dentry and decrements nlink. Returns the inode's attr after
  // the change. The inode row is kept even at nlink 0 (it may still be open);
  // the caller calls DeleteInode when it is no longer open. For directories
  // the caller has checked emptiness; the store refuses a non-empty one
  // (ENOTEMPTY).
  virtual Result<InodeAttr> Unlink(Ino parent, std::string_view name, int64_t now_ns) = 0;
  // Atomic rename. If the target exists it is replaced (flags per renameat2:
  // RENAME_NOREPLACE -> Exists, RENAME_EXCHANGE -> swap). A replaced directory
  // must be empty (ENOTEMPTY). Returns the replaced inode's attr after its
  // nlink decrement, if one was replaced.
  virtual Result<std::optional<InodeAttr>> Rename(Ino old_parent, std::string_view old_name,
                                                  Ino new_parent, std::string_view new_name,
                                                  unsigned flags, int64_t now_ns) = 0;
  virtual Result<InodeAttr> SetAttr(Ino ino, const InodeAttr& values, uint32_t mask) = 0;
  // Drops the inode row, its extents and xattrs. REQUIRES nlink == 0.
  virtual Status DeleteInode(Ino ino) = 0;
  // Inodes with nlink 0 (left by a crash while they were open); deleted at open.
  virtual Result<std::vector<Ino>> ListOrphans() = 0;

  // --- file data ---
  // Extents sorted by file_off, non-overlapping.
  virtual Result<std::vector<Extent>> GetExtents(Ino ino) = 0;
  // Replaces the file's extents and size in one transaction, inserting the
  // `new_chunks` rows first (ignoring ids already present). mtime/ctime set
  // to mtime_ns. This is how close() and fsync() commit a file.
  virtual Status CommitFile(Ino ino, const std::vector<Extent>& extents, uint64_t size,
                            int64_t mtime_ns, const std::vector<ChunkLocation>& new_chunks) = 0;

  // --- chunk index and packs ---
  virtual Result<std::optional<ChunkLocation>> FindChunk(const ChunkId& id) = 0;
  virtual Status AddPack(const PackInfo& pack) = 0;
  virtual Status UpdatePack(const PackInfo& pack) = 0;  // size / sealed
  virtual Result<std::vector<PackInfo>> ListPacks() = 0;  // live_bytes/chunks filled in
  virtual Status RemovePack(uint32_t pack_id) = 0;  // REQUIRES: no chunk rows point to it
  // Chunks no extent references (garbage), optionally restricted to one pack.
  virtual Result<std::vector<ChunkLocation>> ListUnreferencedChunks() = 0;
  virtual Status DeleteChunks(const std::vector<ChunkId>& ids) = 0;
  virtual Result<std::vector<ChunkLocation>> ListChunksInPack(uint32_t pack_id) = 0;
  // Moves chunk rows to new locations (pack compaction), one transaction.
  virtual Status RelocateChunks(const std::vector<ChunkLocation>& moved) = 0;
  // All chunk rows, streamed in pages, for fsck.
  virtual Result<std::vector<ChunkLocation>> ListChunks(const ChunkId& after, size_t limit) = 0;
  // Inodes (and one path each) whose extents reference any of `ids`, for
  // naming the files that corruption affects.
  virtual Result<std::vector<std::pair<Ino, std::string>>> FilesReferencing(
      const std::vector<ChunkId>& ids) = 0;
  // A path for an inode, "/a/b/c" (one of its names if hard-linked), or
  // "<inode N>" if it has none.
  virtual Result<std::string> PathOf(Ino ino) = 0;

  // --- xattrs ---
  virtual Result<std::string> GetXattr(Ino ino, std::string_view name) = 0;  // ENODATA
  // flags: XATTR_CREATE / XATTR_REPLACE semantics (EEXIST / ENODATA).
  virtual Status SetXattr(Ino ino, std::string_view name, std::string_view value,
                          int flags) = 0;
  virtual Result<std::vector<std::string>> ListXattr(Ino ino) = 0;
  virtual Status RemoveXattr(Ino ino, std::string_view name) = 0;  // ENODATA

  // --- stats ---
  virtual Result<StoreStats> Stats() = 0;
  // fsck: the database's own consistency (b-trees, indexes, constraints).
  // Returns up to `max_problems` descriptions; empty when sound.
  virtual Result<std::vector<std::string>> CheckIntegrity(size_t max_problems) = 0;

  // Makes every committed transaction durable (WAL fsync); used by fsync().
  virtual Status Sync() = 0;
};

struct SqliteMetadataOptions {
  bool create_if_missing = false;  // init creates the schema and the root dir
  bool read_only = false;
  uint32_t root_uid = 0, root_gid = 0;  // owner of "/" at creation
  uint32_t root_mode = 040755;
};

// Opens (or creates) STORE/meta.db. Errors: Corruption when the file is not
// a ckptfs metadata database or is damaged; Version when its schema version
// is newer than this build.
Result<std::unique_ptr<MetadataStore>> OpenSqliteMetadata(const std::string& db_path,
                                                          const SqliteMetadataOptions& options);

}  // namespace ckptfs
