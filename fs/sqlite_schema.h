// The metadata database's schema: identification, creation and checks at
// open. The byte-level description is docs/metadata_schema.md; keep the two
// in step and bump kSchemaVersion on any incompatible change.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "fs/metadata.h"
#include "fs/sqlite_db.h"

namespace ckptfs::sqlite {

// PRAGMA application_id: "ckpt" in ASCII. Tells our file apart from any
// other SQLite database.
inline constexpr uint32_t kApplicationId = 0x636B7074;
// PRAGMA user_version, mirrored in meta('schema_version').
inline constexpr int64_t kSchemaVersion = 1;

// Per-connection settings: busy_timeout, foreign_keys off, cache size; for
// the writer also journal_mode=WAL and synchronous=NORMAL.
Status ConfigureConnection(Conn& conn, bool writer);

// Verifies that `conn` (opened on `path`) holds a ckptfs metadata database
// whose schema this build reads:
//   - not an SQLite file, unreadable header or damaged schema -> Corruption;
//   - an empty database (no tables, application_id 0): with `create` the
//     schema and the root directory are created in one transaction,
//     otherwise Corruption;
//   - another application_id -> Corruption;
//   - user_version newer than kSchemaVersion -> Version;
//   - a database file shorter than its header says, with no WAL that could
//     supply the missing pages -> Corruption (cheap truncation check).
// Messages name `path`.
// REQUIRES: `conn` is not in a transaction; `create` only for a writer.
Status CheckOrCreateSchema(Conn& conn, const std::string& path, bool create,
                           const SqliteMetadataOptions& options);

}  // namespace ckptfs::sqlite
