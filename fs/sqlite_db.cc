#include "fs/sqlite_db.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ckptfs::sqlite {

Status SqliteStatus(int rc, std::string_view label, std::string_view errmsg,
                    std::string_view op) {
  std::string msg;
  msg.reserve(label.size() + errmsg.size() + op.size() + 8);
  msg.append(label).append(": ").append(errmsg).append(" (").append(op).append(")");
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return Status::NoSpace(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(msg);
    case SQLITE_READONLY:
      return Status::Errno(EROFS, msg);
    case SQLITE_CONSTRAINT:
      return Status::Exists(msg);
    case SQLITE_NOMEM:
      return Status::Errno(ENOMEM, msg);
    case SQLITE_TOOBIG:
      return Status::Errno(E2BIG, msg);
    default:
      return Status::Errno(EIO, msg);
  }
}

// ---- Query ----

Query::Query(Conn* conn, sqlite3_stmt* stmt, Status prepare_error)
    : conn_(conn), s_(stmt), error_(std::move(prepare_error)) {}

Query::Query(Query&& o) noexcept : conn_(o.conn_), s_(o.s_), error_(std::move(o.error_)) {
  o.s_ = nullptr;
}

Query::~Query() {
  if (s_ != nullptr) {
    // Ends the statement's read (releasing its snapshot outside a transaction)
    // and drops bound blobs so the next use starts clean.
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

Query& Query::Bind(int i, int64_t v) {
  if (error_.ok()) {
    int rc = sqlite3_bind_int64(s_, i, v);
    if (rc != SQLITE_OK) error_ = conn_->Error(rc);
  }
  return *this;
}

Query& Query::BindBlob(int i, std::string_view bytes) {
  if (error_.ok()) {
    // sqlite3_bind_blob with a null pointer binds NULL, which compares as
    // unknown; an empty name must be a zero-length blob instead.
    static const char kEmpty = 0;
    const char* p = bytes.empty() ? &kEmpty : bytes.data();
    int rc = sqlite3_bind_blob64(s_, i, p, bytes.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) error_ = conn_->Error(rc);
  }
  return *this;
}

Query& Query::Bind(int i, const ChunkId& id) {
  return BindBlob(i, std::string_view(reinterpret_cast<const char*>(id.bytes.data()),
                                      id.bytes.size()));
}

Result<bool> Query::Step() {
  if (!error_.ok()) return error_;
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  error_ = conn_->Error(rc);
  return error_;
}

Status Query::Run() {
  for (;;) {
    Result<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::OK();
  }
}

std::string Query::Blob(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

ChunkId Query::Id(int col) const {
  ChunkId id;
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  if (p != nullptr && n > 0) {
    std::memcpy(id.bytes.data(), p, std::min<size_t>(static_cast<size_t>(n), id.bytes.size()));
  }
  return id;
}

// ---- Conn ----

Result<std::unique_ptr<Conn>> Conn::Open(const std::string& path, int flags, std::string label) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string err = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return SqliteStatus(rc, path, err, "open");
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Conn>(new Conn(db, std::move(label)));
}

Conn::~Conn() {
  cache_.clear();  // finalize every statement before closing
  sqlite3_close_v2(db_);
}

Query Conn::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      return Query(this, nullptr, Error(rc));
    }
    it = cache_.emplace(sql, Stmt(s)).first;
  }
  // One cached statement serves one Query at a time: re-preparing SQL whose
  // Query is still mid-iteration would reset it under its user.
  assert(!sqlite3_stmt_busy(it->second.get()) && "cached statement used re-entrantly");
  return Query(this, it->second.get(), Status::OK());
}

Status Conn::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::OK();
  Status s = SqliteStatus(rc, label_, err != nullptr ? err : sqlite3_errstr(rc), op_);
  sqlite3_free(err);
  return s;
}

Status Conn::Error(int rc) const {
  // sqlite3_errmsg describes the most recent failure on this connection,
  // which is `rc` because the connection is used by one thread at a time.
  return SqliteStatus(rc, label_, sqlite3_errmsg(db_), op_);
}

}  // namespace ckptfs::sqlite
