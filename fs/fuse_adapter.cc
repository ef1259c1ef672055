// FUSE adapter: libfuse3 low-level operations -> Filesystem calls.
//
// Shaped like libfuse's example/passthrough_hp.cc, minus its global: the
// state (`Adapter`) travels in fuse_req_userdata(), so the handlers hold no
// process-wide state. Rules every handler follows:
//   1. It calls the Filesystem and sends exactly one reply.
//   2. Errors become errnos only in ReplyErrno().
//   2a. The reply is the last thing a handler does: once it is sent, the
//       caller may close the file and a releasedir/release on another
//       thread may free the handle (a lock held across the reply and
//       released after it wrote freed memory; see DoReaddir).
//   3. Kernel lookup counts change only through CountLookup()/ForgetOne().
//      The Filesystem keeps no lookup counts (it pins open files by handle,
//      not by inode), so the count is bookkeeping for diagnostics only.
//
// Directory offsets are indexes into the names a handle has returned; each
// readdir continues after the name its offset stands for (ReadDir's
// after_name paging), so it is stable while `rm -rf` removes entries.
//
// st_blocks reports the stored (compressed) bytes, as compressed filesystems
// do, so `du` shows what the data costs on disk; a non-empty file reports at
// least one block so tools never mistake it for an all-hole file.
#include "fs/fuse_adapter.h"

#define FUSE_USE_VERSION 314
#include <fuse3/fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

namespace ckptfs {
namespace {

constexpr size_t kMaxWrite = 1 << 20;  // libfuse 3.14's ceiling
constexpr size_t kReadDirPage = 128;  // entries fetched per ReadDir; a 4 KiB reply holds ~30

struct Adapter {
  Filesystem* fs;
  MountOptions opts;
  std::atomic<uint64_t> lookups{0};  // outstanding kernel lookup references
};

// A directory handle: the names returned so far, so an offset (an index)
// maps back to the name to continue after.
// No lock: the kernel serializes readdir calls on one open directory
// (fuse_readdir holds the file's readdir lock), and releasedir comes only
// after the last readdir reply.
struct DirHandle {
  std::vector<std::string> names;  // names[k] was returned with offset k+3
};

Adapter& A(fuse_req_t req) { return *static_cast<Adapter*>(fuse_req_userdata(req)); }
Filesystem& Fs(fuse_req_t req) { return *A(req).fs; }

// The one Status -> errno translation.
int ToErrno(const Status& s) {
  if (s.err() != 0) return s.err();
  switch (s.code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kExists: return EEXIST;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kNoSpace: return ENOSPC;
    case Code::kBusy: return EBUSY;
    case Code::kNotSupported: return EOPNOTSUPP;
    case Code::kVersion: return EPROTO;
    case Code::kCorruption:
    case Code::kIOError: return EIO;
  }
  return EIO;
}

// Sends the one reply for a Status-only outcome (0 for ok) or an error.
void ReplyErrno(fuse_req_t req, const Status& s) {
  int err = ToErrno(s);
  // Expected POSIX outcomes are silent; data and I/O errors are worth a line.
  if (err == EIO || err == ENOSPC || s.code() == Code::kCorruption) {
    spdlog::warn("request failed: {} ({})", s.ToString(), std::strerror(err));
  }
  fuse_reply_err(req, err);
}

int64_t ToNs(const timespec& ts) { return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec; }
timespec FromNs(int64_t ns) {
  timespec ts{};
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}
int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ToNs(ts);
}

struct stat ToStat(const InodeAttr& a) {
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_rdev = a.rdev;
  st.st_blksize = 1 << 20;  // a hint for writers: our preferred write size
  uint64_t blocks = (a.stored_bytes + 511) / 512;
  if (S_ISREG(a.mode) && a.size > 0 && blocks == 0) blocks = 1;
  if (!S_ISREG(a.mode)) blocks = (a.size + 511) / 512;
  st.st_blocks = static_cast<blkcnt_t>(blocks);
  st.st_atim = FromNs(a.atime_ns);
  st.st_mtim = FromNs(a.mtime_ns);
  st.st_ctim = FromNs(a.ctime_ns);
  return st;
}

fuse_entry_param ToEntry(const Adapter& ad, const InodeAttr& a) {
  fuse_entry_param e{};
  e.ino = a.ino;
  e.generation = 0;  // inode numbers are never reused within a store
  e.attr = ToStat(a);
  e.attr_timeout = ad.opts.timeout_s;
  e.entry_timeout = ad.opts.timeout_s;
  return e;
}

// --- lookup counting: the only two places the count changes ---
void CountLookup(Adapter& ad) { ad.lookups.fetch_add(1, std::memory_order_relaxed); }
void ForgetOne(Adapter& ad, fuse_ino_t ino, uint64_t n) {
  ad.lookups.fetch_sub(n, std::memory_order_relaxed);
}

void ReplyEntry(fuse_req_t req, const Result<InodeAttr>& r) {
  if (!r.ok()) return ReplyErrno(req, r.status());
  Adapter& ad = A(req);
  fuse_entry_param e = ToEntry(ad, *r);
  CountLookup(ad);
  fuse_reply_entry(req, &e);
}

void ReplyAttr(fuse_req_t req, const Result<InodeAttr>& r) {
  if (!r.ok()) return ReplyErrno(req, r.status());
  struct stat st = ToStat(*r);
  fuse_reply_attr(req, &st, A(req).opts.timeout_s);
}

// ---------------------------------------------------------------- session

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto& ad = *static_cast<Adapter*>(userdata);
  const MountOptions& o = ad.opts;
  conn->max_write = kMaxWrite;
  conn->time_gran = 1;  // nanosecond timestamps
  auto want = [conn](bool on, unsigned cap) {
    if (on && (conn->capable & cap)) conn->want |= cap;
    if (!on) conn->want &= ~cap;
  };
  want(o.readdirplus, FUSE_CAP_READDIRPLUS);
  want(o.readdirplus, FUSE_CAP_READDIRPLUS_AUTO);
  want(o.async_read, FUSE_CAP_ASYNC_READ);
  want(o.writeback_cache, FUSE_CAP_WRITEBACK_CACHE);
  want(o.splice, FUSE_CAP_SPLICE_READ);
  want(o.splice, FUSE_CAP_SPLICE_WRITE);
  want(o.splice, FUSE_CAP_SPLICE_MOVE);
  want(true, FUSE_CAP_ATOMIC_O_TRUNC);  // Filesystem::Open handles O_TRUNC
  want(true, FUSE_CAP_PARALLEL_DIROPS);
  spdlog::info(
      "FUSE session started: max_write={} readdirplus={} writeback_cache={} splice={} "
      "direct_writes={}",
      conn->max_write, o.readdirplus, o.writeback_cache, o.splice,
      o.direct_writes && !o.writeback_cache);
}

void OpDestroy(void* userdata) {
  auto& ad = *static_cast<Adapter*>(userdata);
  Status s = ad.fs->SyncAll();
  if (!s.ok()) spdlog::error("sync at unmount failed: {}", s.ToString());
  spdlog::info("FUSE session ended ({} lookups outstanding)", ad.lookups.load());
}

// ---------------------------------------------------------------- namespace

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto r = Fs(req).Lookup(parent, name);
  if (!r.ok() && r.status().code() == Code::kNotFound) {
    // A negative entry the kernel may cache: every create goes through us,
    // and the kernel drops the negative dentry when it sees one.
    fuse_entry_param e{};
    e.entry_timeout = A(req).opts.timeout_s;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyEntry(req, r);
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ForgetOne(A(req), ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; i++) ForgetOne(A(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  ReplyAttr(req, Fs(req).GetAttr(ino));
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi) {
  InodeAttr v;
  uint32_t mask = 0;
  if (to_set & FUSE_SET_ATTR_MODE) v.mode = attr->st_mode, mask |= kSetMode;
  if (to_set & FUSE_SET_ATTR_UID) v.uid = attr->st_uid, mask |= kSetUid;
  if (to_set & FUSE_SET_ATTR_GID) v.gid = attr->st_gid, mask |= kSetGid;
  if (to_set & FUSE_SET_ATTR_SIZE) v.size = static_cast<uint64_t>(attr->st_size), mask |= kSetSize;
  // UTIME_OMIT never reaches us: the kernel simply leaves the bit unset.
  int64_t now = NowNs();
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) v.atime_ns = now, mask |= kSetAtime;
  else if (to_set & FUSE_SET_ATTR_ATIME) v.atime_ns = ToNs(attr->st_atim), mask |= kSetAtime;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) v.mtime_ns = now, mask |= kSetMtime;
  else if (to_set & FUSE_SET_ATTR_MTIME) v.mtime_ns = ToNs(attr->st_mtim), mask |= kSetMtime;
  if (to_set & FUSE_SET_ATTR_CTIME) v.ctime_ns = ToNs(attr->st_ctim), mask |= kSetCtime;
  std::optional<FileHandle> fh;
  if (fi != nullptr) fh = fi->fh;  // ftruncate/futimens on an open file
  ReplyAttr(req, Fs(req).SetAttr(ino, v, mask, fh));
}

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  const fuse_ctx* c = fuse_req_ctx(req);
  ReplyEntry(req, Fs(req).Mknod(parent, name, mode, rdev, c->uid, c->gid));
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  const fuse_ctx* c = fuse_req_ctx(req);
  ReplyEntry(req, Fs(req).Mkdir(parent, name, S_IFDIR | (mode & 07777), c->uid, c->gid));
}

void OpSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  const fuse_ctx* c = fuse_req_ctx(req);
  ReplyEntry(req, Fs(req).Symlink(parent, name, target, c->uid, c->gid));
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  auto r = Fs(req).ReadLink(ino);
  if (!r.ok()) return ReplyErrno(req, r.status());
  fuse_reply_readlink(req, r->c_str());
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  ReplyEntry(req, Fs(req).Link(ino, new_parent, new_name));
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyErrno(req, Fs(req).Unlink(parent, name));
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyErrno(req, Fs(req).Rmdir(parent, name));
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned flags) {
  ReplyErrno(req, Fs(req).Rename(parent, name, new_parent, new_name, flags));
}

// ---------------------------------------------------------------- files

// With the writeback cache the kernel may read through a write-only handle
// and does O_APPEND itself (passthrough_hp does the same adjustment).
int AdjustOpenFlags(const Adapter& ad, int flags) {
  if (ad.opts.writeback_cache) {
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
    flags &= ~O_APPEND;
  }
  return flags;
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  Adapter& ad = A(req);
  const fuse_ctx* c = fuse_req_ctx(req);
  auto r = ad.fs->Create(parent, name, S_IFREG | (mode & 07777), AdjustOpenFlags(ad, fi->flags),
                         c->uid, c->gid);
  if (!r.ok()) return ReplyErrno(req, r.status());
  fi->fh = r->second;
  fi->direct_io = ad.fs->GetCacheMode(fi->fh).direct_io ? 1 : 0;
  fuse_entry_param e = ToEntry(ad, r->first);
  CountLookup(ad);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) {
    // The opener was interrupted: nobody will release this handle.
    ForgetOne(ad, e.ino, 1);
    (void)ad.fs->Release(fi->fh);
  }
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Adapter& ad = A(req);
  auto r = ad.fs->Open(ino, AdjustOpenFlags(ad, fi->flags));
  if (!r.ok()) return ReplyErrno(req, r.status());
  fi->fh = *r;
  const Filesystem::CacheMode cache = ad.fs->GetCacheMode(*r);
  fi->keep_cache = cache.keep_cache ? 1 : 0;
  fi->direct_io = cache.direct_io ? 1 : 0;
  if (fuse_reply_open(req, fi) == -ENOENT) (void)ad.fs->Release(fi->fh);
}

// Below IOV_MAX (1024) with room for the reply header libfuse prepends.
constexpr size_t kMaxReplyIov = 512;

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  // The reply is gathered straight from the cached chunks (one copy, by the
  // kernel, into the reader's pages); holes point at a shared zero block.
  // One view and iovec array per worker thread keep their capacity.
  static const std::vector<std::byte> zeros(256 << 10);
  thread_local ReadView view;
  thread_local std::vector<iovec> iov;
  auto r = Fs(req).ReadPinned(fi->fh, static_cast<uint64_t>(off), size, &view);
  if (!r.ok()) return ReplyErrno(req, r.status());
  iov.clear();
  for (const ReadView::Piece& p : view.pieces) {
    if (p.data) {
      iov.push_back({const_cast<std::byte*>(p.data), p.len});
      continue;
    }
    for (size_t left = p.len; left > 0;) {
      const size_t k = std::min(left, zeros.size());
      iov.push_back({const_cast<std::byte*>(zeros.data()), k});
      left -= k;
    }
  }
  if (iov.size() > kMaxReplyIov) {
    // A read over many tiny extents: gather into one buffer rather than
    // pass the kernel more segments than writev takes.
    thread_local std::vector<std::byte> buf;
    if (buf.size() < *r) buf.resize(*r);
    size_t at = 0;
    for (const iovec& v : iov) {
      std::memcpy(buf.data() + at, v.iov_base, v.iov_len);
      at += v.iov_len;
    }
    iov.assign(1, iovec{buf.data(), at});
  }
  fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
  view.Clear();  // drops the pins: evicted chunks are freed now, not at the next read
}

void OpWriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  size_t len = fuse_buf_size(in);
  ByteSpan data;
  thread_local std::vector<std::byte> buf;
  if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
    data = ByteSpan(static_cast<const std::byte*>(in->buf[0].mem), len);  // no copy
  } else {
    // Spliced (pipe-backed) or scattered input: gather it into memory.
    if (buf.size() < len) buf.resize(len);
    fuse_bufvec dst = FUSE_BUFVEC_INIT(len);
    dst.buf[0].mem = buf.data();
    ssize_t n = fuse_buf_copy(&dst, in, FUSE_BUF_NO_SPLICE);
    if (n < 0) return (void)fuse_reply_err(req, static_cast<int>(-n));
    data = ByteSpan(buf.data(), static_cast<size_t>(n));
  }
  Fs(req).Write(fi->fh, static_cast<uint64_t>(off), data, [req](const Result<size_t>& r) {
    if (!r.ok()) return ReplyErrno(req, r.status());
    fuse_reply_write(req, *r);
  });
}

void OpFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ReplyErrno(req, Fs(req).Flush(fi->fh));
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  // The reply to release reaches nobody (close() has returned); errors that
  // matter were reported by flush, so only log here.
  Status s = Fs(req).Release(fi->fh);
  if (!s.ok()) spdlog::error("release failed: {}", s.ToString());
  fuse_reply_err(req, ToErrno(s));
}

void OpFsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  ReplyErrno(req, Fs(req).Fsync(fi->fh, datasync != 0));
}

void OpCopyFileRange(fuse_req_t req, fuse_ino_t, off_t off_in, fuse_file_info* fi_in,
                     fuse_ino_t, off_t off_out, fuse_file_info* fi_out, size_t len, int flags) {
  if (flags != 0) return (void)fuse_reply_err(req, EINVAL);
  auto r = Fs(req).CopyFileRange(fi_in->fh, static_cast<uint64_t>(off_in), fi_out->fh,
                                 static_cast<uint64_t>(off_out), len);
  if (!r.ok()) return ReplyErrno(req, r.status());
  fuse_reply_write(req, *r);
}

void OpFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) {
  // Preallocation has no meaning for content-addressed chunks; glibc's
  // posix_fallocate falls back to writing, which is what we want.
  fuse_reply_err(req, EOPNOTSUPP);
}

// ---------------------------------------------------------------- directories

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = Fs(req).GetAttr(ino);
  if (!r.ok()) return ReplyErrno(req, r.status());
  if (!S_ISDIR(r->mode)) return (void)fuse_reply_err(req, ENOTDIR);
  auto d = std::make_unique<DirHandle>();
  fi->fh = reinterpret_cast<uint64_t>(d.get());
  if (fuse_reply_open(req, fi) == 0) d.release();  // owned by the handle until releasedir
}

// Offsets: 1 follows ".", 2 follows "..", k+3 follows the k-th entry. Each
// call reads the live listing after the name the offset stands for, so the
// attributes sent with readdirplus are current (a listing snapshotted
// earlier could hand the kernel a stale size it would then cache), and
// entries removed meanwhile (rm -rf) cannot shift the position.
void DoReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
               bool plus) {
  Adapter& ad = A(req);
  auto* d = reinterpret_cast<DirHandle*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  // Appends one entry; false when the buffer is full (the kernel asks again).
  auto add = [&](const char* name, const fuse_entry_param& e, off_t next) {
    size_t rem = size - used;
    size_t n = plus ? fuse_add_direntry_plus(req, buf.data() + used, rem, name, &e, next)
                    : fuse_add_direntry(req, buf.data() + used, rem, name, &e.attr, next);
    if (n > rem) return false;
    used += n;
    return true;
  };
  fuse_entry_param dot{};
  dot.attr.st_ino = ino;  // the kernel ignores "." and ".." in readdirplus
  dot.attr.st_mode = S_IFDIR;
  if (off == 0 && !add(".", dot, 1)) return (void)fuse_reply_buf(req, buf.data(), used);
  if (off <= 1 && !add("..", dot, 2)) return (void)fuse_reply_buf(req, buf.data(), used);
  size_t k = off <= 2 ? 0 : static_cast<size_t>(off) - 2;  // next entry's index
  if (k > d->names.size()) return (void)fuse_reply_buf(req, buf.data(), used);  // bogus offset
  std::string after = k == 0 ? std::string() : d->names[k - 1];
  for (bool more = true; more;) {
    auto page = ad.fs->ReadDir(ino, after, kReadDirPage);
    if (!page.ok()) {
      if (used > 0) break;  // send what we have; the error comes on the next call
      return ReplyErrno(req, page.status());
    }
    more = page->size() == kReadDirPage;
    for (const auto& [de, attr] : *page) {
      fuse_entry_param e = ToEntry(ad, attr);
      if (!add(de.name.c_str(), e, static_cast<off_t>(k + 3))) {
        more = false;
        break;
      }
      if (plus) CountLookup(ad);  // readdirplus entries count as lookups
      if (k < d->names.size() && d->names[k] != de.name) d->names.resize(k);
      if (k == d->names.size()) d->names.push_back(de.name);
      k++;
      after = de.name;
    }
  }
  fuse_reply_buf(req, buf.data(), used);
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  DoReaddir(req, ino, size, off, fi, false);
}
void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  DoReaddir(req, ino, size, off, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  // Namespace operations are committed transactions already; make them
  // durable across power loss with the same path fsync uses.
  ReplyErrno(req, Fs(req).SyncAll());
}

// ---------------------------------------------------------------- store

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  auto r = Fs(req).StatFs();
  if (!r.ok()) return ReplyErrno(req, r.status());
  // Filesystem::StatFs reports total = store usage + backing free space, so
  // df's "Used" is the store's real usage and "Avail" is what is left.
  struct statvfs sv {};
  uint64_t bs = r->block_size ? r->block_size : 4096;
  sv.f_bsize = bs;
  sv.f_frsize = bs;
  sv.f_blocks = r->total_bytes / bs;
  sv.f_bfree = r->free_bytes / bs;
  sv.f_bavail = r->free_bytes / bs;
  sv.f_files = r->total_inodes;
  sv.f_ffree = r->free_inodes;
  sv.f_favail = r->free_inodes;
  sv.f_namemax = 255;
  fuse_reply_statfs(req, &sv);
}

// ---------------------------------------------------------------- xattrs
// Size-probe protocol: size 0 asks for the length; a too-small buffer is ERANGE.

void ReplyXattrValue(fuse_req_t req, const std::string& v, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, v.size());
  if (v.size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, v.data(), v.size());
}

// POSIX ACLs are not supported: without FUSE_CAP_POSIX_ACL the kernel would
// not enforce them, and storing system.posix_acl_access as a plain xattr
// makes `cp -p` believe the ACL call set the permissions, so it skips its
// fchmod and the copy keeps the mode it was created with (0600).
bool IsAclName(const char* name) { return std::strncmp(name, "system.posix_acl_", 17) == 0; }

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) {
  if (IsAclName(name)) return (void)fuse_reply_err(req, EOPNOTSUPP);
  ReplyErrno(req, Fs(req).SetXattr(ino, name, std::string_view(value, size), flags));
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (IsAclName(name)) return (void)fuse_reply_err(req, EOPNOTSUPP);
  auto r = Fs(req).GetXattr(ino, name);
  if (!r.ok()) return ReplyErrno(req, r.status());
  ReplyXattrValue(req, *r, size);
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto r = Fs(req).ListXattr(ino);
  if (!r.ok()) return ReplyErrno(req, r.status());
  std::string list;
  for (const auto& n : *r) list.append(n).push_back('\0');
  ReplyXattrValue(req, list, size);
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  if (IsAclName(name)) return (void)fuse_reply_err(req, EOPNOTSUPP);
  ReplyErrno(req, Fs(req).RemoveXattr(ino, name));
}

// The whole operation table, in one place.
fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops op{};
  op.init = OpInit;
  op.destroy = OpDestroy;
  op.lookup = OpLookup;
  op.forget = OpForget;
  op.forget_multi = OpForgetMulti;
  op.getattr = OpGetattr;
  op.setattr = OpSetattr;
  op.readlink = OpReadlink;
  op.mknod = OpMknod;
  op.mkdir = OpMkdir;
  op.unlink = OpUnlink;
  op.rmdir = OpRmdir;
  op.symlink = OpSymlink;
  op.rename = OpRename;
  op.link = OpLink;
  op.open = OpOpen;
  op.read = OpRead;
  op.write_buf = OpWriteBuf;  // replaces op.write: libfuse calls write_buf when set
  op.flush = OpFlush;
  op.release = OpRelease;
  op.fsync = OpFsync;
  op.opendir = OpOpendir;
  op.readdir = OpReaddir;
  op.readdirplus = OpReaddirplus;
  op.releasedir = OpReleasedir;
  op.fsyncdir = OpFsyncdir;
  op.statfs = OpStatfs;
  op.setxattr = OpSetxattr;
  op.getxattr = OpGetxattr;
  op.listxattr = OpListxattr;
  op.removexattr = OpRemovexattr;
  op.create = OpCreate;
  op.copy_file_range = OpCopyFileRange;
  op.fallocate = OpFallocate;
  return op;
}

// Escapes a value for libfuse's -o parser (',' separates options).
std::string EscapeOptValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Status ServeMount(Filesystem& fs, const MountOptions& opts, std::function<void()> on_ready) {
  const std::string& mnt = opts.mountpoint;
  Adapter ad{&fs, opts};
  std::string o = "fsname=" + EscapeOptValue(opts.store) + ",subtype=ckptfs,default_permissions";
  if (opts.allow_other) o += ",allow_other";
  if (opts.read_only) o += ",ro";
  std::vector<std::string> args = {"ckptfs", "-o", o};
  if (opts.debug) args.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  struct stat before {};
  if (stat(mnt.c_str(), &before) != 0) return Status::FromErrno("mountpoint " + mnt, errno);

  fuse_lowlevel_ops ops = MakeOps();
  fuse_session* se = fuse_session_new(&fargs, &ops, sizeof(ops), &ad);
  if (se == nullptr) return Status::InvalidArgument("cannot create a FUSE session for " + mnt);
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    return Status::Errno(EIO, "cannot install signal handlers");
  }
  if (fuse_session_mount(se, mnt.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return Status::Errno(EIO, "cannot mount at " + mnt + " (libfuse's message is above)");
  }
  spdlog::info("mounted {} at {}", opts.store, mnt);
  // Drops the kernel's pages of a file that cached handles shared with
  // direct writers (Filesystem::SetCacheInvalidator). It runs in a release
  // handler, for which the kernel holds no lock (release is sent in the
  // background), so the notification cannot deadlock against the request.
  fs.SetCacheInvalidator([se](Ino ino) {
    int rc = fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
    if (rc != 0 && rc != -ENOENT)
      spdlog::warn("invalidating the page cache of inode {}: {}", ino, strerror(-rc));
  });

  // Readiness: the mount answers once a stat of the mountpoint reaches our
  // root (its st_dev changes). The stat blocks until the kernel's INIT
  // handshake is done and our getattr replied, so no sleep is involved
  // beyond a short retry if the mount is not visible yet.
  std::atomic<bool> stopping{false};
  std::thread ready([&] {
    while (!stopping.load()) {
      struct stat st {};
      if (stat(mnt.c_str(), &st) == 0 && st.st_dev != before.st_dev) {
        if (on_ready) on_ready();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  // Only this thread takes the shutdown signals (see the header's REQUIRES);
  // the loop's worker threads block all signals themselves.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
  fuse_loop_cfg_set_idle_threads(cfg, opts.max_idle_threads);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  fs.SetCacheInvalidator(nullptr);

  stopping = true;
  spdlog::info("unmounting {}", mnt);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  // Runs OpDestroy (SyncAll) and closes /dev/fuse, which fails any request
  // still pending, so the readiness thread cannot stay blocked in stat().
  fuse_session_destroy(se);
  ready.join();
  // libfuse reports a shutdown signal as a positive return (the signal
  // number): that is a clean stop. Negative values are errnos.
  if (rc > 0) spdlog::info("stopped by signal {}", rc);
  if (rc < 0) return Status::Errno(-rc, "FUSE session loop for " + mnt + " failed");
  return Status::OK();
}

}  // namespace ckptfs
