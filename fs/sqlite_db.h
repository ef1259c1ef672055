// RAII wrappers over the SQLite C API, used only by the SQLite metadata store.
//
//   Conn   owns one sqlite3* connection and a cache of its prepared statements.
//   Query  is one use of a cached statement: bind, step, read columns. Its
//          destructor resets the statement, so no statement ever keeps a read
//          snapshot (and with it a WAL checkpoint) pinned after use.
//
// Thread safety: a Conn and its Queries are used by one thread at a time; the
// owner (SqliteMetadataStore) serializes access with its own locks. The
// connection is opened with SQLITE_OPEN_NOMUTEX for that reason.
//
// Errors: every SQLite failure becomes a Status whose message is
// "<db file name>: <sqlite errmsg> (<operation>)", with the code chosen by
// SqliteStatus() below.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"
#include "codec/chunk_id.h"

namespace ckptfs::sqlite {

// Maps an SQLite result code to our Status codes:
//   SQLITE_FULL -> NoSpace; SQLITE_CORRUPT/NOTADB -> Corruption;
//   SQLITE_BUSY/LOCKED -> Busy; SQLITE_READONLY -> EROFS;
//   SQLITE_CONSTRAINT -> Exists; SQLITE_NOMEM -> ENOMEM; anything else -> EIO.
Status SqliteStatus(int rc, std::string_view label, std::string_view errmsg,
                    std::string_view op);

// Owns a prepared statement (finalized on destruction).
class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

class Conn;

// One execution of a cached statement. Parameter indexes are 1-based,
// column indexes 0-based (as in the C API). A bind or prepare error is kept
// and returned by the first Step()/Run().
class Query {
 public:
  Query(Conn* conn, sqlite3_stmt* stmt, Status prepare_error);
  ~Query();
  Query(Query&& o) noexcept;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& operator=(Query&&) = delete;

  Query& Bind(int i, int64_t v);
  Query& Bind(int i, uint64_t v) { return Bind(i, static_cast<int64_t>(v)); }
  Query& Bind(int i, uint32_t v) { return Bind(i, static_cast<int64_t>(v)); }
  Query& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  // Binds bytes as a BLOB (names and values are byte strings, compared with
  // memcmp). An empty view binds a zero-length blob, never NULL.
  Query& BindBlob(int i, std::string_view bytes);
  Query& Bind(int i, const ChunkId& id);

  // Steps once. true: a row is available; false: done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  uint64_t U64(int col) const { return static_cast<uint64_t>(Int(col)); }
  uint32_t U32(int col) const { return static_cast<uint32_t>(Int(col)); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string Blob(int col) const;
  // A 16-byte BLOB column as a ChunkId; other sizes read as a short/zero id.
  ChunkId Id(int col) const;

 private:
  Conn* conn_;
  sqlite3_stmt* s_;
  Status error_;
};

// Owns one connection and the statements prepared on it.
class Conn {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (| SQLITE_OPEN_NOMUTEX).
  // `label` names the database in error messages (normally "meta.db").
  static Result<std::unique_ptr<Conn>> Open(const std::string& path, int flags,
                                            std::string label);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Returns a Query over the cached statement for `sql`.
  // REQUIRES: `sql` has static storage duration (the cache is keyed by its
  // address, which makes a lookup one hash of a pointer).
  Query Prepare(const char* sql);
  // Runs one or more statements without caching (pragmas, DDL).
  Status Exec(const char* sql);

  // The operation named in error messages, e.g. "Rename". Set by the
  // transaction helpers of the store. REQUIRES: static storage duration.
  void set_op(const char* op) { op_ = op; }
  Status Error(int rc) const;

  sqlite3* db() const { return db_; }
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_rowid() const { return sqlite3_last_insert_rowid(db_); }
  bool in_txn() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  Conn(sqlite3* db, std::string label) : db_(db), label_(std::move(label)) {}
  sqlite3* db_;
  std::string label_;
  const char* op_ = "open";
  std::unordered_map<const char*, Stmt> cache_;
};

}  // namespace ckptfs::sqlite
