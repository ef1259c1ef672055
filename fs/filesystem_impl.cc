#include "fs/filesystem_impl.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace ckptfs {
namespace {

constexpr size_t kNameMax = 255;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return Status::Errno(EINVAL, "invalid name");
  if (name.size() > kNameMax)
    return Status::Errno(ENAMETOOLONG, "name longer than 255 bytes: " + std::string(name.substr(0, 32)) + "...");
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    return Status::Errno(EINVAL, "name contains '/' or NUL");
  return Status::OK();
}

bool IsWrite(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

}  // namespace

FilesystemImpl::FilesystemImpl(Env* env, std::string dir, StoreConfig config,
                               StoreOptions options, std::unique_ptr<FileLock> lock,
                               std::unique_ptr<MetadataStore> meta,
                               std::unique_ptr<ThreadPool> pool,
                               std::unique_ptr<ChunkStore> chunks)
    : env_(env),
      dir_(std::move(dir)),
      config_(std::move(config)),
      options_(std::move(options)),
      lock_(std::move(lock)),
      meta_(std::move(meta)),
      pool_(std::move(pool)),
      chunks_(std::move(chunks)) {}

FilesystemImpl::~FilesystemImpl() {
  {
    std::lock_guard<std::mutex> l(gc_mu_);
    stopping_ = true;
  }
  gc_cv_.notify_all();
  if (gc_thread_.joinable()) gc_thread_.join();
  (void)SyncAll();
  {
    std::lock_guard<std::mutex> l(handles_mu_);
    handles_.clear();
  }
  {
    std::lock_guard<std::mutex> l(open_mu_);
    open_.clear();  // FileData destructors release holds and staging files
  }
  if (chunks_) (void)chunks_->Close();
  pool_.reset();  // joins the workers first: queued readahead tasks use chunks_
  chunks_.reset();
  meta_.reset();
}

Status FilesystemImpl::Recover() {
  if (options_.read_only) return Status::OK();
  auto files = env_->GetChildren(dir_ + "/staging");
  if (files.ok())
    for (const auto& f : *files) (void)env_->RemoveFile(dir_ + "/staging/" + f);
  CKPTFS_ASSIGN_OR_RETURN(auto orphans, meta_->ListOrphans());
  for (Ino ino : orphans) CKPTFS_RETURN_IF_ERROR(meta_->DeleteInode(ino));
  EnsureReserve();
  return Status::OK();
}

void FilesystemImpl::EnsureReserve() {
  std::lock_guard<std::mutex> l(reserve_mu_);
  if (reserve_present_ || options_.read_only) return;
  auto space = env_->GetSpace(dir_);
  if (!space.ok()) return;
  const uint64_t size = std::clamp<uint64_t>(space->total_bytes / 50, 1 << 20, 16 << 20);
  // An existing reserve is left untouched: opening a store for a command
  // that fails (bad input) must not modify anything in it.
  if (auto cur = env_->GetFileSize(dir_ + "/reserve"); cur.ok() && *cur >= size) {
    reserve_present_ = true;
    return;
  }
  if (space->free_bytes < 2 * size) return;  // retried after the next gc
  reserve_present_ = env_->Preallocate(dir_ + "/reserve", size).ok();
}

Status FilesystemImpl::WithReserve(const std::function<Status()>& op) {
  Status st = op();
  if (st.err() != ENOSPC) return st;
  {
    std::lock_guard<std::mutex> l(reserve_mu_);
    if (!reserve_present_) return st;
    (void)env_->RemoveFile(dir_ + "/reserve");
    reserve_present_ = false;
  }
  NoteGarbage(0);
  return op();
}

void FilesystemImpl::NoteGarbage(uint64_t bytes) {
  if (!options_.auto_gc_bytes) return;
  std::lock_guard<std::mutex> l(gc_mu_);
  garbage_bytes_ += bytes;
  if (bytes == 0 || garbage_bytes_ >= options_.auto_gc_bytes) {
    gc_wanted_ = true;
    gc_cv_.notify_all();
  }
}

void FilesystemImpl::StartBackgroundGc() {
  if (options_.auto_gc_bytes && !options_.read_only) gc_thread_ = std::thread([this] { GcLoop(); });
}

void FilesystemImpl::GcLoop() {
  std::unique_lock<std::mutex> l(gc_mu_);
  for (;;) {
    gc_cv_.wait(l, [this] { return stopping_ || gc_wanted_; });
    if (stopping_) return;
    gc_wanted_ = false;
    garbage_bytes_ = 0;
    l.unlock();
    (void)Gc(nullptr);  // errors resurface on the next explicit gc or fsck
    l.lock();
  }
}

Status FilesystemImpl::CheckWritable() const {
  if (options_.read_only) return Status::Errno(EROFS, "store " + dir_ + " is read-only");
  return Status::OK();
}

Status FilesystemImpl::ReportCorruption(Ino ino, const Status& st) {
  if (st.IsCorruption() && options_.on_corruption) {
    auto path = meta_->PathOf(ino);
    options_.on_corruption(path.ok() ? *path : "<inode " + std::to_string(ino) + ">",
                           st.message());
  }
  return st;
}

std::shared_ptr<FilesystemImpl::OpenInode> FilesystemImpl::FindOpen(Ino ino) {
  std::lock_guard<std::mutex> l(open_mu_);
  auto it = open_.find(ino);
  return it == open_.end() ? nullptr : it->second;
}

void FilesystemImpl::Overlay(InodeAttr* attr) {
  // An attribute a metadata operation returned may predate a commit that
  // finished since; for an open file it is replaced by the current one.
  if (!FindOpen(attr->ino)) return;
  if (auto now = GetAttr(attr->ino); now.ok()) *attr = *now;
}

// --- namespace --------------------------------------------------------------

Result<InodeAttr> FilesystemImpl::Lookup(Ino parent, std::string_view name) {
  if (name.size() > kNameMax) return Status::Errno(ENAMETOOLONG, "name longer than 255 bytes");
  CKPTFS_ASSIGN_OR_RETURN(Ino ino, meta_->Lookup(parent, name));
  return GetAttr(ino);
}

Result<InodeAttr> FilesystemImpl::GetAttr(Ino ino) {
  std::shared_ptr<OpenInode> node = FindOpen(ino);
  if (!node) return meta_->GetAttr(ino);
  // Commits hold the lock exclusively, so under it the file is either dirty
  // (its size is the in-memory one) or committed (its row is current). A row
  // read before taking the lock could predate a commit that finished in
  // between: a stat racing a close returned the old size, which the kernel
  // then cached.
  std::shared_lock<std::shared_mutex> l(node->mu);
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, meta_->GetAttr(ino));
  if (node->data && node->data->dirty()) {
    a.size = node->data->size();
    if (node->last_write_ns) a.mtime_ns = a.ctime_ns = node->last_write_ns;
  }
  return a;
}

Result<InodeAttr> FilesystemImpl::SetAttr(Ino ino, const InodeAttr& values, uint32_t mask,
                                          std::optional<FileHandle> fh) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  const int64_t now = NowNs();
  InodeAttr v = values;
  // Pending writes are committed first, so an explicit mtime (cp -p, touch)
  // is not overwritten by the commit of data written before it.
  std::shared_ptr<OpenInode> node = FindOpen(ino);
  if ((mask & ~kSetSize) && node) {
    std::unique_lock<std::shared_mutex> l(node->mu);
    CKPTFS_RETURN_IF_ERROR(Commit(*node));
  }
  if (mask & kSetSize) {
    if (values.size > kMaxFileSize) return Status::Errno(EFBIG, "file too large");
    CKPTFS_ASSIGN_OR_RETURN(InodeAttr cur, meta_->GetAttr(ino));
    if (S_ISDIR(cur.mode)) return Status::Errno(EISDIR, "truncate of a directory");
    if (!S_ISREG(cur.mode)) return Status::Errno(EINVAL, "truncate of a special file");
    // Always through the open node, opened here if no handle has it: one
    // written straight to the rows raced an open that had just read them,
    // and that open's node then served (and, at its next commit, kept) the
    // old size.
    bool direct = false;  // an internal hold is never direct
    CKPTFS_ASSIGN_OR_RETURN(auto held, Acquire(ino, kInternalOpen, &direct));
    Status st;
    {
      std::unique_lock<std::shared_mutex> l(held->mu);
      st = held->data->Truncate(values.size);
      if (st.ok()) {
        held->last_write_ns = now;
        st = Commit(*held);
      }
    }
    Status released = ReleaseNode(held, direct);
    CKPTFS_RETURN_IF_ERROR(st);
    CKPTFS_RETURN_IF_ERROR(released);
    mask &= ~kSetSize;
    if (!(mask & kSetMtime)) {
      v.mtime_ns = now;
      mask |= kSetMtime;
    }
  }
  v.ctime_ns = now;
  mask |= kSetCtime;
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, meta_->SetAttr(ino, v, mask));
  if (S_ISREG(a.mode)) Overlay(&a);
  return a;
}

Result<InodeAttr> FilesystemImpl::Mkdir(Ino parent, std::string_view name, uint32_t mode,
                                        uint32_t uid, uint32_t gid) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_RETURN_IF_ERROR(CheckName(name));
  InodeAttr a;
  a.mode = S_IFDIR | (mode & 07777);
  a.uid = uid;
  a.gid = gid;
  a.atime_ns = a.mtime_ns = a.ctime_ns = NowNs();
  return meta_->Create(parent, name, a);
}

Result<InodeAttr> FilesystemImpl::Mknod(Ino parent, std::string_view name, uint32_t mode,
                                        uint64_t rdev, uint32_t uid, uint32_t gid) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_RETURN_IF_ERROR(CheckName(name));
  if (S_ISDIR(mode) || S_ISLNK(mode)) return Status::Errno(EINVAL, "mknod of a dir or symlink");
  InodeAttr a;
  a.mode = (S_IFMT & mode) ? mode : (S_IFREG | (mode & 07777));
  a.rdev = rdev;
  a.uid = uid;
  a.gid = gid;
  a.atime_ns = a.mtime_ns = a.ctime_ns = NowNs();
  return meta_->Create(parent, name, a);
}

Result<InodeAttr> FilesystemImpl::Symlink(Ino parent, std::string_view name,
                                          std::string_view target, uint32_t uid, uint32_t gid) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_RETURN_IF_ERROR(CheckName(name));
  if (target.empty() || target.size() > 4095)
    return Status::Errno(target.empty() ? ENOENT : ENAMETOOLONG, "bad symlink target length");
  InodeAttr a;
  a.mode = S_IFLNK | 0777;
  a.uid = uid;
  a.gid = gid;
  a.size = target.size();
  a.atime_ns = a.mtime_ns = a.ctime_ns = NowNs();
  return meta_->Create(parent, name, a, target);
}

Result<std::string> FilesystemImpl::ReadLink(Ino ino) { return meta_->ReadLink(ino); }

Result<InodeAttr> FilesystemImpl::Link(Ino ino, Ino new_parent, std::string_view new_name) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_RETURN_IF_ERROR(CheckName(new_name));
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, meta_->GetAttr(ino));
  if (S_ISDIR(a.mode)) return Status::Errno(EPERM, "hard link to a directory");
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr r, meta_->Link(ino, new_parent, new_name, NowNs()));
  if (S_ISREG(r.mode)) Overlay(&r);
  return r;
}

Status FilesystemImpl::MaybeDelete(Ino ino) {
  if (auto a = meta_->GetAttr(ino); a.ok()) NoteGarbage(a->stored_bytes ? a->stored_bytes : a->size);
  {
    std::lock_guard<std::mutex> l(open_mu_);
    seen_.erase(ino);
    if (auto it = open_.find(ino); it != open_.end()) {
      it->second->unlinked = true;  // POSIX: data lives until the last close
      return Status::OK();
    }
  }
  return WithReserve([&] { return meta_->DeleteInode(ino); });
}

Status FilesystemImpl::RemoveName(Ino parent, std::string_view name) {
  InodeAttr a;
  CKPTFS_RETURN_IF_ERROR(WithReserve([&]() -> Status {
    CKPTFS_ASSIGN_OR_RETURN(a, meta_->Unlink(parent, name, NowNs()));
    return Status::OK();
  }));
  if (a.nlink == 0) return MaybeDelete(a.ino);
  return Status::OK();
}

Status FilesystemImpl::Unlink(Ino parent, std::string_view name) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  if (name.size() > kNameMax) return Status::Errno(ENAMETOOLONG, "name longer than 255 bytes");
  CKPTFS_ASSIGN_OR_RETURN(Ino ino, meta_->Lookup(parent, name));
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr cur, meta_->GetAttr(ino));
  if (S_ISDIR(cur.mode)) return Status::Errno(EISDIR, "unlink of a directory");
  return RemoveName(parent, name);
}

Status FilesystemImpl::Rmdir(Ino parent, std::string_view name) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  if (name == ".") return Status::Errno(EINVAL, "rmdir of .");
  if (name == "..") return Status::Errno(ENOTEMPTY, "rmdir of ..");
  CKPTFS_ASSIGN_OR_RETURN(Ino ino, meta_->Lookup(parent, name));
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr cur, meta_->GetAttr(ino));
  if (!S_ISDIR(cur.mode)) return Status::Errno(ENOTDIR, "rmdir of a non-directory");
  CKPTFS_ASSIGN_OR_RETURN(bool empty, meta_->DirIsEmpty(ino));
  if (!empty) return Status::Errno(ENOTEMPTY, "directory not empty");
  return RemoveName(parent, name);
}

Status FilesystemImpl::Rename(Ino old_parent, std::string_view old_name, Ino new_parent,
                              std::string_view new_name, unsigned flags) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_RETURN_IF_ERROR(CheckName(new_name));
  if (old_name.size() > kNameMax) return Status::Errno(ENAMETOOLONG, "name longer than 255 bytes");
  std::optional<InodeAttr> replaced;
  CKPTFS_RETURN_IF_ERROR(WithReserve([&]() -> Status {
    CKPTFS_ASSIGN_OR_RETURN(replaced, meta_->Rename(old_parent, old_name, new_parent, new_name,
                                                    flags, NowNs()));
    return Status::OK();
  }));
  if (replaced && replaced->nlink == 0) return MaybeDelete(replaced->ino);
  return Status::OK();
}

Result<std::vector<std::pair<DirEntry, InodeAttr>>> FilesystemImpl::ReadDir(
    Ino dir, std::string_view after_name, size_t limit) {
  CKPTFS_ASSIGN_OR_RETURN(auto entries, meta_->ReadDir(dir, after_name, limit));
  std::vector<std::pair<DirEntry, InodeAttr>> out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    auto a = GetAttr(e.ino);
    if (!a.ok()) {
      if (a.status().IsNotFound()) continue;  // removed concurrently
      return a.status();
    }
    out.emplace_back(std::move(e), *a);
  }
  return out;
}

// --- open files -------------------------------------------------------------

// Kernel cache modes. Write-only handles are direct (FUSE direct_io): the
// kernel copies the writer's buffer straight into our request instead of
// into page-cache pages it then keeps, and no write goes through the page
// cache, where the kernel let a reader that follows a growing file (tail -f)
// read zeros in place of bytes a cached write had just appended. Handles
// that may read (O_RDONLY, O_RDWR) are cached: a shared mmap of a direct_io
// handle fails (ENODEV) with this libfuse. While both kinds share an inode,
// a cached reader's read() still sees every direct write (the write changes
// the mtime, and with auto_inval_data the kernel drops the pages of a file
// whose mtime changed); what it has mapped is dropped when the last direct
// handle closes (invalidate_cache_). No open of an inode that has or had a
// direct handle is given keep_cache.
Result<std::shared_ptr<FilesystemImpl::OpenInode>> FilesystemImpl::Acquire(Ino ino, int flags,
                                                                           bool* direct) {
  std::lock_guard<std::mutex> l(open_mu_);
  const bool internal = flags == kInternalOpen;
  *direct = !internal && options_.direct_writes && (flags & O_ACCMODE) == O_WRONLY;
  if (auto it = open_.find(ino); it != open_.end()) {
    OpenInode& node = *it->second;
    if (internal) {
      // a hold of our own: no handle the kernel sees
    } else if (*direct) {
      if (node.opens > node.direct_handles) node.mixed = true;
      node.direct_handles++;
      node.had_direct = true;
      node.keep_cache = false;
    } else if (node.direct_handles > 0) {
      node.mixed = true;
    }
    node.opens++;
    return it->second;
  }
  CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, meta_->GetAttr(ino));
  if (S_ISDIR(a.mode)) return Status::Errno(EISDIR, "open of a directory for I/O");
  if (!S_ISREG(a.mode)) return Status::Errno(EINVAL, "open of a special file");
  CKPTFS_ASSIGN_OR_RETURN(auto extents, meta_->GetExtents(ino));
  auto node = std::make_shared<OpenInode>();
  node->ino = ino;
  node->opens = 1;
  std::string staging = dir_ + "/staging/" + std::to_string(ino) + "." +
                        std::to_string(staging_seq_++);
  node->data = std::make_unique<FileData>(chunks_.get(), pool_.get(), env_, staging,
                                          config_.chunker, std::move(extents), a.size);
  node->had_direct = *direct;
  node->direct_handles = *direct ? 1 : 0;
  auto seen = seen_.find(ino);
  node->keep_cache =
      !*direct && seen != seen_.end() && seen->second == std::make_pair(a.mtime_ns, a.size);
  open_.emplace(ino, node);
  return node;
}

Status FilesystemImpl::ReleaseNode(const std::shared_ptr<OpenInode>& node, bool direct) {
  bool last = false;
  std::function<void(Ino)> invalidate;
  {
    std::lock_guard<std::mutex> l(open_mu_);
    if (direct && --node->direct_handles == 0 && node->mixed) {
      invalidate = invalidate_cache_;  // cached handles may have mapped pages written around
      node->mixed = false;
    }
    last = --node->opens == 0;
  }
  if (invalidate) invalidate(node->ino);
  if (!last) return Status::OK();
  // The node stays in open_ until its commit is done: an open, stat or
  // truncate that comes meanwhile (the kernel sends release after close()
  // has returned) joins this node and sees its data, instead of reading the
  // rows this commit is about to replace.
  Status st;
  {
    std::unique_lock<std::shared_mutex> l(node->mu);
    bool unlinked;
    {
      std::lock_guard<std::mutex> o(open_mu_);
      unlinked = node->unlinked;
    }
    if (!unlinked) st = Commit(*node);
  }
  auto attr = meta_->GetAttr(node->ino);
  bool unlinked;
  {
    std::lock_guard<std::mutex> l(open_mu_);
    // Reopened while committing: the node lives on with its new handles; or
    // a release of those finished it first.
    if (node->opens > 0 || node->retired) return st;
    node->retired = true;
    if (auto it = open_.find(node->ino); it != open_.end() && it->second == node) open_.erase(it);
    unlinked = node->unlinked;
    // What the kernel cached is known good only after cached handles: a
    // file written directly has nothing cached, and its next open must not
    // claim otherwise.
    if (!unlinked && attr.ok() && !node->had_direct)
      seen_[node->ino] = {attr->mtime_ns, attr->size};
    else
      seen_.erase(node->ino);
  }
  if (unlinked) return WithReserve([&] { return meta_->DeleteInode(node->ino); });
  return st;
}

void FilesystemImpl::SetCacheInvalidator(std::function<void(Ino)> invalidate) {
  std::lock_guard<std::mutex> l(open_mu_);
  invalidate_cache_ = std::move(invalidate);
}

Result<FilesystemImpl::Handle*> FilesystemImpl::GetHandle(FileHandle fh) {
  std::lock_guard<std::mutex> l(handles_mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) return Status::Errno(EBADF, "unknown file handle");
  return it->second.get();
}

Status FilesystemImpl::Commit(OpenInode& node) {
  FileData& d = *node.data;
  if (!d.dirty()) return Status::OK();
  CKPTFS_ASSIGN_OR_RETURN(CommitPlan plan, d.PrepareCommit());
  // Ordering invariant: pack bytes are durable before any row names them.
  if (plan.wrote_data) CKPTFS_RETURN_IF_ERROR(chunks_->SyncData());
  const int64_t mtime = node.last_write_ns ? node.last_write_ns : NowNs();
  CKPTFS_RETURN_IF_ERROR(
      meta_->CommitFile(node.ino, plan.extents, plan.size, mtime, plan.new_chunks));
  d.Committed(plan);
  node.last_write_ns = 0;
  return Status::OK();
}

Result<std::pair<InodeAttr, FileHandle>> FilesystemImpl::Create(Ino parent, std::string_view name,
                                                                uint32_t mode, int flags,
                                                                uint32_t uid, uint32_t gid) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_RETURN_IF_ERROR(CheckName(name));
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto existing = meta_->Lookup(parent, name);
    if (existing.ok()) {
      if (flags & O_EXCL) return Status::Exists(std::string(name) + " exists");
      CKPTFS_ASSIGN_OR_RETURN(FileHandle fh, Open(*existing, flags));
      CKPTFS_ASSIGN_OR_RETURN(InodeAttr a, GetAttr(*existing));
      return std::make_pair(a, fh);
    }
    if (!existing.status().IsNotFound()) return existing.status();
    InodeAttr a;
    a.mode = S_IFREG | (mode & 07777);
    a.uid = uid;
    a.gid = gid;
    a.atime_ns = a.mtime_ns = a.ctime_ns = NowNs();
    auto created = meta_->Create(parent, name, a);
    if (!created.ok()) {
      if (created.status().code() == Code::kExists) continue;  // raced with another create
      return created.status();
    }
    CKPTFS_ASSIGN_OR_RETURN(FileHandle fh, Open(created->ino, flags & ~O_TRUNC));
    return std::make_pair(*created, fh);
  }
  return Status::Errno(EAGAIN, "create raced repeatedly");
}

Result<FileHandle> FilesystemImpl::Open(Ino ino, int flags) {
  if (IsWrite(flags) || (flags & O_TRUNC)) CKPTFS_RETURN_IF_ERROR(CheckWritable());
  bool direct = false;
  CKPTFS_ASSIGN_OR_RETURN(auto node, Acquire(ino, flags, &direct));
  if ((flags & O_TRUNC) && IsWrite(flags)) {
    std::unique_lock<std::shared_mutex> l(node->mu);
    Status st = node->data->Truncate(0);
    if (st.ok()) {
      node->last_write_ns = NowNs();
      st = Commit(*node);
    }
    if (!st.ok()) {
      l.unlock();
      (void)ReleaseNode(node, direct);
      return st;
    }
  }
  auto h = std::make_unique<Handle>();
  h->node = node;
  h->flags = flags;
  h->direct_io = direct;
  std::lock_guard<std::mutex> l(handles_mu_);
  FileHandle fh = next_fh_++;
  handles_.emplace(fh, std::move(h));
  return fh;
}

void FilesystemImpl::ReadAhead(const Handle& h, const OpenInode& node, uint64_t offset,
                               size_t n) {
  // Sequential readers: warm the next chunks in the cache while the kernel
  // copies this piece out. REQUIRES: node.mu held shared, node clean.
  if (!options_.readahead_chunks || offset != h.next_offset.load(std::memory_order_relaxed))
    return;
  // At most an eighth of the chunk cache, so that a few sequential readers
  // (or a store of large chunks) do not evict their own readahead.
  const uint64_t ahead =
      std::min<uint64_t>(uint64_t{options_.readahead_chunks} * config_.chunker.avg_size,
                         std::max<uint64_t>(options_.cache_bytes / 8, config_.chunker.max_size));
  const uint64_t from = offset + n, to = from + ahead;
  uint64_t start = h.readahead_end.load(std::memory_order_relaxed);
  if (start < from || start > to) start = from;  // first read, or after a seek
  h.readahead_end.store(to, std::memory_order_relaxed);
  if (start < to) chunks_->Prefetch(node.data->ChunksIn(start, to - start));
}

Result<size_t> FilesystemImpl::Read(FileHandle fh, uint64_t offset, std::span<std::byte> out) {
  // The copying read (export, tests) is the pinned read gathered into `out`.
  ReadView view;
  CKPTFS_ASSIGN_OR_RETURN(size_t n, ReadPinned(fh, offset, out.size(), &view));
  std::byte* dst = out.data();
  for (const ReadView::Piece& p : view.pieces) {
    if (p.data) std::memcpy(dst, p.data, p.len);
    else std::memset(dst, 0, p.len);
    dst += p.len;
  }
  return n;
}

Result<size_t> FilesystemImpl::ReadPinned(FileHandle fh, uint64_t offset, size_t len,
                                          ReadView* view) {
  CKPTFS_ASSIGN_OR_RETURN(Handle * h, GetHandle(fh));
  OpenInode& node = *h->node;
  Result<size_t> r = size_t{0};
  {
    std::shared_lock<std::shared_mutex> l(node.mu);
    if (node.data->clean()) {
      r = node.data->PinClean(offset, len, view);
      if (r.ok()) ReadAhead(*h, node, offset, *r);
    } else {
      // Uncommitted bytes live in segments and the overlay, which later
      // writes change: copy them out under the exclusive lock.
      l.unlock();
      std::unique_lock<std::shared_mutex> w(node.mu);
      view->Clear();
      if (view->scratch.size() < len) view->scratch.resize(len);
      r = node.data->Read(offset, std::span(view->scratch.data(), len));
      if (r.ok()) view->Add(view->scratch.data(), *r);
    }
  }
  if (!r.ok()) {
    view->Clear();
    return ReportCorruption(node.ino, r.status());
  }
  h->next_offset.store(offset + *r, std::memory_order_relaxed);
  return r;
}

void FilesystemImpl::Write(FileHandle fh, uint64_t offset, ByteSpan data,
                           const WriteReply& reply) {
  auto h = GetHandle(fh);
  if (!h.ok()) return reply(h.status());
  if (!IsWrite((*h)->flags)) return reply(Status::Errno(EBADF, "file not open for writing"));
  OpenInode& node = *(*h)->node;
  // Held through the deferred cut, so the file's next write waits for it
  // and chunks are cut in write order.
  std::unique_lock<std::shared_mutex> l(node.mu);
  if ((*h)->flags & O_APPEND) offset = node.data->size();
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset)
    return reply(Status::Errno(EFBIG, "file too large"));
  Status st = node.data->Write(offset, data, /*defer_cut=*/true);
  if (st.ok()) node.last_write_ns = NowNs();
  if (st.err() == ENOSPC) NoteGarbage(0);
  reply(st.ok() ? Result<size_t>(data.size()) : Result<size_t>(st));
  if (!st.ok()) return;
  if (node.data->CutDeferred().err() == ENOSPC) NoteGarbage(0);
}

Status FilesystemImpl::Flush(FileHandle fh) {
  CKPTFS_ASSIGN_OR_RETURN(Handle * h, GetHandle(fh));
  std::unique_lock<std::shared_mutex> l(h->node->mu);
  return Commit(*h->node);
}

Status FilesystemImpl::Fsync(FileHandle fh, bool datasync) {
  CKPTFS_ASSIGN_OR_RETURN(Handle * h, GetHandle(fh));
  {
    std::unique_lock<std::shared_mutex> l(h->node->mu);
    CKPTFS_RETURN_IF_ERROR(Commit(*h->node));
  }
  CKPTFS_RETURN_IF_ERROR(chunks_->SyncData());
  return meta_->Sync();
}

Status FilesystemImpl::Release(FileHandle fh) {
  std::unique_ptr<Handle> h;
  {
    std::lock_guard<std::mutex> l(handles_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return Status::Errno(EBADF, "unknown file handle");
    h = std::move(it->second);
    handles_.erase(it);
  }
  return ReleaseNode(h->node, h->direct_io);
}

Filesystem::CacheMode FilesystemImpl::GetCacheMode(FileHandle fh) {
  auto h = GetHandle(fh);
  if (!h.ok()) return {};
  return {(*h)->node->keep_cache, (*h)->direct_io};
}

Result<size_t> FilesystemImpl::CopyFileRange(FileHandle in, uint64_t off_in, FileHandle out,
                                             uint64_t off_out, size_t len) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  CKPTFS_ASSIGN_OR_RETURN(Handle * hi, GetHandle(in));
  CKPTFS_ASSIGN_OR_RETURN(Handle * ho, GetHandle(out));
  if (!IsWrite(ho->flags)) return Status::Errno(EBADF, "destination not open for writing");
  if (hi->node == ho->node) return Status::Errno(EINVAL, "copy_file_range within one file");
  if (off_out > kMaxFileSize || len > kMaxFileSize - off_out)
    return Status::Errno(EFBIG, "file too large");
  std::vector<Extent> slice;
  std::vector<ChunkId> held;
  uint64_t n = 0;
  {
    std::unique_lock<std::shared_mutex> l(hi->node->mu);
    CKPTFS_RETURN_IF_ERROR(Commit(*hi->node));  // clone committed extents only
    const uint64_t size = hi->node->data->size();
    if (off_in >= size) return size_t{0};
    n = std::min<uint64_t>(len, size - off_in);
    slice = hi->node->data->SliceExtents(off_in, n, off_out);
    // Hold the cloned chunks until the destination commit names them, so a
    // concurrent gc cannot drop them if the source is deleted meanwhile.
    for (const auto& e : slice) held.push_back(e.chunk);
    chunks_->Hold(held);
  }
  std::unique_lock<std::shared_mutex> l(ho->node->mu);
  Status st = Commit(*ho->node);
  if (st.ok()) {
    ho->node->data->SpliceExtents(off_out, n, slice, off_out + n);
    ho->node->last_write_ns = NowNs();
    st = Commit(*ho->node);
  }
  chunks_->Release(held);
  CKPTFS_RETURN_IF_ERROR(st);
  return static_cast<size_t>(n);
}

// --- xattrs -----------------------------------------------------------------

Result<std::string> FilesystemImpl::GetXattr(Ino ino, std::string_view name) {
  return meta_->GetXattr(ino, name);
}
Status FilesystemImpl::SetXattr(Ino ino, std::string_view name, std::string_view value,
                                int flags) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  if (name.size() > 255) return Status::Errno(ERANGE, "xattr name too long");
  if (value.size() > 65536) return Status::Errno(E2BIG, "xattr value too large");
  return meta_->SetXattr(ino, name, value, flags);
}
Result<std::vector<std::string>> FilesystemImpl::ListXattr(Ino ino) { return meta_->ListXattr(ino); }
Status FilesystemImpl::RemoveXattr(Ino ino, std::string_view name) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  return meta_->RemoveXattr(ino, name);
}

// --- whole store ------------------------------------------------------------

Result<FsSpace> FilesystemImpl::StatFs() {
  CKPTFS_ASSIGN_OR_RETURN(FsSpace backing, env_->GetSpace(dir_));
  // Size = what the store occupies + what the backing filesystem has free, so
  // `df` reports the store's real (compressed, deduplicated) usage as Used.
  uint64_t used = chunks_->pack_bytes_on_disk();
  for (const char* f : {"/meta.db", "/meta.db-wal"}) {
    auto sz = env_->GetFileAllocatedSize(dir_ + f);
    if (sz.ok()) used += *sz;
  }
  FsSpace s = backing;
  s.total_bytes = used + backing.free_bytes;
  return s;
}

Result<StoreStats> FilesystemImpl::Stats() {
  CKPTFS_ASSIGN_OR_RETURN(StoreStats s, meta_->Stats());
  s.pack_bytes = chunks_->pack_bytes_on_disk();
  return s;
}

Result<FsckReport> FilesystemImpl::Fsck(const ProgressFn& progress) {
  CKPTFS_RETURN_IF_ERROR(SyncAll());
  FsckReport rep;
  // One damaged pack header fails every chunk in it: list a screenful of
  // each kind of problem, count the rest (the affected files are all named).
  constexpr size_t kMaxListed = 20;
  auto list = [&](std::string msg, size_t& listed) {
    if (listed++ < kMaxListed) rep.errors.push_back(std::move(msg));
    else ++rep.errors_omitted;
  };
  // The database first: chunk verification walks its index.
  CKPTFS_ASSIGN_OR_RETURN(std::vector<std::string> store, meta_->CheckIntegrity(kMaxListed));
  CKPTFS_RETURN_IF_ERROR(chunks_->VerifyPackFooters(&store));
  rep.store_problems = store.size();
  size_t listed = 0;
  for (auto& m : store) list(std::move(m), listed);
  std::vector<std::pair<ChunkId, std::string>> bad;
  CKPTFS_RETURN_IF_ERROR(chunks_->VerifyAll(progress, &bad, &rep.chunks_checked, &rep.bytes_checked));
  rep.bad_chunks = bad.size();
  std::vector<ChunkId> ids;
  listed = 0;
  for (auto& [id, msg] : bad) {
    list(std::move(msg), listed);
    ids.push_back(id);
  }
  if (!ids.empty()) {
    CKPTFS_ASSIGN_OR_RETURN(auto files, meta_->FilesReferencing(ids));
    std::set<std::string> paths;
    for (auto& [ino, path] : files) paths.insert(path);
    rep.affected_files.assign(paths.begin(), paths.end());
  }
  return rep;
}

Result<GcReport> FilesystemImpl::Gc(const ProgressFn& progress) {
  CKPTFS_RETURN_IF_ERROR(CheckWritable());
  ChunkStore::GcResult r;
  CKPTFS_RETURN_IF_ERROR(WithReserve([&]() -> Status {
    CKPTFS_ASSIGN_OR_RETURN(r, chunks_->Gc(/*min_live_ratio=*/0.5, progress));
    return Status::OK();
  }));
  GcReport rep;
  rep.chunks_deleted = r.chunks_deleted;
  rep.packs_compacted = r.packs_compacted;
  rep.packs_deleted = r.packs_deleted;
  rep.bytes_reclaimed = r.bytes_reclaimed;
  rep.packs_not_compacted = r.packs_not_compacted;
  rep.packs_freed_in_place = r.packs_freed_in_place;
  rep.pack_tails_cut = r.pack_tails_cut;
  EnsureReserve();
  return rep;
}

Status FilesystemImpl::SyncAll() {
  std::vector<std::shared_ptr<OpenInode>> nodes;
  {
    std::lock_guard<std::mutex> l(open_mu_);
    for (auto& [ino, n] : open_) nodes.push_back(n);
  }
  Status first;
  for (auto& n : nodes) {
    std::unique_lock<std::shared_mutex> l(n->mu);
    Status st = Commit(*n);
    if (first.ok() && !st.ok()) first = st;
  }
  if (!chunks_ || !meta_) return first;
  Status st = chunks_->SyncData();
  if (first.ok() && !st.ok()) first = st;
  st = meta_->Sync();
  if (first.ok() && !st.ok()) first = st;
  return first;
}

}  // namespace ckptfs
