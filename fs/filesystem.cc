// Filesystem::Init / Filesystem::Open: creating and opening a store.
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "fs/filesystem_impl.h"

namespace ckptfs {
namespace {

constexpr const char* kConfigFile = "/ckptfs.json";

}  // namespace

Status Filesystem::Init(const std::string& dir, const InitOptions& options, Env* env) {
  if (!env) env = Env::Default();
  if (!options.chunker.Valid())
    return Status::InvalidArgument("invalid chunk sizes: need min < avg < max, avg a power of two");
  if (options.compression.zstd_level < 1 || options.compression.zstd_level > 19)
    return Status::InvalidArgument("zstd level must be between 1 and 19");
  if (env->FileExists(dir)) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
    if (!S_ISDIR(st.st_mode)) return Status::Errno(ENOTDIR, dir + " exists and is not a directory");
    if (env->FileExists(dir + kConfigFile))
      return Status::Exists(dir + " is already a ckptfs store");
    CKPTFS_ASSIGN_OR_RETURN(auto children, env->GetChildren(dir));
    if (!children.empty())
      return Status::Errno(ENOTEMPTY, dir + " is not empty and is not a ckptfs store; "
                                            "choose an empty or new directory");
  } else {
    CKPTFS_RETURN_IF_ERROR(env->CreateDir(dir));
  }
  CKPTFS_ASSIGN_OR_RETURN(auto lock, env->LockFile(dir + "/lock"));
  CKPTFS_RETURN_IF_ERROR(env->CreateDir(dir + "/packs"));
  CKPTFS_RETURN_IF_ERROR(env->CreateDir(dir + "/staging"));
  SqliteMetadataOptions mo;
  mo.create_if_missing = true;
  mo.root_uid = options.root_uid;
  mo.root_gid = options.root_gid;
  {
    CKPTFS_ASSIGN_OR_RETURN(auto meta, OpenSqliteMetadata(dir + "/meta.db", mo));
    CKPTFS_RETURN_IF_ERROR(meta->Sync());
  }
  // The config is written last: its presence marks a complete store.
  StoreConfig config = StoreConfig::New(options.chunker, options.compression);
  CKPTFS_RETURN_IF_ERROR(env->WriteFileAtomic(dir + kConfigFile, AsBytes(config.ToJson())));
  // The config holds the chunk-id secret: readable by the store's owner only.
  if (::chmod((dir + kConfigFile).c_str(), 0600) != 0)
    return Status::FromErrno("chmod " + dir + kConfigFile, errno);
  return Status::OK();
}

Status NotAStoreError(Env* env, const std::string& dir) {
  // `init` is suggested only for an empty directory: anything else (a
  // mount, a directory inside a mount, "/") is more likely the wrong path
  // than a store to create.
  auto children = env->GetChildren(dir);
  const bool empty = children.ok() && children->empty();
  return Status::NotFound(dir + " is not a ckptfs store (no ckptfs.json)" +
                          (empty ? "; create one with `ckptfs init " + dir + "`"
                                 : std::string("; give the store directory (the one "
                                               "`ckptfs init` created)")));
}

namespace {

bool DiskNearlyFull(Env* env, const std::string& dir) {
  auto space = env->GetSpace(dir);
  return space.ok() && space->free_bytes < (1u << 20);
}

}  // namespace

Result<std::unique_ptr<Filesystem>> Filesystem::Open(const std::string& dir,
                                                     const StoreOptions& options_in) {
  StoreOptions options = options_in;
  Env* env = options.env ? options.env : Env::Default();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("store " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::Errno(ENOTDIR, "store " + dir + " is not a directory");
  if (!env->FileExists(dir + kConfigFile))
    return NotAStoreError(env, dir);
  CKPTFS_ASSIGN_OR_RETURN(std::string text, env->ReadFileToString(dir + kConfigFile));
  CKPTFS_ASSIGN_OR_RETURN(StoreConfig config, StoreConfig::FromJson(text, dir + kConfigFile));
  std::unique_ptr<FileLock> lock;
  if (!options.read_only) {
    auto l = env->LockFile(dir + "/lock");
    if (!l.ok()) return l.status().WithContext("store " + dir);
    lock = std::move(l).value();
  }
  SqliteMetadataOptions mo;
  mo.read_only = options.read_only;
  auto meta = OpenSqliteMetadata(dir + "/meta.db", mo);
  if (!meta.ok() && DiskNearlyFull(env, dir)) {
    // SQLite cannot create its log and shared-memory files on a full disk
    // (filled from outside the store: the mounted daemon keeps its own
    // floor). The reserve is there for this, but only for opens that can
    // free space (rm, gc, a mount): spent on `ls`, it could be taken by
    // another writer before the `rm` that needed it. The next writable open
    // with room re-creates it.
    if (!options.read_only && env->FileExists(dir + "/reserve") &&
        env->RemoveFile(dir + "/reserve").ok())
      meta = OpenSqliteMetadata(dir + "/meta.db", mo);
    if (!meta.ok())
      return Status::NoSpace(
          "store " + dir + ": the disk is full, and the metadata database needs a little free " +
          "space to open; free some space outside the store" +
          (options.read_only ? " (or delete files: `ckptfs rm` and `ckptfs gc` can use the "
                               "store's reserve)"
                             : ""));
  }
  if (!meta.ok()) return meta.status().WithContext("store " + dir);
  unsigned workers = options.workers ? options.workers : std::thread::hardware_concurrency();
  auto pool = std::make_unique<ThreadPool>(workers ? workers : 2);
  ChunkStore::Options co;
  co.cache_bytes = options.cache_bytes;
  co.read_only = options.read_only;
  CKPTFS_ASSIGN_OR_RETURN(auto chunks,
                          ChunkStore::Open(env, dir, meta->get(), config, co, pool.get()));
  auto fs = std::make_unique<FilesystemImpl>(env, dir, std::move(config), options, std::move(lock),
                                             std::move(meta).value(), std::move(pool),
                                             std::move(chunks));
  CKPTFS_RETURN_IF_ERROR(fs->Recover());
  fs->StartBackgroundGc();
  return std::unique_ptr<Filesystem>(std::move(fs));
}

Result<InodeAttr> ResolvePath(Filesystem& fs, std::string_view path) {
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr cur, fs.GetAttr(kRootIno));
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view part = path.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (!S_ISDIR(cur.mode)) return Status::Errno(ENOTDIR, std::string(path) + ": not a directory");
    auto r = fs.Lookup(cur.ino, part);
    if (!r.ok()) {
      if (r.status().IsNotFound()) return Status::NotFound(std::string(path) + ": no such file or directory");
      return r.status();
    }
    cur = *r;
  }
  return cur;
}

}  // namespace ckptfs
