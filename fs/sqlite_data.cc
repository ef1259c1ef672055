// SQLite metadata store: file extents, the chunk index, packs, xattrs,
// stats and Sync. See fs/sqlite_store.h for the design.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_map>

#include "fs/sqlite_store.h"

namespace ckptfs::sqlite {
namespace {

std::string InoName(Ino ino) { return "inode " + std::to_string(ino); }

// Local hex so metadata does not depend on the codec library.
std::string Hex(const ChunkId& id) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(32);
  for (uint8_t b : id.bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

std::string ChunkName(const ChunkId& id) { return "chunk " + Hex(id); }

// Hashes all 16 bytes. ChunkIdHash reads only the first 8, which is right
// for real (uniform) ids but degenerates to a list for callers' ids that
// share a prefix; a commit's extents must not turn quadratic on that.
struct FullChunkIdHash {
  size_t operator()(const ChunkId& id) const noexcept {
    uint64_t a, b;
    std::memcpy(&a, id.bytes.data(), 8);
    std::memcpy(&b, id.bytes.data() + 8, 8);
    return static_cast<size_t>((a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull);
  }
};

// Columns 0..5 of a "SELECT id, pack_id, offset, raw_len, stored_len, codec".
ChunkLocation ReadChunk(const Query& q) {
  ChunkLocation l;
  l.id = q.Id(0);
  l.pack_id = q.U32(1);
  l.offset = q.U64(2);
  l.raw_len = q.U32(3);
  l.stored_len = q.U32(4);
  l.codec = static_cast<Codec>(q.U32(5));
  return l;
}

Status CollectChunks(Query& q, std::vector<ChunkLocation>* out) {
  for (;;) {
    CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::OK();
    out->push_back(ReadChunk(q));
  }
}

// Extents must be sorted, non-empty, non-overlapping and inside the file.
Status CheckExtents(Ino ino, const std::vector<Extent>& extents, uint64_t size) {
  uint64_t end = 0;
  for (const Extent& e : extents) {
    if (e.len == 0 || e.file_off < end || e.file_off + e.len < e.file_off ||
        e.file_off + e.len > size) {
      return Status::InvalidArgument("CommitFile " + InoName(ino) + ": extent at offset " +
                                     std::to_string(e.file_off) + " (length " +
                                     std::to_string(e.len) +
                                     ") is empty, out of order, overlapping or past size " +
                                     std::to_string(size));
    }
    end = e.file_off + e.len;
  }
  return Status::OK();
}

Result<bool> InodeExists(Conn& c, Ino ino) {
  Query q = c.Prepare("SELECT 1 FROM inodes WHERE ino = ?1");
  q.Bind(1, ino);
  return q.Step();
}

Status RequireInode(Conn& c, Ino ino) {
  CKPTFS_ASSIGN_OR_RETURN(bool exists, InodeExists(c, ino));
  return exists ? Status::OK() : Status::NotFound(InoName(ino) + " not found");
}

Status NoXattr(Ino ino, std::string_view name) {
  return Status::Errno(ENODATA,
                       "xattr '" + std::string(name) + "' of " + InoName(ino) + " not found");
}

}  // namespace

Status RefreshStoredBytes(Conn& c, Ino ino) {
  Query q = c.Prepare(
      "UPDATE inodes SET stored_bytes = (SELECT COALESCE(SUM(e.len * c.stored_len / "
      "MAX(c.raw_len, 1)), 0) FROM extents e JOIN chunks c ON c.id = e.chunk_id "
      "WHERE e.ino = ?1) WHERE ino = ?1");
  return q.Bind(1, ino).Run();
}

// ---- file data ----

Result<std::vector<Extent>> SqliteMetadataStore::GetExtents(Ino ino) {
  std::vector<Extent> out;
  CKPTFS_RETURN_IF_ERROR(Read("GetExtents", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(RequireInode(c, ino));
    Query q = c.Prepare(
        "SELECT file_off, len, chunk_id, chunk_off FROM extents WHERE ino = ?1 "
        "ORDER BY file_off");
    q.Bind(1, ino);
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      out.push_back(Extent{q.U64(0), q.U64(1), q.Id(2), q.U32(3)});
    }
  }));
  return out;
}

Status SqliteMetadataStore::CommitFile(Ino ino, const std::vector<Extent>& extents, uint64_t size,
                                       int64_t mtime_ns,
                                       const std::vector<ChunkLocation>& new_chunks) {
  CKPTFS_RETURN_IF_ERROR(CheckExtents(ino, extents, size));
  return Write("CommitFile", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, LoadAttr(c, ino));
    if (S_ISDIR(a.mode)) return Status::Errno(EISDIR, InoName(ino) + " is a directory");
    if (!S_ISREG(a.mode)) return Status::Errno(EINVAL, InoName(ino) + " is not a regular file");
    for (const ChunkLocation& l : new_chunks) {
      // A chunk another writer added first (dedup race) keeps its row.
      Query q = c.Prepare(
          "INSERT OR IGNORE INTO chunks(id, pack_id, offset, raw_len, stored_len, codec) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      q.Bind(1, l.id).Bind(2, l.pack_id).Bind(3, l.offset).Bind(4, l.raw_len);
      CKPTFS_RETURN_IF_ERROR(q.Bind(5, l.stored_len).Bind(6, static_cast<int>(l.codec)).Run());
    }
    Query del = c.Prepare("DELETE FROM extents WHERE ino = ?1");
    CKPTFS_RETURN_IF_ERROR(del.Bind(1, ino).Run());
    // Invariant 3: every extent names an existing chunk and lies inside it.
    // Lengths are looked up once per distinct chunk.
    struct Lens {
      uint64_t raw, stored;
    };
    std::unordered_map<ChunkId, Lens, FullChunkIdHash> lens;
    uint64_t stored_bytes = 0;
    for (const Extent& e : extents) {
      auto it = lens.find(e.chunk);
      if (it == lens.end()) {
        Query q = c.Prepare("SELECT raw_len, stored_len FROM chunks WHERE id = ?1");
        q.Bind(1, e.chunk);
        CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) {
          return Status::InvalidArgument("CommitFile " + InoName(ino) + ": extent at offset " +
                                         std::to_string(e.file_off) + " references unknown " +
                                         ChunkName(e.chunk));
        }
        it = lens.emplace(e.chunk, Lens{q.U64(0), q.U64(1)}).first;
      }
      if (e.chunk_off + e.len > it->second.raw) {
        return Status::InvalidArgument("CommitFile " + InoName(ino) + ": extent at offset " +
                                       std::to_string(e.file_off) + " runs past the end of " +
                                       ChunkName(e.chunk));
      }
      stored_bytes += e.len * it->second.stored / std::max<uint64_t>(it->second.raw, 1);
      Query q = c.Prepare(
          "INSERT INTO extents(ino, file_off, len, chunk_id, chunk_off) VALUES (?1, ?2, ?3, ?4, ?5)");
      q.Bind(1, ino).Bind(2, e.file_off).Bind(3, e.len).Bind(4, e.chunk).Bind(5, e.chunk_off);
      CKPTFS_RETURN_IF_ERROR(q.Run());
    }
    Query up = c.Prepare(
        "UPDATE inodes SET size = ?2, mtime_ns = ?3, ctime_ns = ?3, stored_bytes = ?4 "
        "WHERE ino = ?1");
    return up.Bind(1, ino).Bind(2, size).Bind(3, mtime_ns).Bind(4, stored_bytes).Run();
  });
}

// ---- chunk index and packs ----

Result<std::optional<ChunkLocation>> SqliteMetadataStore::FindChunk(const ChunkId& id) {
  std::optional<ChunkLocation> out;
  CKPTFS_RETURN_IF_ERROR(Read("FindChunk", [&](Conn& c) -> Status {
    Query q = c.Prepare(
        "SELECT id, pack_id, offset, raw_len, stored_len, codec FROM chunks WHERE id = ?1");
    q.Bind(1, id);
    CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) out = ReadChunk(q);
    return Status::OK();
  }));
  return out;
}

Status SqliteMetadataStore::AddPack(const PackInfo& p) {
  return Write("AddPack", [&](Conn& c) -> Status {
    Query exists = c.Prepare("SELECT 1 FROM packs WHERE pack_id = ?1");
    exists.Bind(1, p.pack_id);
    CKPTFS_ASSIGN_OR_RETURN(bool row, exists.Step());
    if (row) return Status::Exists("pack " + std::to_string(p.pack_id) + " already exists");
    Query q = c.Prepare("INSERT INTO packs(pack_id, size, sealed) VALUES (?1, ?2, ?3)");
    return q.Bind(1, p.pack_id).Bind(2, p.size).Bind(3, p.sealed ? 1 : 0).Run();
  });
}

Status SqliteMetadataStore::UpdatePack(const PackInfo& p) {
  return Write("UpdatePack", [&](Conn& c) -> Status {
    Query q = c.Prepare("UPDATE packs SET size = ?2, sealed = ?3 WHERE pack_id = ?1");
    CKPTFS_RETURN_IF_ERROR(q.Bind(1, p.pack_id).Bind(2, p.size).Bind(3, p.sealed ? 1 : 0).Run());
    if (c.changes() == 0) return Status::NotFound("pack " + std::to_string(p.pack_id) + " not found");
    return Status::OK();
  });
}

Result<std::vector<PackInfo>> SqliteMetadataStore::ListPacks() {
  std::vector<PackInfo> out;
  CKPTFS_RETURN_IF_ERROR(Read("ListPacks", [&](Conn& c) -> Status {
    // Both sub-selects use chunks_by_pack; the EXISTS uses extents_by_chunk.
    Query q = c.Prepare(
        "SELECT p.pack_id, p.size, p.sealed, "
        "  (SELECT count(*) FROM chunks c WHERE c.pack_id = p.pack_id), "
        "  (SELECT COALESCE(SUM(c.stored_len), 0) FROM chunks c WHERE c.pack_id = p.pack_id "
        "     AND EXISTS (SELECT 1 FROM extents e WHERE e.chunk_id = c.id)) "
        "FROM packs p ORDER BY p.pack_id");
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      out.push_back(PackInfo{q.U32(0), q.U64(1), q.Int(2) != 0, q.U64(4), q.U64(3)});
    }
  }));
  return out;
}

Status SqliteMetadataStore::RemovePack(uint32_t pack_id) {
  return Write("RemovePack", [&](Conn& c) -> Status {
    // References are removed before a pack is deleted: refuse while any
    // chunk row still points into it.
    Query used = c.Prepare("SELECT count(*) FROM chunks WHERE pack_id = ?1");
    used.Bind(1, pack_id);
    CKPTFS_ASSIGN_OR_RETURN(bool row, used.Step());
    if (row && used.Int(0) > 0) {
      return Status::Errno(EBUSY, "pack " + std::to_string(pack_id) + " still holds " +
                                      std::to_string(used.Int(0)) + " chunks");
    }
    Query q = c.Prepare("DELETE FROM packs WHERE pack_id = ?1");
    CKPTFS_RETURN_IF_ERROR(q.Bind(1, pack_id).Run());
    if (c.changes() == 0) return Status::NotFound("pack " + std::to_string(pack_id) + " not found");
    return Status::OK();
  });
}

Result<std::vector<ChunkLocation>> SqliteMetadataStore::ListUnreferencedChunks() {
  std::vector<ChunkLocation> out;
  CKPTFS_RETURN_IF_ERROR(Read("ListUnreferencedChunks", [&](Conn& c) -> Status {
    Query q = c.Prepare(
        "SELECT id, pack_id, offset, raw_len, stored_len, codec FROM chunks c "
        "WHERE NOT EXISTS (SELECT 1 FROM extents e WHERE e.chunk_id = c.id) ORDER BY id");
    return CollectChunks(q, &out);
  }));
  return out;
}

Status SqliteMetadataStore::DeleteChunks(const std::vector<ChunkId>& ids) {
  return Write("DeleteChunks", [&](Conn& c) -> Status {
    for (const ChunkId& id : ids) {
      // Invariant 3. A chunk listed as garbage may have been deduplicated
      // against since: refuse the whole batch so gc re-lists rather than
      // dropping live data.
      Query ref = c.Prepare("SELECT ino FROM extents WHERE chunk_id = ?1 LIMIT 1");
      ref.Bind(1, id);
      CKPTFS_ASSIGN_OR_RETURN(bool used, ref.Step());
      if (used) {
        return Status::Errno(EBUSY, "cannot delete " + ChunkName(id) + ": referenced by " +
                                        InoName(ref.U64(0)));
      }
      Query q = c.Prepare("DELETE FROM chunks WHERE id = ?1");
      CKPTFS_RETURN_IF_ERROR(q.Bind(1, id).Run());
    }
    return Status::OK();
  });
}

Result<std::vector<ChunkLocation>> SqliteMetadataStore::ListChunksInPack(uint32_t pack_id) {
  std::vector<ChunkLocation> out;
  CKPTFS_RETURN_IF_ERROR(Read("ListChunksInPack", [&](Conn& c) -> Status {
    Query q = c.Prepare(
        "SELECT id, pack_id, offset, raw_len, stored_len, codec FROM chunks "
        "WHERE pack_id = ?1 ORDER BY offset");
    q.Bind(1, pack_id);
    return CollectChunks(q, &out);
  }));
  return out;
}

Status SqliteMetadataStore::RelocateChunks(const std::vector<ChunkLocation>& moved) {
  return Write("RelocateChunks", [&](Conn& c) -> Status {
    for (const ChunkLocation& l : moved) {
      // The id names the raw bytes, so raw_len cannot change; the payload
      // may be re-encoded (stored_len, codec).
      Query q = c.Prepare(
          "UPDATE chunks SET pack_id = ?2, offset = ?3, stored_len = ?5, codec = ?6 "
          "WHERE id = ?1 AND raw_len = ?4");
      q.Bind(1, l.id).Bind(2, l.pack_id).Bind(3, l.offset).Bind(4, l.raw_len);
      CKPTFS_RETURN_IF_ERROR(q.Bind(5, l.stored_len).Bind(6, static_cast<int>(l.codec)).Run());
      if (c.changes() == 0) {
        return Status::NotFound("RelocateChunks: " + ChunkName(l.id) +
                                " not found (or its raw length differs)");
      }
    }
    return Status::OK();
  });
}

Result<std::vector<ChunkLocation>> SqliteMetadataStore::ListChunks(const ChunkId& after,
                                                                   size_t limit) {
  std::vector<ChunkLocation> out;
  CKPTFS_RETURN_IF_ERROR(Read("ListChunks", [&](Conn& c) -> Status {
    // The all-zero id starts from the beginning (and includes an all-zero id,
    // should one ever exist); any other `after` is exclusive.
    const bool first = after == ChunkId{};
    Query q = c.Prepare(first ? "SELECT id, pack_id, offset, raw_len, stored_len, codec "
                                "FROM chunks WHERE id >= ?1 ORDER BY id LIMIT ?2"
                              : "SELECT id, pack_id, offset, raw_len, stored_len, codec "
                                "FROM chunks WHERE id > ?1 ORDER BY id LIMIT ?2");
    q.Bind(1, after).Bind(2, static_cast<int64_t>(std::min<uint64_t>(limit, INT64_MAX)));
    return CollectChunks(q, &out);
  }));
  return out;
}

Result<std::vector<std::pair<Ino, std::string>>> SqliteMetadataStore::FilesReferencing(
    const std::vector<ChunkId>& ids) {
  std::vector<std::pair<Ino, std::string>> out;
  CKPTFS_RETURN_IF_ERROR(Read("FilesReferencing", [&](Conn& c) -> Status {
    std::set<Ino> inos;
    for (const ChunkId& id : ids) {
      Query q = c.Prepare("SELECT DISTINCT ino FROM extents WHERE chunk_id = ?1");
      q.Bind(1, id);
      for (;;) {
        CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        inos.insert(q.U64(0));
      }
    }
    for (Ino ino : inos) {
      CKPTFS_ASSIGN_OR_RETURN(std::string path, ComputePath(c, ino));
      out.emplace_back(ino, std::move(path));
    }
    return Status::OK();
  }));
  return out;
}

// ---- xattrs ----

Result<std::string> SqliteMetadataStore::GetXattr(Ino ino, std::string_view name) {
  std::optional<std::string> out;
  CKPTFS_RETURN_IF_ERROR(Read("GetXattr", [&](Conn& c) -> Status {
    Query q = c.Prepare("SELECT value FROM xattrs WHERE ino = ?1 AND name = ?2");
    q.Bind(1, ino).BindBlob(2, name);
    CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      out = q.Blob(0);
      return Status::OK();
    }
    CKPTFS_RETURN_IF_ERROR(RequireInode(c, ino));
    return NoXattr(ino, name);
  }));
  return std::move(*out);
}

Status SqliteMetadataStore::SetXattr(Ino ino, std::string_view name, std::string_view value,
                                     int flags) {
  if (name.empty()) return Status::Errno(EINVAL, "empty xattr name for " + InoName(ino));
  return Write("SetXattr", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(RequireInode(c, ino));
    Query has = c.Prepare("SELECT 1 FROM xattrs WHERE ino = ?1 AND name = ?2");
    has.Bind(1, ino).BindBlob(2, name);
    CKPTFS_ASSIGN_OR_RETURN(bool exists, has.Step());
    if ((flags & XATTR_CREATE) && exists) {
      return Status::Errno(EEXIST, "xattr '" + std::string(name) + "' of " + InoName(ino) +
                                       " already exists");
    }
    if ((flags & XATTR_REPLACE) && !exists) return NoXattr(ino, name);
    Query q = c.Prepare("INSERT OR REPLACE INTO xattrs(ino, name, value) VALUES (?1, ?2, ?3)");
    return q.Bind(1, ino).BindBlob(2, name).BindBlob(3, value).Run();
  });
}

Result<std::vector<std::string>> SqliteMetadataStore::ListXattr(Ino ino) {
  std::vector<std::string> out;
  CKPTFS_RETURN_IF_ERROR(Read("ListXattr", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(RequireInode(c, ino));
    Query q = c.Prepare("SELECT name FROM xattrs WHERE ino = ?1 ORDER BY name");
    q.Bind(1, ino);
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      out.push_back(q.Blob(0));
    }
  }));
  return out;
}

Status SqliteMetadataStore::RemoveXattr(Ino ino, std::string_view name) {
  return Write("RemoveXattr", [&](Conn& c) -> Status {
    Query q = c.Prepare("DELETE FROM xattrs WHERE ino = ?1 AND name = ?2");
    CKPTFS_RETURN_IF_ERROR(q.Bind(1, ino).BindBlob(2, name).Run());
    if (c.changes() > 0) return Status::OK();
    CKPTFS_RETURN_IF_ERROR(RequireInode(c, ino));
    return NoXattr(ino, name);
  });
}

// ---- stats and durability ----

Result<std::vector<std::string>> SqliteMetadataStore::CheckIntegrity(size_t max_problems) {
  std::vector<std::string> problems;
  Status st = Read("CheckIntegrity", [&](Conn& c) -> Status {
    // A literal: prepared statements are cached by their SQL's address.
    Query q = c.Prepare("PRAGMA integrity_check(100)");
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      std::string line = q.Blob(0);
      // SQLite puts a newline after its "*** in database main ***" header:
      // one problem, one line.
      for (size_t at; (at = line.find('\n')) != std::string::npos;) line.replace(at, 1, " ");
      if (line != "ok" && problems.size() < max_problems) problems.push_back(label_ + ": " + line);
    }
    return Status::OK();
  });
  // A database too damaged to run the check is itself the finding.
  if (!st.ok()) {
    if (!st.IsCorruption()) return st;
    problems.push_back(st.ToString());
  }
  return problems;
}

Result<StoreStats> SqliteMetadataStore::Stats() {
  StoreStats s;
  CKPTFS_RETURN_IF_ERROR(Read("Stats", [&](Conn& c) -> Status {
    // Counts every inode row, including unlinked-but-open ones (nlink 0):
    // their extents still hold data, so the byte totals stay consistent.
    Query types = c.Prepare(
        // TOTAL, not SUM: sparse files can sum past 2^63, where SUM fails
        // with an overflow; TOTAL is exact below 2^53 and the cast
        // saturates above 2^63.
        "SELECT mode & 61440, count(*), CAST(TOTAL(size) AS INTEGER) FROM inodes GROUP BY 1");
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, types.Step());
      if (!row) break;
      const uint32_t type = types.U32(0);
      if (type == S_IFREG) {
        s.files = types.U64(1);
        s.logical_bytes = types.U64(2);
      } else if (type == S_IFDIR) {
        s.dirs = types.U64(1);
      } else if (type == S_IFLNK) {
        s.symlinks = types.U64(1);
      }
    }
    Query ext = c.Prepare("SELECT count(*), CAST(TOTAL(len) AS INTEGER) FROM extents");
    CKPTFS_ASSIGN_OR_RETURN(bool row, ext.Step());
    if (row) s.extents = ext.U64(0), s.referenced_raw_bytes = ext.U64(1);
    Query chunks = c.Prepare(
        "SELECT count(*), COALESCE(SUM(raw_len), 0), COALESCE(SUM(stored_len), 0) FROM chunks");
    CKPTFS_ASSIGN_OR_RETURN(row, chunks.Step());
    if (row) {
      s.unique_chunks = chunks.U64(0);
      s.unique_raw_bytes = chunks.U64(1);
      s.stored_bytes = chunks.U64(2);
    }
    Query packs = c.Prepare("SELECT count(*), COALESCE(SUM(size), 0) FROM packs");
    CKPTFS_ASSIGN_OR_RETURN(row, packs.Step());
    if (row) s.packs = packs.U64(0), s.pack_bytes = packs.U64(1);
    return Status::OK();
  }));
  return s;
}

// Durability of committed transactions. With journal_mode=WAL and
// synchronous=NORMAL a COMMIT appends frames to the -wal file without
// fsync; checkpoints fsync the WAL before copying it into the database and
// fsync the database before the WAL is reused. So every committed
// transaction is durable once the WAL file is synced: Sync() fsyncs it
// through SQLite's own file handle (SQLITE_FCNTL_JOURNAL_POINTER) — one
// fdatasync, no page copying, and it does not wait for readers the way
// wal_checkpoint(FULL) would. If no WAL file is open, it falls back to a
// full checkpoint, which syncs whatever exists.
Status SqliteMetadataStore::Sync() {
  if (read_only_) return Status::OK();
  std::lock_guard<std::mutex> lock(write_mu_);
  Conn& c = *writer_;
  c.set_op("Sync");
  sqlite3_file* wal = nullptr;
  int rc = sqlite3_file_control(c.db(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
  if (rc == SQLITE_OK && wal != nullptr && wal->pMethods != nullptr) {
    rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK) return SqliteStatus(rc, label_, sqlite3_errstr(rc), "Sync: fsync WAL");
    return Status::OK();
  }
  return c.Exec("PRAGMA wal_checkpoint(FULL)");
}

}  // namespace ckptfs::sqlite
