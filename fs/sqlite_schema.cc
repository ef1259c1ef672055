#include "fs/sqlite_schema.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

namespace ckptfs::sqlite {
namespace {

// Version 1. Runs once, inside the creating transaction, on an empty
// database (so no IF NOT EXISTS: a half-created schema cannot exist).
//
// Types: integers are SQLite INTEGER (64-bit signed; uint64 values are stored
// by bit pattern). Names, symlink targets, xattr names/values and chunk ids
// are BLOBs so that ordering is memcmp and no text encoding is implied.
constexpr const char* kCreateSchema = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;

CREATE TABLE inodes(
  ino          INTEGER PRIMARY KEY AUTOINCREMENT,
  mode         INTEGER NOT NULL,
  uid          INTEGER NOT NULL,
  gid          INTEGER NOT NULL,
  nlink        INTEGER NOT NULL,
  size         INTEGER NOT NULL,
  rdev         INTEGER NOT NULL DEFAULT 0,
  atime_ns     INTEGER NOT NULL,
  mtime_ns     INTEGER NOT NULL,
  ctime_ns     INTEGER NOT NULL,
  target       BLOB,
  stored_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inodes_orphans ON inodes(ino) WHERE nlink = 0;

CREATE TABLE dentries(
  parent INTEGER NOT NULL,
  name   BLOB NOT NULL,
  ino    INTEGER NOT NULL,
  PRIMARY KEY(parent, name)
) WITHOUT ROWID;
CREATE INDEX dentries_by_ino ON dentries(ino);

CREATE TABLE extents(
  ino       INTEGER NOT NULL,
  file_off  INTEGER NOT NULL,
  len       INTEGER NOT NULL,
  chunk_id  BLOB NOT NULL,
  chunk_off INTEGER NOT NULL,
  PRIMARY KEY(ino, file_off)
) WITHOUT ROWID;
CREATE INDEX extents_by_chunk ON extents(chunk_id);

CREATE TABLE chunks(
  id         BLOB PRIMARY KEY,
  pack_id    INTEGER NOT NULL,
  offset     INTEGER NOT NULL,
  raw_len    INTEGER NOT NULL,
  stored_len INTEGER NOT NULL,
  codec      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX chunks_by_pack ON chunks(pack_id, offset);

CREATE TABLE packs(
  pack_id INTEGER PRIMARY KEY,
  size    INTEGER NOT NULL,
  sealed  INTEGER NOT NULL
);

CREATE TABLE xattrs(
  ino   INTEGER NOT NULL,
  name  BLOB NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY(ino, name)
) WITHOUT ROWID;
)sql";

// Tables CheckOrCreateSchema requires; a file lacking one is damaged.
constexpr const char* kCountOurTables =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
    "('meta','inodes','dentries','extents','chunks','packs','xattrs')";
constexpr int kOurTables = 7;

std::string NotOurs(const std::string& path, std::string_view why) {
  std::string m = path;
  m.append(": not a ckptfs metadata database (").append(why).append(")");
  return m;
}

// Reads a single-integer pragma/query. SQLite errors come back with the
// code SqliteStatus assigns (NOTADB/CORRUPT -> Corruption).
Result<int64_t> ScalarInt(Conn& conn, const char* sql) {
  Query q = conn.Prepare(sql);
  CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : int64_t{0};
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status CreateSchema(Conn& conn, const SqliteMetadataOptions& o) {
  // WAL before the first write so even creation goes through the WAL.
  CKPTFS_RETURN_IF_ERROR(conn.Exec("PRAGMA journal_mode=WAL"));
  CKPTFS_RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
  Status s = [&]() -> Status {
    // Another process may have created it between our check and the lock.
    CKPTFS_ASSIGN_OR_RETURN(int64_t n, ScalarInt(conn, "SELECT count(*) FROM sqlite_schema"));
    if (n != 0) return Status::Busy("metadata database was created concurrently; retry open");
    CKPTFS_RETURN_IF_ERROR(conn.Exec(kCreateSchema));
    char pragmas[128];
    std::snprintf(pragmas, sizeof(pragmas), "PRAGMA application_id=%u; PRAGMA user_version=%lld",
                  kApplicationId, static_cast<long long>(kSchemaVersion));
    CKPTFS_RETURN_IF_ERROR(conn.Exec(pragmas));
    int64_t now = NowNs();
    {
      Query q = conn.Prepare(
          "INSERT INTO meta(key, value) VALUES ('schema_version', ?1), "
          "('format', 'ckptfs-metadata'), ('created_ns', ?2)");
      CKPTFS_RETURN_IF_ERROR(q.Bind(1, kSchemaVersion).Bind(2, now).Run());
    }
    // The root directory: inode 1, nlink 2 ("." and its own name), no dentry.
    Query q = conn.Prepare(
        "INSERT INTO inodes(ino, mode, uid, gid, nlink, size, rdev, atime_ns, mtime_ns, "
        "ctime_ns) VALUES (?1, ?2, ?3, ?4, 2, 0, 0, ?5, ?5, ?5)");
    return q.Bind(1, kRootIno)
        .Bind(2, static_cast<uint32_t>(S_IFDIR | (o.root_mode & 07777)))
        .Bind(3, o.root_uid)
        .Bind(4, o.root_gid)
        .Bind(5, now)
        .Run();
  }();
  if (!s.ok()) {
    (void)conn.Exec("ROLLBACK");
    return s;
  }
  return conn.Exec("COMMIT");
}

// With no WAL content, every page the header counts must be in the file. A
// shorter file was truncated (copied partially, disk full during a copy...).
Status CheckNotTruncated(Conn& conn, const std::string& path) {
  struct stat wal;
  if (::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) return Status::OK();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(path, errno);
  CKPTFS_ASSIGN_OR_RETURN(int64_t pages, ScalarInt(conn, "PRAGMA page_count"));
  CKPTFS_ASSIGN_OR_RETURN(int64_t page_size, ScalarInt(conn, "PRAGMA page_size"));
  if (pages * page_size > static_cast<int64_t>(st.st_size)) {
    return Status::Corruption(path + ": metadata database is truncated (header counts " +
                              std::to_string(pages * page_size) + " bytes, file has " +
                              std::to_string(st.st_size) + ")");
  }
  return Status::OK();
}

}  // namespace

Status ConfigureConnection(Conn& conn, bool writer) {
  // foreign_keys stay off: the store enforces its invariants in code, where
  // it can name the offending object in the error.
  CKPTFS_RETURN_IF_ERROR(conn.Exec(
      "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY"));
  if (!writer) return conn.Exec("PRAGMA query_only=ON");
  Query q = conn.Prepare("PRAGMA journal_mode=WAL");
  CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  std::string mode = row ? q.Blob(0) : "";
  if (mode != "wal") {
    return Status::Errno(EIO, "meta.db: cannot switch to WAL journal mode (got '" + mode + "')");
  }
  // NORMAL: commits append to the WAL without fsync; the WAL is synced at
  // checkpoints and by MetadataStore::Sync(). A crash loses at most the
  // transactions since the last sync, never consistency.
  return conn.Exec("PRAGMA synchronous=NORMAL");
}

Status CheckOrCreateSchema(Conn& conn, const std::string& path, bool create,
                           const SqliteMetadataOptions& options) {
  // The first read of the header: a non-SQLite file fails here with
  // SQLITE_NOTADB ("file is not a database").
  Result<int64_t> app = ScalarInt(conn, "PRAGMA application_id");
  if (!app.ok()) {
    if (app.status().IsCorruption()) {
      return Status::Corruption(NotOurs(path, sqlite3_errmsg(conn.db())));
    }
    return app.status().WithContext(path);
  }
  Result<int64_t> tables = ScalarInt(conn, "SELECT count(*) FROM sqlite_schema");
  if (!tables.ok()) {
    if (tables.status().IsCorruption()) {
      return Status::Corruption(NotOurs(path, sqlite3_errmsg(conn.db())));
    }
    return tables.status().WithContext(path);
  }
  if (*app == 0 && *tables == 0) {
    if (create) {
      Status s = CreateSchema(conn, options);
      return s.ok() ? s : s.WithContext(path);
    }
    return Status::Corruption(NotOurs(path, "empty database"));
  }
  if (static_cast<uint32_t>(*app) != kApplicationId) {
    char why[96];
    std::snprintf(why, sizeof(why), "application_id 0x%08x, expected 0x%08x",
                  static_cast<uint32_t>(*app), kApplicationId);
    return Status::Corruption(NotOurs(path, why));
  }
  CKPTFS_ASSIGN_OR_RETURN(int64_t version, ScalarInt(conn, "PRAGMA user_version"));
  if (version > kSchemaVersion) {
    return Status::Version(path + ": metadata schema version " + std::to_string(version) +
                           " is newer than this build supports (" +
                           std::to_string(kSchemaVersion) + ")");
  }
  if (version < 1) {
    return Status::Corruption(NotOurs(path, "schema version " + std::to_string(version)));
  }
  // Future versions migrate older schemas here, inside one transaction.
  Result<int64_t> ours = ScalarInt(conn, kCountOurTables);
  if (!ours.ok()) return Status::Corruption(NotOurs(path, ours.status().message()));
  if (*ours != kOurTables) {
    return Status::Corruption(path + ": metadata database is damaged (" +
                              std::to_string(kOurTables - *ours) + " tables missing)");
  }
  return CheckNotTruncated(conn, path);
}

}  // namespace ckptfs::sqlite
