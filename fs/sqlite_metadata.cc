// SQLite metadata store: opening, connection pool, shared helpers and the
// namespace (inodes and dentries). File data, chunks, packs, xattrs and
// stats are in sqlite_data.cc. See fs/sqlite_store.h for the design.
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT
#include <sys/stat.h>

#include <cerrno>

#include "fs/sqlite_schema.h"
#include "fs/sqlite_store.h"

namespace ckptfs {

Result<std::unique_ptr<MetadataStore>> OpenSqliteMetadata(const std::string& db_path,
                                                          const SqliteMetadataOptions& options) {
  return sqlite::SqliteMetadataStore::Open(db_path, options);
}

namespace sqlite {
namespace {

// Deep enough for any real tree; a longer parent chain means a cycle.
constexpr int kMaxDepth = 4096;

bool IsDir(uint32_t mode) { return S_ISDIR(mode); }

std::string InoName(Ino ino) { return "inode " + std::to_string(ino); }

std::string EntryName(Ino parent, std::string_view name) {
  std::string s = "'";
  s.append(name).append("' in directory ").append(std::to_string(parent));
  return s;
}

// A directory that can receive new entries: LoadDir, and not removed
// (nlink 0), as POSIX gives ENOENT for creating inside a deleted directory.
Result<InodeAttr> LoadLiveDir(Conn& c, Ino dir) {
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, LoadDir(c, dir));
  if (a.nlink == 0) return Status::NotFound("directory " + InoName(dir) + " has been removed");
  return a;
}

// Rejects names no dentry may have. Length limits are the caller's
// (ENAMETOOLONG depends on the mount).
Status CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != name.npos ||
      name.find('\0') != name.npos) {
    return Status::InvalidArgument("invalid file name '" + std::string(name) + "'");
  }
  return Status::OK();
}

Status AddNlink(Conn& c, Ino ino, int64_t delta) {
  Query q = c.Prepare("UPDATE inodes SET nlink = nlink + ?2 WHERE ino = ?1");
  return q.Bind(1, ino).Bind(2, delta).Run();
}

Status SetNlinkCtime(Conn& c, Ino ino, uint32_t nlink, int64_t ctime_ns) {
  Query q = c.Prepare("UPDATE inodes SET nlink = ?2, ctime_ns = ?3 WHERE ino = ?1");
  return q.Bind(1, ino).Bind(2, nlink).Bind(3, ctime_ns).Run();
}

Status SetCtime(Conn& c, Ino ino, int64_t ctime_ns) {
  Query q = c.Prepare("UPDATE inodes SET ctime_ns = ?2 WHERE ino = ?1");
  return q.Bind(1, ino).Bind(2, ctime_ns).Run();
}

// A directory's entries changed: its mtime and ctime become `now_ns`.
Status TouchDir(Conn& c, Ino dir, int64_t now_ns) {
  Query q = c.Prepare("UPDATE inodes SET mtime_ns = ?2, ctime_ns = ?2 WHERE ino = ?1");
  return q.Bind(1, dir).Bind(2, now_ns).Run();
}

Status InsertEntry(Conn& c, Ino parent, std::string_view name, Ino ino) {
  Query q = c.Prepare("INSERT INTO dentries(parent, name, ino) VALUES (?1, ?2, ?3)");
  return q.Bind(1, parent).BindBlob(2, name).Bind(3, ino).Run();
}

Status DeleteEntry(Conn& c, Ino parent, std::string_view name) {
  Query q = c.Prepare("DELETE FROM dentries WHERE parent = ?1 AND name = ?2");
  return q.Bind(1, parent).BindBlob(2, name).Run();
}

Status SetEntryIno(Conn& c, Ino parent, std::string_view name, Ino ino) {
  Query q = c.Prepare("UPDATE dentries SET ino = ?3 WHERE parent = ?1 AND name = ?2");
  return q.Bind(1, parent).BindBlob(2, name).Bind(3, ino).Run();
}

Result<bool> HasEntries(Conn& c, Ino dir) {
  Query q = c.Prepare("SELECT 1 FROM dentries WHERE parent = ?1 LIMIT 1");
  q.Bind(1, dir);
  return q.Step();
}

// The parent of directory `dir` (root: root), or nullopt if it has no name.
Result<std::optional<Ino>> ParentOf(Conn& c, Ino dir) {
  if (dir == kRootIno) return std::optional<Ino>(kRootIno);
  Query q = c.Prepare("SELECT parent FROM dentries WHERE ino = ?1 LIMIT 1");
  q.Bind(1, dir);
  CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Ino>();
  return std::optional<Ino>(q.U64(0));
}

// EINVAL if `dir` is `ancestor` or lies below it (a directory may not be
// moved into its own subtree). Walks parents up to the root.
Status CheckNotInside(Conn& c, Ino dir, Ino ancestor) {
  Ino cur = dir;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    if (cur == ancestor) {
      return Status::Errno(EINVAL, "cannot move directory " + InoName(ancestor) +
                                       " into its own subtree (" + InoName(dir) + ")");
    }
    if (cur == kRootIno) return Status::OK();
    CKPTFS_ASSIGN_OR_RETURN(std::optional<Ino> up, ParentOf(c, cur));
    if (!up) return Status::OK();  // detached (removed) directory: no loop possible
    cur = *up;
  }
  return Status::Corruption("directory chain above " + InoName(dir) + " is too deep (cycle?)");
}

// Removes the entry parent/name that names `victim` (attr `va`), updating
// nlink as the stored-nlink invariant requires. Returns the attr after.
// REQUIRES: a directory victim is empty.
Result<InodeAttr> DropEntry(Conn& c, Ino parent, std::string_view name, InodeAttr va,
                            int64_t now_ns) {
  CKPTFS_RETURN_IF_ERROR(DeleteEntry(c, parent, name));
  if (IsDir(va.mode)) {
    va.nlink = 0;
    CKPTFS_RETURN_IF_ERROR(AddNlink(c, parent, -1));
  } else {
    va.nlink = va.nlink > 0 ? va.nlink - 1 : 0;
  }
  va.ctime_ns = now_ns;
  CKPTFS_RETURN_IF_ERROR(SetNlinkCtime(c, va.ino, va.nlink, now_ns));
  return va;
}

}  // namespace

// ---- opening and the reader pool ----

Result<std::unique_ptr<MetadataStore>> SqliteMetadataStore::Open(
    const std::string& path, const SqliteMetadataOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno(path, errno);
    if (!options.create_if_missing || options.read_only) {
      return Status::NotFound(path + ": metadata database does not exist");
    }
  } else if (!S_ISREG(st.st_mode)) {
    return Status::Corruption(path + ": not a ckptfs metadata database (not a regular file)");
  }
  std::string label = path.substr(path.find_last_of('/') + 1);

  // Schema checks run on the connection the store keeps: the writer, or a
  // first reader when read-only.
  int flags = options.read_only ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE |
                                      (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  CKPTFS_ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Conn::Open(path, flags, label));
  sqlite3_busy_timeout(conn->db(), 10000);
  CKPTFS_RETURN_IF_ERROR(
      CheckOrCreateSchema(*conn, path, options.create_if_missing && !options.read_only, options));
  CKPTFS_RETURN_IF_ERROR(ConfigureConnection(*conn, !options.read_only));

  std::unique_ptr<SqliteMetadataStore> store;
  if (options.read_only) {
    store.reset(new SqliteMetadataStore(path, label, true, nullptr));
    store->ReturnReader(std::move(conn));
  } else {
    store.reset(new SqliteMetadataStore(path, label, false, std::move(conn)));
  }
  return std::unique_ptr<MetadataStore>(std::move(store));
}

Result<std::unique_ptr<Conn>> SqliteMetadataStore::TakeReader() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return c;
    }
  }
  CKPTFS_ASSIGN_OR_RETURN(std::unique_ptr<Conn> c,
                          Conn::Open(path_, SQLITE_OPEN_READONLY, label_));
  sqlite3_busy_timeout(c->db(), 10000);
  CKPTFS_RETURN_IF_ERROR(ConfigureConnection(*c, /*writer=*/false));
  return c;
}

void SqliteMetadataStore::ReturnReader(std::unique_ptr<Conn> conn) {
  if (conn->in_txn()) return;  // could not end its snapshot: drop it
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
}

// ---- shared helpers ----

Result<InodeAttr> LoadAttr(Conn& c, Ino ino) {
  Query q = c.Prepare(
      "SELECT mode, uid, gid, nlink, size, rdev, atime_ns, mtime_ns, ctime_ns, stored_bytes "
      "FROM inodes WHERE ino = ?1");
  q.Bind(1, ino);
  CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Status::NotFound(InoName(ino) + " not found");
  InodeAttr a;
  a.ino = ino;
  a.mode = q.U32(0);
  a.uid = q.U32(1);
  a.gid = q.U32(2);
  a.nlink = q.U32(3);
  a.size = q.U64(4);
  a.rdev = q.U64(5);
  a.atime_ns = q.Int(6);
  a.mtime_ns = q.Int(7);
  a.ctime_ns = q.Int(8);
  a.stored_bytes = q.U64(9);
  return a;
}

Result<InodeAttr> LoadDir(Conn& c, Ino dir) {
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, LoadAttr(c, dir));
  if (!IsDir(a.mode)) return Status::Errno(ENOTDIR, InoName(dir) + " is not a directory");
  return a;
}

Result<std::optional<Ino>> FindEntry(Conn& c, Ino parent, std::string_view name) {
  Query q = c.Prepare("SELECT ino FROM dentries WHERE parent = ?1 AND name = ?2");
  q.Bind(1, parent).BindBlob(2, name);
  CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Ino>();
  return std::optional<Ino>(q.U64(0));
}

Result<std::string> ComputePath(Conn& c, Ino ino) {
  if (ino == kRootIno) return std::string("/");
  CKPTFS_RETURN_IF_ERROR(LoadAttr(c, ino).status());
  // Components collected leaf first; the smallest (parent, name) is chosen
  // so a hard-linked file always reports the same path.
  std::vector<std::string> parts;
  Ino cur = ino;
  for (int depth = 0; cur != kRootIno; ++depth) {
    if (depth == kMaxDepth) {
      return Status::Corruption("directory chain above " + InoName(ino) + " is too deep (cycle?)");
    }
    Query q = c.Prepare(
        "SELECT parent, name FROM dentries WHERE ino = ?1 ORDER BY parent, name LIMIT 1");
    q.Bind(1, cur);
    CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return "<inode " + std::to_string(ino) + ">";
    parts.push_back(q.Blob(1));
    cur = q.U64(0);
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path.append("/").append(*it);
  return path;
}

// ---- namespace reads ----

Result<InodeAttr> SqliteMetadataStore::GetAttr(Ino ino) {
  InodeAttr out;
  CKPTFS_RETURN_IF_ERROR(Read("GetAttr", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(out, LoadAttr(c, ino));
    return Status::OK();
  }));
  return out;
}

Result<Ino> SqliteMetadataStore::Lookup(Ino parent, std::string_view name) {
  std::optional<Ino> out;
  CKPTFS_RETURN_IF_ERROR(Read("Lookup", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(out, FindEntry(c, parent, name));
    return Status::OK();
  }));
  if (!out) return Status::NotFound(EntryName(parent, name) + " not found");
  return *out;
}

Result<std::vector<DirEntry>> SqliteMetadataStore::ReadDir(Ino dir, std::string_view after_name,
                                                           size_t limit) {
  std::vector<DirEntry> out;
  CKPTFS_RETURN_IF_ERROR(Read("ReadDir", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(LoadDir(c, dir).status());
    Query q = c.Prepare(
        "SELECT d.name, d.ino, i.mode FROM dentries d JOIN inodes i ON i.ino = d.ino "
        "WHERE d.parent = ?1 AND d.name > ?2 ORDER BY d.name LIMIT ?3");
    q.Bind(1, dir).BindBlob(2, after_name).Bind(3, static_cast<int64_t>(std::min<uint64_t>(
                                                     limit, uint64_t{INT64_MAX})));
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      out.push_back(DirEntry{q.Blob(0), q.U64(1), q.U32(2)});
    }
  }));
  return out;
}

Result<bool> SqliteMetadataStore::DirIsEmpty(Ino dir) {
  bool has = false;
  CKPTFS_RETURN_IF_ERROR(Read("DirIsEmpty", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(LoadDir(c, dir).status());
    CKPTFS_ASSIGN_OR_RETURN(has, HasEntries(c, dir));
    return Status::OK();
  }));
  return !has;
}

Result<std::string> SqliteMetadataStore::ReadLink(Ino ino) {
  std::string out;
  CKPTFS_RETURN_IF_ERROR(Read("ReadLink", [&](Conn& c) -> Status {
    Query q = c.Prepare("SELECT mode, target FROM inodes WHERE ino = ?1");
    q.Bind(1, ino);
    CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::NotFound(InoName(ino) + " not found");
    if (!S_ISLNK(q.U32(0))) return Status::Errno(EINVAL, InoName(ino) + " is not a symlink");
    out = q.Blob(1);
    return Status::OK();
  }));
  return out;
}

Result<Ino> SqliteMetadataStore::GetParent(Ino dir) {
  std::optional<Ino> out;
  CKPTFS_RETURN_IF_ERROR(Read("GetParent", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(LoadDir(c, dir).status());
    CKPTFS_ASSIGN_OR_RETURN(out, ParentOf(c, dir));
    return Status::OK();
  }));
  if (!out) return Status::NotFound("directory " + InoName(dir) + " has been removed");
  return *out;
}

Result<std::string> SqliteMetadataStore::PathOf(Ino ino) {
  std::string out;
  CKPTFS_RETURN_IF_ERROR(Read("PathOf", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(out, ComputePath(c, ino));
    return Status::OK();
  }));
  return out;
}

// ---- namespace writes ----

Result<InodeAttr> SqliteMetadataStore::Create(Ino parent, std::string_view name,
                                              const InodeAttr& attr,
                                              std::string_view symlink_target) {
  CKPTFS_RETURN_IF_ERROR(CheckName(name));
  InodeAttr out = attr;
  CKPTFS_RETURN_IF_ERROR(Write("Create", [&](Conn& c) -> Status {
    CKPTFS_RETURN_IF_ERROR(LoadLiveDir(c, parent).status());
    CKPTFS_ASSIGN_OR_RETURN(std::optional<Ino> taken, FindEntry(c, parent, name));
    if (taken) return Status::Exists(EntryName(parent, name) + " already exists");
    const bool dir = IsDir(attr.mode);
    out.nlink = dir ? 2 : 1;
    out.stored_bytes = 0;
    if (S_ISLNK(attr.mode)) out.size = symlink_target.size();
    if (dir) out.size = 0;
    {
      Query q = c.Prepare(
          "INSERT INTO inodes(mode, uid, gid, nlink, size, rdev, atime_ns, mtime_ns, ctime_ns, "
          "target) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
      q.Bind(1, out.mode).Bind(2, out.uid).Bind(3, out.gid).Bind(4, out.nlink);
      q.Bind(5, out.size).Bind(6, out.rdev).Bind(7, out.atime_ns).Bind(8, out.mtime_ns);
      q.Bind(9, out.ctime_ns);
      if (S_ISLNK(attr.mode)) q.BindBlob(10, symlink_target);
      CKPTFS_RETURN_IF_ERROR(q.Run());
    }
    out.ino = static_cast<Ino>(c.last_rowid());
    CKPTFS_RETURN_IF_ERROR(InsertEntry(c, parent, name, out.ino));
    if (dir) CKPTFS_RETURN_IF_ERROR(AddNlink(c, parent, +1));
    return TouchDir(c, parent, attr.ctime_ns);
  }));
  return out;
}

Result<InodeAttr> SqliteMetadataStore::Link(Ino ino, Ino new_parent, std::string_view new_name,
                                            int64_t now_ns) {
  CKPTFS_RETURN_IF_ERROR(CheckName(new_name));
  InodeAttr out;
  CKPTFS_RETURN_IF_ERROR(Write("Link", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(out, LoadAttr(c, ino));
    if (IsDir(out.mode)) {
      return Status::Errno(EPERM, "cannot hard-link directory " + InoName(ino));
    }
    CKPTFS_RETURN_IF_ERROR(LoadLiveDir(c, new_parent).status());
    CKPTFS_ASSIGN_OR_RETURN(std::optional<Ino> taken, FindEntry(c, new_parent, new_name));
    if (taken) return Status::Exists(EntryName(new_parent, new_name) + " already exists");
    CKPTFS_RETURN_IF_ERROR(InsertEntry(c, new_parent, new_name, ino));
    out.nlink += 1;
    out.ctime_ns = now_ns;
    CKPTFS_RETURN_IF_ERROR(SetNlinkCtime(c, ino, out.nlink, now_ns));
    return TouchDir(c, new_parent, now_ns);
  }));
  return out;
}

Result<InodeAttr> SqliteMetadataStore::Unlink(Ino parent, std::string_view name, int64_t now_ns) {
  InodeAttr out;
  CKPTFS_RETURN_IF_ERROR(Write("Unlink", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(std::optional<Ino> ino, FindEntry(c, parent, name));
    if (!ino) return Status::NotFound(EntryName(parent, name) + " not found");
    CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, LoadAttr(c, *ino));
    if (IsDir(a.mode)) {
      CKPTFS_ASSIGN_OR_RETURN(bool busy, HasEntries(c, *ino));
      if (busy) return Status::Errno(ENOTEMPTY, EntryName(parent, name) + " is not empty");
    }
    CKPTFS_ASSIGN_OR_RETURN(out, DropEntry(c, parent, name, a, now_ns));
    return TouchDir(c, parent, now_ns);
  }));
  return out;
}

Result<std::optional<InodeAttr>> SqliteMetadataStore::Rename(Ino old_parent,
                                                             std::string_view old_name,
                                                             Ino new_parent,
                                                             std::string_view new_name,
                                                             unsigned flags, int64_t now_ns) {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 ||
      ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))) {
    return Status::Errno(EINVAL, "rename: unsupported flags " + std::to_string(flags));
  }
  CKPTFS_RETURN_IF_ERROR(CheckName(new_name));
  std::optional<InodeAttr> replaced;
  CKPTFS_RETURN_IF_ERROR(Write("Rename", [&](Conn& c) -> Status {
    replaced.reset();
    CKPTFS_ASSIGN_OR_RETURN(std::optional<Ino> src, FindEntry(c, old_parent, old_name));
    if (!src) return Status::NotFound(EntryName(old_parent, old_name) + " not found");
    CKPTFS_ASSIGN_OR_RETURN(InodeAttr sa, LoadAttr(c, *src));
    CKPTFS_RETURN_IF_ERROR(LoadLiveDir(c, new_parent).status());
    CKPTFS_ASSIGN_OR_RETURN(std::optional<Ino> dst, FindEntry(c, new_parent, new_name));
    // Two names of one inode (or one name onto itself): POSIX says rename
    // does nothing and succeeds.
    if (dst && *dst == *src) return Status::OK();
    const bool sdir = IsDir(sa.mode);
    const bool cross = old_parent != new_parent;
    if (sdir && cross) CKPTFS_RETURN_IF_ERROR(CheckNotInside(c, new_parent, *src));

    if (flags & RENAME_EXCHANGE) {
      if (!dst) return Status::NotFound(EntryName(new_parent, new_name) + " not found");
      CKPTFS_ASSIGN_OR_RETURN(InodeAttr da, LoadAttr(c, *dst));
      const bool ddir = IsDir(da.mode);
      if (ddir && cross) CKPTFS_RETURN_IF_ERROR(CheckNotInside(c, old_parent, *dst));
      CKPTFS_RETURN_IF_ERROR(SetEntryIno(c, old_parent, old_name, *dst));
      CKPTFS_RETURN_IF_ERROR(SetEntryIno(c, new_parent, new_name, *src));
      // Subdirectory counts move with the directories that changed parent.
      if (cross && sdir != ddir) {
        const int64_t d = sdir ? 1 : -1;  // +1 to new_parent when src is the dir
        CKPTFS_RETURN_IF_ERROR(AddNlink(c, new_parent, d));
        CKPTFS_RETURN_IF_ERROR(AddNlink(c, old_parent, -d));
      }
      CKPTFS_RETURN_IF_ERROR(SetCtime(c, *src, now_ns));
      CKPTFS_RETURN_IF_ERROR(SetCtime(c, *dst, now_ns));
    } else {
      if (dst) {
        if (flags & RENAME_NOREPLACE) {
          return Status::Exists(EntryName(new_parent, new_name) + " already exists");
        }
        CKPTFS_ASSIGN_OR_RETURN(InodeAttr da, LoadAttr(c, *dst));
        const bool ddir = IsDir(da.mode);
        if (sdir && !ddir) {
          return Status::Errno(ENOTDIR, EntryName(new_parent, new_name) + " is not a directory");
        }
        if (!sdir && ddir) {
          return Status::Errno(EISDIR, EntryName(new_parent, new_name) + " is a directory");
        }
        if (ddir) {
          CKPTFS_ASSIGN_OR_RETURN(bool busy, HasEntries(c, *dst));
          if (busy) return Status::Errno(ENOTEMPTY, EntryName(new_parent, new_name) + " is not empty");
        }
        CKPTFS_ASSIGN_OR_RETURN(InodeAttr after, DropEntry(c, new_parent, new_name, da, now_ns));
        replaced = after;
      }
      // Move the entry: delete + insert (the key changes).
      CKPTFS_RETURN_IF_ERROR(DeleteEntry(c, old_parent, old_name));
      CKPTFS_RETURN_IF_ERROR(InsertEntry(c, new_parent, new_name, *src));
      if (sdir && cross) {
        CKPTFS_RETURN_IF_ERROR(AddNlink(c, old_parent, -1));
        CKPTFS_RETURN_IF_ERROR(AddNlink(c, new_parent, +1));
      }
      CKPTFS_RETURN_IF_ERROR(SetCtime(c, *src, now_ns));
    }
    CKPTFS_RETURN_IF_ERROR(TouchDir(c, old_parent, now_ns));
    return cross ? TouchDir(c, new_parent, now_ns) : Status::OK();
  }));
  return replaced;
}

Result<InodeAttr> SqliteMetadataStore::SetAttr(Ino ino, const InodeAttr& v, uint32_t mask) {
  InodeAttr out;
  CKPTFS_RETURN_IF_ERROR(Write("SetAttr", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(out, LoadAttr(c, ino));
    // chmod changes permission bits only; the type bits are the inode's.
    if (mask & kSetMode) out.mode = (out.mode & S_IFMT) | (v.mode & ~S_IFMT);
    if (mask & kSetUid) out.uid = v.uid;
    if (mask & kSetGid) out.gid = v.gid;
    if (mask & kSetAtime) out.atime_ns = v.atime_ns;
    if (mask & kSetMtime) out.mtime_ns = v.mtime_ns;
    if (mask & kSetCtime) out.ctime_ns = v.ctime_ns;
    bool extents_changed = false;
    if (mask & kSetSize) {
      if (IsDir(out.mode)) return Status::Errno(EISDIR, InoName(ino) + " is a directory");
      if (!S_ISREG(out.mode)) {
        return Status::Errno(EINVAL, "cannot change the size of non-regular " + InoName(ino));
      }
      if (v.size < out.size) {
        // Drop extents at or past the new end, clip the one straddling it.
        Query drop = c.Prepare("DELETE FROM extents WHERE ino = ?1 AND file_off >= ?2");
        CKPTFS_RETURN_IF_ERROR(drop.Bind(1, ino).Bind(2, v.size).Run());
        Query clip = c.Prepare(
            "UPDATE extents SET len = ?2 - file_off "
            "WHERE ino = ?1 AND file_off < ?2 AND file_off + len > ?2");
        CKPTFS_RETURN_IF_ERROR(clip.Bind(1, ino).Bind(2, v.size).Run());
        extents_changed = true;
      }
      // Growing adds no extents: the new range is a hole.
      out.size = v.size;
    }
    Query q = c.Prepare(
        "UPDATE inodes SET mode = ?2, uid = ?3, gid = ?4, size = ?5, atime_ns = ?6, "
        "mtime_ns = ?7, ctime_ns = ?8 WHERE ino = ?1");
    q.Bind(1, ino).Bind(2, out.mode).Bind(3, out.uid).Bind(4, out.gid).Bind(5, out.size);
    q.Bind(6, out.atime_ns).Bind(7, out.mtime_ns).Bind(8, out.ctime_ns);
    CKPTFS_RETURN_IF_ERROR(q.Run());
    if (extents_changed) {
      CKPTFS_RETURN_IF_ERROR(RefreshStoredBytes(c, ino));
      CKPTFS_ASSIGN_OR_RETURN(out, LoadAttr(c, ino));
    }
    return Status::OK();
  }));
  return out;
}

Status SqliteMetadataStore::DeleteInode(Ino ino) {
  return Write("DeleteInode", [&](Conn& c) -> Status {
    CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, LoadAttr(c, ino));
    if (a.nlink != 0 || ino == kRootIno) {
      return Status::Errno(EBUSY, "cannot delete " + InoName(ino) + ": it still has " +
                                      std::to_string(a.nlink) + " links");
    }
    if (IsDir(a.mode)) {
      CKPTFS_ASSIGN_OR_RETURN(bool busy, HasEntries(c, ino));
      if (busy) return Status::Errno(ENOTEMPTY, "cannot delete non-empty " + InoName(ino));
    }
    Query e = c.Prepare("DELETE FROM extents WHERE ino = ?1");
    CKPTFS_RETURN_IF_ERROR(e.Bind(1, ino).Run());
    Query x = c.Prepare("DELETE FROM xattrs WHERE ino = ?1");
    CKPTFS_RETURN_IF_ERROR(x.Bind(1, ino).Run());
    Query i = c.Prepare("DELETE FROM inodes WHERE ino = ?1");
    return i.Bind(1, ino).Run();
  });
}

Result<std::vector<Ino>> SqliteMetadataStore::ListOrphans() {
  std::vector<Ino> out;
  CKPTFS_RETURN_IF_ERROR(Read("ListOrphans", [&](Conn& c) -> Status {
    Query q = c.Prepare("SELECT ino FROM inodes WHERE nlink = 0 ORDER BY ino");
    for (;;) {
      CKPTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      out.push_back(q.U64(0));
    }
  }));
  return out;
}

}  // namespace sqlite
}  // namespace ckptfs
