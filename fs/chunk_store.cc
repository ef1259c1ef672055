#include "fs/chunk_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <tuple>
#include <cstdio>

#include "base/crc32c.h"
#include "base/unique_fd.h"
#include "codec/pack_format.h"

namespace ckptfs {

ChunkStore::ChunkStore(Env* env, std::string dir, MetadataStore* meta, const StoreConfig& config,
                       const Options& options, ThreadPool* pool, ChunkHasher hasher)
    : env_(env),
      dir_(std::move(dir)),
      meta_(meta),
      config_(config),
      options_(options),
      pool_(pool),
      hasher_(std::move(hasher)),
      compressor_(config.compression),
      cache_(options.cache_bytes),
      prefetch_pool_(std::make_unique<ThreadPool>(kPrefetchThreads)) {}

ChunkStore::~ChunkStore() {
  closing_ = true;
  prefetch_pool_.reset();
  (void)Close();
}

uint64_t ChunkStore::FileSizeOrZero(const std::string& path) const {
  auto sz = env_->GetFileSize(path);
  return sz.ok() ? *sz : 0;
}

std::string ChunkStore::PackPath(uint32_t id) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%08x.pack", id);
  return dir_ + "/packs/" + name;
}

Result<std::unique_ptr<ChunkStore>> ChunkStore::Open(Env* env, const std::string& store_dir,
                                                     MetadataStore* meta,
                                                     const StoreConfig& config,
                                                     const Options& options, ThreadPool* pool) {
  CKPTFS_ASSIGN_OR_RETURN(ChunkHasher hasher, ChunkHasher::Create(config.hash_secret));
  std::unique_ptr<ChunkStore> cs(
      new ChunkStore(env, store_dir, meta, config, options, pool, std::move(hasher)));
  uint32_t max_id = 0;
  CKPTFS_ASSIGN_OR_RETURN(auto packs, meta->ListPacks());
  for (const auto& p : packs) max_id = std::max(max_id, p.pack_id);
  // A pack file may exist without a row if a crash hit between creating the
  // file and recording it; never reuse its id.
  auto files = env->GetChildren(store_dir + "/packs");
  if (!files.ok()) return files.status();
  for (const auto& f : *files) {
    unsigned id = 0;
    if (std::sscanf(f.c_str(), "%08x.pack", &id) == 1) max_id = std::max<uint32_t>(max_id, id);
  }
  cs->next_pack_id_ = max_id + 1;
  return cs;
}

Status ChunkStore::RotateLocked() {
  if (active_) {
    // Sealing syncs ~64 MiB; doing it here would stall every writer behind
    // this lock. The full pack is sealed on its own thread instead, and
    // SyncData() waits for it, so the ordering invariant still holds: no
    // commit can name a record of this pack before the pack is durable.
    // Readers of its pending records must find them in the file while the
    // pack waits for its seal; a failed flush breaks the writer and Seal()
    // reports it.
    (void)active_->Flush();
    // Each pack being sealed owns its write buffers: with no commit to wait
    // for the seals (one long write), a disk slower than the writers would
    // pile up rotated packs in memory. At most kMaxSealing are in flight;
    // beyond that, rotation waits for the oldest (backpressure).
    ReapSealedLocked(kMaxSealing - 1);
    std::shared_ptr<PackWriter> full(std::move(active_));
    MetadataStore* meta = meta_;
    sealing_.push_back(std::async(std::launch::async, [full, meta]() mutable -> Status {
                         Status st = full->Seal();
                         if (st.ok())
                           st = meta->UpdatePack(PackInfo{full->pack_id(), full->size(), true, 0, 0});
                         full.reset();  // the future outlives the seal: free the buffers now
                         return st;
                       }).share());
  }
  return OpenNewPackLocked();
}

void ChunkStore::ReapSealedLocked(size_t keep) {
  auto reap = [&] {
    std::erase_if(sealing_, [&](const std::shared_future<Status>& f) {
      if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
      if (Status st = f.get(); !st.ok() && seal_error_.ok()) seal_error_ = st;
      return true;
    });
  };
  reap();
  while (sealing_.size() > keep) {
    sealing_.front().wait();
    reap();
  }
}

size_t ChunkStore::packs_sealing() const {
  std::lock_guard<std::mutex> l(mu_);
  return sealing_.size();
}

Status ChunkStore::WaitSealed() {
  std::vector<std::shared_future<Status>> pending;
  Status first;
  {
    std::lock_guard<std::mutex> l(mu_);
    pending.swap(sealing_);
    // A seal that failed while no commit was waiting is reported to the
    // next one, exactly once, as an unreaped failure would be.
    std::swap(first, seal_error_);
  }
  for (auto& f : pending) {
    Status st = f.get();
    if (first.ok() && !st.ok()) first = st;
  }
  return first;
}

Status ChunkStore::OpenNewPackLocked() {
  uint32_t id = next_pack_id_++;
  PackInfo info;
  info.pack_id = id;
  // The row goes first: a pack file always has a row or is garbage that gc
  // deletes by name, never a live pack the index forgot.
  CKPTFS_RETURN_IF_ERROR(meta_->AddPack(info));
  auto w = PackWriter::Create(env_, PackPath(id), id);
  if (!w.ok()) {
    (void)meta_->RemovePack(id);
    return w.status();
  }
  active_ = std::move(w).value();
  active_dirty_ = false;
  return Status::OK();
}

Status ChunkStore::CheckSpaceForData(size_t bytes) {
  // Chunk data stops short of a full disk, so that SQLite keeps room to
  // delete files and gc to punch holes: a store whose disk filled up to the
  // last block could refuse even `rm` (SQLite needs space to log a delete).
  // statvfs is cheap but not free: every 4 MiB, and every chunk once the
  // disk is within twice the floor.
  const uint64_t since = unchecked_bytes_.fetch_add(bytes) + bytes;
  if (!space_low_.load(std::memory_order_relaxed) && since < (4ull << 20)) return Status::OK();
  unchecked_bytes_ = 0;
  auto space = env_->GetSpace(dir_);
  if (!space.ok()) return Status::OK();  // no answer: let the write itself find out
  const uint64_t floor = std::clamp<uint64_t>(space->total_bytes / 100, 8ull << 20, 64ull << 20);
  space_low_ = space->free_bytes < 2 * floor;
  if (space->free_bytes >= floor) return Status::OK();
  return Status::NoSpace("store " + dir_ + ": disk has " + std::to_string(space->free_bytes >> 20) +
                         " MiB free, under the " + std::to_string(floor >> 20) +
                         " MiB kept for deleting files and gc");
}

Result<PutResult> ChunkStore::Put(ByteSpan raw) {
  if (options_.read_only) return Status::Errno(EROFS, "store is mounted read-only");
  ChunkId id = hasher_.Hash(raw);
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.puts++;
    stats_.bytes_in += raw.size();
    if (auto it = pending_.find(id); it != pending_.end()) {
      holds_[id]++;
      stats_.dedup_hits++;
      return PutResult{it->second, false};
    }
  }
  CKPTFS_ASSIGN_OR_RETURN(auto found, meta_->FindChunk(id));
  if (found) {
    std::lock_guard<std::mutex> l(mu_);
    holds_[id]++;
    stats_.dedup_hits++;
    return PutResult{*found, false};
  }
  CKPTFS_RETURN_IF_ERROR(CheckSpaceForData(raw.size()));
  CompressedChunk c = compressor_.Compress(raw);
  const uint32_t crc = crc32c::Value(c.payload.data(), c.payload.size());
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = pending_.find(id); it != pending_.end()) {  // raced with an identical Put
    holds_[id]++;
    stats_.dedup_hits++;
    return PutResult{it->second, false};
  }
  if (!active_ || active_->size() >= config_.pack_target_size)
    CKPTFS_RETURN_IF_ERROR(RotateLocked());
  auto entry = active_->Add(id, c.codec, static_cast<uint32_t>(raw.size()), c.payload, crc);
  if (!entry.ok()) {
    // The writer is now broken; the next Put starts a fresh pack so one full
    // disk episode does not poison the store after space is freed.
    Status st = entry.status();
    active_.reset();
    return st;
  }
  active_dirty_ = true;
  ChunkLocation loc;
  loc.id = id;
  loc.pack_id = active_->pack_id();
  loc.offset = entry->offset;
  loc.raw_len = entry->raw_len;
  loc.stored_len = entry->stored_len;
  loc.codec = entry->codec;
  pending_[id] = loc;
  holds_[id]++;
  stats_.bytes_written += c.payload.size();
  return PutResult{loc, true};
}

void ChunkStore::Hold(const std::vector<ChunkId>& ids) {
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& id : ids) holds_[id]++;
}

void ChunkStore::Release(const std::vector<ChunkId>& ids) {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& id : ids) {
    auto it = holds_.find(id);
    if (it == holds_.end()) continue;
    if (--it->second == 0) {
      holds_.erase(it);
      pending_.erase(id);
    }
  }
}

Status ChunkStore::SyncData() {
  std::lock_guard<std::mutex> s(sync_mu_);
  CKPTFS_RETURN_IF_ERROR(WaitSealed());
  std::string path;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!active_ || !active_dirty_) return Status::OK();
    // Buffered records go to the file first; the sync below covers them.
    CKPTFS_RETURN_IF_ERROR(active_->Flush());
    active_dirty_ = false;
    path = active_->path();
  }
  // fdatasync through a second descriptor so Puts are not blocked meanwhile;
  // it flushes the file's data whichever descriptor wrote it. If the pack was
  // sealed and rotated in between, Seal() already synced it.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  if (::fdatasync(fd.get()) != 0) {
    std::lock_guard<std::mutex> l(mu_);
    active_dirty_ = true;
    return Status::FromErrno("fdatasync " + path, errno);
  }
  return Status::OK();
}

Result<std::optional<ChunkLocation>> ChunkStore::Locate(const ChunkId& id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = pending_.find(id); it != pending_.end()) return std::optional(it->second);
  }
  return meta_->FindChunk(id);
}

Result<std::shared_ptr<PackReader>> ChunkStore::Reader(uint32_t pack_id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = readers_.find(pack_id); it != readers_.end()) return it->second;
  }
  CKPTFS_ASSIGN_OR_RETURN(auto r, PackReader::Open(env_, PackPath(pack_id)));
  std::shared_ptr<PackReader> shared(std::move(r));
  std::lock_guard<std::mutex> l(mu_);
  readers_.emplace(pack_id, shared);
  return shared;
}

Result<ChunkBytes> ChunkStore::Load(const ChunkId& id, PayloadCheck payload) {
  return std::move(LoadMany(std::span(&id, 1), payload).front());
}

std::vector<Result<ChunkBytes>> ChunkStore::LoadMany(std::span<const ChunkId> ids,
                                                     PayloadCheck payload) {
  std::vector<Result<ChunkBytes>> out(ids.size(), Status::Corruption("not loaded"));
  // Shared against gc: between looking a chunk up and reading its record, gc
  // must not move the record and delete its old pack (a spurious EIO).
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  struct Item {
    size_t index;
    ChunkLocation loc;
  };
  std::vector<Item> items;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto loc = Locate(ids[i]);
    if (!loc.ok()) out[i] = loc.status();
    else if (!*loc) out[i] = Status::Corruption("chunk " + ids[i].ToHex() + " is not in the chunk index");
    else items.push_back({i, **loc});
  }
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
    return std::tie(x.loc.pack_id, x.loc.offset) < std::tie(y.loc.pack_id, y.loc.offset);
  });
  {
    // A record of the active pack may still be in the writer's buffer.
    std::lock_guard<std::mutex> l(mu_);
    const bool in_active = active_ && std::any_of(items.begin(), items.end(), [&](const Item& it) {
                             return it.loc.pack_id == active_->pack_id();
                           });
    if (in_active) {
      if (Status st = active_->Flush(); !st.ok()) {
        for (const Item& x : items) out[x.index] = st;
        return out;
      }
    }
  }
  // The index names the pack, so a pack that is missing or unreadable is
  // damage to the store (EIO to the reader), not a missing file (ENOENT).
  auto damaged = [](const ChunkId& id, const Status& st) {
    if (st.IsNotFound() || st.code() == Code::kIOError || st.IsCorruption())
      return Status::Corruption("chunk " + id.ToHex() + ": " + st.message());
    return st;
  };
  // Records are needed only until they are decompressed: per-thread scratch,
  // read straight from the disk (direct I/O), no page-cache copy.
  thread_local AlignedBuffer scratch;
  std::vector<PackEntry> run;
  for (size_t a = 0; a < items.size();) {
    // A run: records of one pack, each starting where the last one ends.
    size_t b = a + 1;
    uint64_t end = items[a].loc.offset + pack::kRecordHeaderSize + items[a].loc.stored_len;
    while (b < items.size() && items[b].loc.pack_id == items[a].loc.pack_id &&
           items[b].loc.offset == end &&
           end + pack::kRecordHeaderSize + items[b].loc.stored_len - items[a].loc.offset <=
               kMaxReadRun) {
      end += pack::kRecordHeaderSize + items[b].loc.stored_len;
      ++b;
    }
    auto opened = Reader(items[a].loc.pack_id);
    if (!opened.ok()) {
      for (size_t k = a; k < b; ++k) out[items[k].index] = damaged(items[k].loc.id, opened.status());
      a = b;
      continue;
    }
    const PackReader& reader = **opened;
    run.clear();
    for (size_t k = a; k < b; ++k) {
      const ChunkLocation& l = items[k].loc;
      run.push_back(PackEntry{l.id, l.offset, l.raw_len, l.stored_len, l.codec});
    }
    // Decode verifies every payload against its chunk id.
    std::vector<Result<ByteSpan>> payloads = reader.ReadPayloads(run, &scratch, payload);
    for (size_t k = a; k < b; ++k) {
      const Result<ByteSpan>& p = payloads[k - a];
      out[items[k].index] = p.ok() ? Decode(items[k].loc, reader.path(), *p)
                                   : damaged(items[k].loc.id, p.status());
    }
    a = b;
  }
  // Scratch larger than a default read run (records of a store with
  // multi-megabyte chunks) is not kept per thread: with ~15 threads that
  // load chunks it held hundreds of MiB outside the cache's budget.
  if (scratch.capacity() > kMaxReadRun + 2 * AlignedBuffer::kAlign) scratch = AlignedBuffer();
  return out;
}

Result<ChunkBytes> ChunkStore::Decode(const ChunkLocation& loc, const std::string& pack_path,
                                      ByteSpan payload) const {
  auto raw = std::make_shared<ByteBuffer>(loc.raw_len);
  Status st = Compressor::Decompress(loc.codec, payload, *raw);
  if (!st.ok())
    return Status::Corruption("chunk " + loc.id.ToHex() + " in " + pack_path + ": " + st.message());
  if (hasher_.Hash(*raw) != loc.id)
    return Status::Corruption("chunk " + loc.id.ToHex() + " in " + pack_path +
                              ": content does not match its hash");
  return ChunkBytes(std::move(raw));
}

Result<ChunkBytes> ChunkStore::Get(const ChunkId& id) {
  if (ChunkBytes hit = cache_.Get(id)) {
    std::lock_guard<std::mutex> l(mu_);
    stats_.gets++;
    stats_.cache_hits++;
    return hit;
  }
  // One load per chunk at a time: concurrent readers (and readahead) of the
  // same chunk wait for the first.
  std::shared_future<Result<ChunkBytes>> fut;
  bool owner = false;
  std::promise<Result<ChunkBytes>> promise;
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.gets++;
    if (auto it = inflight_.find(id); it != inflight_.end()) {
      fut = it->second;
    } else {
      fut = promise.get_future().share();
      inflight_.emplace(id, fut);
      owner = true;
    }
  }
  if (!owner) return fut.get();
  Result<ChunkBytes> r = Load(id);
  if (r.ok()) cache_.Put(id, *r);
  promise.set_value(r);
  std::lock_guard<std::mutex> l(mu_);
  inflight_.erase(id);
  return r;
}

void ChunkStore::Prefetch(std::span<const ChunkId> ids) {
  // Claims the chunks to load, as Get does, so that a reader of one of them
  // waits for this load instead of starting its own.
  struct Claim {
    ChunkId id;
    std::promise<Result<ChunkBytes>> promise;
  };
  auto claims = std::make_shared<std::vector<Claim>>();
  {
    std::vector<ChunkId> missing;
    for (const ChunkId& id : ids)
      if (!cache_.Get(id)) missing.push_back(id);
    if (missing.empty()) return;
    std::lock_guard<std::mutex> l(mu_);
    for (const ChunkId& id : missing) {
      if (inflight_.count(id)) continue;  // also skips repeats within `ids`
      Claim& c = claims->emplace_back(Claim{id, {}});
      inflight_.emplace(id, c.promise.get_future().share());
    }
  }
  // Claims are loaded in groups, one task each: a reader waits only for the
  // group that holds its chunk, and a large claim (a reader's first, the
  // whole window) spreads over the prefetch threads.
  for (size_t first = 0; first < claims->size(); first += kPrefetchGroup) {
    const size_t last = std::min(claims->size(), first + kPrefetchGroup);
    prefetch_pool_->Submit([this, claims, first, last] {
      std::vector<ChunkId> want;
      for (size_t i = first; i < last; ++i) want.push_back((*claims)[i].id);
      std::vector<Result<ChunkBytes>> got;
      if (closing_.load(std::memory_order_relaxed))
        got.assign(want.size(), Status::Errno(ECANCELED, "store is closing"));
      else
        got = LoadMany(want);
      for (size_t i = first; i < last; ++i) {
        if (got[i - first].ok()) cache_.Put(want[i - first], *got[i - first]);
        (*claims)[i].promise.set_value(got[i - first]);
      }
      std::lock_guard<std::mutex> l(mu_);
      for (const ChunkId& id : want) inflight_.erase(id);
    });
  }
}

Status ChunkStore::VerifyAll(const std::function<void(uint64_t, uint64_t)>& progress,
                             std::vector<std::pair<ChunkId, std::string>>* bad, uint64_t* checked,
                             uint64_t* bytes) {
  CKPTFS_ASSIGN_OR_RETURN(StoreStats st, meta_->Stats());
  uint64_t total = st.unique_chunks;
  ChunkId after{};
  bool first = true;
  *checked = 0;
  *bytes = 0;
  for (;;) {
    CKPTFS_ASSIGN_OR_RETURN(auto page, meta_->ListChunks(after, 1024));
    if (first) {
      // ListChunks is strictly after `after`; the all-zero id itself is
      // checked by a direct lookup.
      first = false;
      CKPTFS_ASSIGN_OR_RETURN(auto zero, meta_->FindChunk(after));
      if (zero) page.insert(page.begin(), *zero);
    }
    if (page.empty()) break;
    for (const auto& loc : page) {
      auto r = Load(loc.id, PayloadCheck::kCrc);
      if (!r.ok()) bad->emplace_back(loc.id, r.status().message());
      ++*checked;
      *bytes += loc.raw_len;
      if (progress) progress(*checked, total);
    }
    after = page.back().id;
  }
  return Status::OK();
}

Status ChunkStore::VerifyPackFooters(std::vector<std::string>* problems) {
  CKPTFS_ASSIGN_OR_RETURN(auto packs, meta_->ListPacks());
  for (const auto& p : packs) {
    if (!p.sealed) continue;  // the active pack, or a torn one gc trims
    const std::string where = PackPath(p.pack_id);
    auto reader = Reader(p.pack_id);
    if (!reader.ok()) {
      problems->push_back(where + ": " + reader.status().message());
      continue;
    }
    auto footer = (*reader)->ReadFooter();
    if (!footer.ok()) {
      problems->push_back(where + ": footer: " + footer.status().message());
      continue;
    }
    // Index rebuilds trust a sealed footer: every row the index places in
    // this pack must be listed there, at the same offset.
    std::unordered_map<ChunkId, uint64_t, ChunkIdHash> listed;
    for (const auto& e : *footer) listed.emplace(e.id, e.offset);
    CKPTFS_ASSIGN_OR_RETURN(auto rows, meta_->ListChunksInPack(p.pack_id));
    size_t missing = 0;
    for (const auto& r : rows) {
      auto it = listed.find(r.id);
      if (it == listed.end() || it->second != r.offset) ++missing;
    }
    if (missing)
      problems->push_back(where + ": footer does not list " + std::to_string(missing) +
                          " of the index's " + std::to_string(rows.size()) + " chunks in it");
  }
  return Status::OK();
}

namespace {

// Where the last of `rows` (records of one pack) ends; the pack header's
// end when there are none.
uint64_t EndOfRecords(const std::vector<ChunkLocation>& rows) {
  uint64_t end = pack::kPackHeaderSize;
  for (const auto& r : rows) end = std::max(end, r.offset + pack::kRecordHeaderSize + r.stored_len);
  return end;
}

}  // namespace

Status ChunkStore::FreeDeadRecordsInPlace(const PackInfo& p, GcResult* res) {
  // Dead records lie between the live ones (the index rows) and the end of
  // the records: the footer's start in a sealed pack, the last live record
  // in an unsealed one (its tail was cut already). Offsets do not move, so
  // the rows, the footer and readers are unaffected; the holes read as
  // zeros and are never read. REQUIRES gc_mu_ held exclusively.
  const std::string path = PackPath(p.pack_id);
  CKPTFS_ASSIGN_OR_RETURN(auto rows, meta_->ListChunksInPack(p.pack_id));
  uint64_t end = EndOfRecords(rows);
  if (p.sealed) {
    CKPTFS_ASSIGN_OR_RETURN(auto reader, Reader(p.pack_id));
    CKPTFS_ASSIGN_OR_RETURN(auto footer, reader->ReadFooter());
    for (const auto& e : footer)
      end = std::max(end, e.offset + pack::kRecordHeaderSize + e.stored_len);
  }
  std::sort(rows.begin(), rows.end(),
            [](const ChunkLocation& a, const ChunkLocation& b) { return a.offset < b.offset; });
  constexpr uint64_t kBlock = 4096;
  uint64_t at = pack::kPackHeaderSize, freed = 0;
  auto punch = [&](uint64_t a, uint64_t b) -> Status {
    // Only whole blocks are freed; the partial ones are zeroed in place.
    const uint64_t first = (a + kBlock - 1) / kBlock * kBlock, last = b / kBlock * kBlock;
    if (last <= first) return Status::OK();
    CKPTFS_RETURN_IF_ERROR(env_->PunchHole(path, first, last - first));
    freed += last - first;
    return Status::OK();
  };
  Status st;
  for (const auto& r : rows) {
    if (r.offset > at && st.ok()) st = punch(at, r.offset);
    at = std::max<uint64_t>(at, r.offset + pack::kRecordHeaderSize + r.stored_len);
  }
  if (st.ok() && end > at) st = punch(at, end);
  if (st.code() == Code::kNotSupported) {
    res->packs_not_compacted++;
    return Status::OK();
  }
  CKPTFS_RETURN_IF_ERROR(st);
  res->packs_freed_in_place++;
  res->bytes_reclaimed += freed;
  return Status::OK();
}

Result<ChunkStore::GcResult> ChunkStore::Gc(
    double min_live_ratio, const std::function<void(uint64_t, uint64_t)>& progress) {
  if (options_.read_only) return Status::Errno(EROFS, "store is mounted read-only");
  std::unique_lock<std::shared_mutex> gc_lock(gc_mu_);
  // The active pack may end in the records of writes that failed (the
  // free-space floor refuses a chunk without breaking the pack writer), and
  // gc neither cuts nor punches the active pack. So when a good part of it
  // is dead and no write in progress points into it, it is sealed first.
  CKPTFS_ASSIGN_OR_RETURN(auto before, meta_->ListPacks());
  {
    std::lock_guard<std::mutex> l(mu_);
    if (active_) {
      uint64_t live = 0;
      for (const auto& p : before)
        if (p.pack_id == active_->pack_id()) live = p.live_bytes;
      bool pinned = false;
      for (const auto& [id, loc] : pending_) pinned |= loc.pack_id == active_->pack_id();
      const uint64_t dead = active_->size() > live ? active_->size() - live : 0;
      if (!pinned && dead > std::max<uint64_t>(1 << 20, active_->size() / 4))
        (void)RotateLocked();  // on failure the next Put opens a fresh pack
    }
  }
  // A pack still being sealed is neither active nor sealed in the index; it
  // must not be mistaken for a torn one.
  CKPTFS_RETURN_IF_ERROR(WaitSealed());
  GcResult res;
  CKPTFS_ASSIGN_OR_RETURN(auto unref, meta_->ListUnreferencedChunks());
  std::vector<ChunkId> drop;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& c : unref)
      if (!holds_.count(c.id)) drop.push_back(c.id);
  }
  if (!drop.empty()) CKPTFS_RETURN_IF_ERROR(meta_->DeleteChunks(drop));
  for (const auto& id : drop) cache_.Erase(id);
  res.chunks_deleted = drop.size();

  CKPTFS_ASSIGN_OR_RETURN(auto packs, meta_->ListPacks());
  uint32_t active_id = 0;
  std::set<uint32_t> pinned;  // packs holding records of files still being written
  {
    std::lock_guard<std::mutex> l(mu_);
    if (active_) active_id = active_->pack_id();
    for (const auto& [id, loc] : pending_) pinned.insert(loc.pack_id);
  }
  // Two passes. The first frees space without writing a byte: packs with no
  // live record are deleted and failed-write tails cut. Only then does the
  // second compact (copy live records out of) mostly-dead packs, most garbage
  // first, each only if the disk has room for the copy. On a full disk the
  // other order failed the first compaction and never reached the dead
  // packs, so deleting files could not make room.
  uint64_t done = 0;
  auto drop_pack = [&](uint32_t pack_id, const std::string& path, uint64_t file_size,
                       uint64_t rewritten, bool empty) -> Status {
    // No row points into this pack any more: drop the row, then the file.
    CKPTFS_RETURN_IF_ERROR(meta_->RemovePack(pack_id));
    {
      std::lock_guard<std::mutex> l(mu_);
      readers_.erase(pack_id);
    }
    if (env_->RemoveFile(path).ok()) {
      res.bytes_reclaimed += file_size > rewritten ? file_size - rewritten : 0;
      if (empty) res.packs_deleted++;
    }
    return Status::OK();
  };
  struct Candidate {
    double live;
    PackInfo pack;
    uint64_t file_size;
  };
  std::vector<Candidate> compact;
  for (const auto& p : packs) {
    if (progress) progress(++done, 2 * packs.size());
    if (p.pack_id == active_id || pinned.count(p.pack_id)) continue;
    std::string path = PackPath(p.pack_id);
    uint64_t file_size = FileSizeOrZero(path);
    if (p.chunks == 0) {
      CKPTFS_RETURN_IF_ERROR(drop_pack(p.pack_id, path, file_size, 0, /*empty=*/true));
      continue;
    }
    if (!p.sealed) {
      // An unsealed pack that is no longer active ends in records no row
      // names (a write that failed, e.g. on ENOSPC, or a crash). Cutting
      // that tail frees the space without copying anything; sealed packs
      // are never rewritten in place.
      CKPTFS_ASSIGN_OR_RETURN(auto rows, meta_->ListChunksInPack(p.pack_id));
      const uint64_t end = EndOfRecords(rows);
      if (file_size > end) {
        {
          std::lock_guard<std::mutex> l(mu_);
          readers_.erase(p.pack_id);
        }
        CKPTFS_RETURN_IF_ERROR(env_->TruncateFile(path, end));
        res.bytes_reclaimed += file_size - end;
        res.pack_tails_cut++;
        file_size = end;
      }
    }
    const double live = file_size ? static_cast<double>(p.live_bytes) / file_size : 1.0;
    if (live < min_live_ratio) compact.push_back({live, p, file_size});
  }
  std::sort(compact.begin(), compact.end(),
            [](const Candidate& x, const Candidate& y) { return x.live < y.live; });
  done = packs.size() + (packs.size() - compact.size());
  for (const Candidate& c : compact) {
    if (progress) progress(++done, 2 * packs.size());
    const PackInfo& p = c.pack;
    const std::string path = PackPath(p.pack_id);
    // Room for the copy, the pack writer's buffers and the index update.
    // Without it the dead records' blocks are freed in place instead.
    auto space = env_->GetSpace(dir_);
    if (space.ok() && space->free_bytes < p.live_bytes + kGcCompactionSlack) {
      CKPTFS_RETURN_IF_ERROR(FreeDeadRecordsInPlace(p, &res));
      continue;
    }
    // Compaction: copy live records into the active pack, sync, repoint the
    // rows in one transaction, and only then delete the old file.
    CKPTFS_ASSIGN_OR_RETURN(auto reader, Reader(p.pack_id));
    CKPTFS_ASSIGN_OR_RETURN(auto rows, meta_->ListChunksInPack(p.pack_id));
    std::vector<ChunkLocation> moved;
    Status st;
    for (const auto& loc : rows) {
      std::vector<std::byte> payload;
      PackEntry e{loc.id, loc.offset, loc.raw_len, loc.stored_len, loc.codec};
      st = reader->ReadPayload(e, &payload);
      if (!st.ok()) return st.WithContext("gc: compacting pack " + path);
      std::lock_guard<std::mutex> l(mu_);
      if (!active_ || active_->size() >= config_.pack_target_size) st = RotateLocked();
      if (!st.ok()) break;
      auto entry = active_->Add(loc.id, loc.codec, loc.raw_len, payload);
      if (!entry.ok()) {
        active_.reset();
        st = entry.status();
        break;
      }
      active_dirty_ = true;
      ChunkLocation n = loc;
      n.pack_id = active_->pack_id();
      n.offset = entry->offset;
      moved.push_back(n);
    }
    if (st.ok()) st = SyncData();
    if (st.ok()) st = meta_->RelocateChunks(moved);
    if (st.err() == ENOSPC) {
      // The old pack is intact and its rows unchanged; the copies made so
      // far are records no row names, cut or compacted by a later gc.
      CKPTFS_RETURN_IF_ERROR(FreeDeadRecordsInPlace(p, &res));
      continue;
    }
    CKPTFS_RETURN_IF_ERROR(st);
    res.packs_compacted++;
    // The live records now occupy space in another pack: only the rest of
    // the old file is reclaimed.
    uint64_t rewritten = 0;
    for (const auto& m : moved) rewritten += pack::kRecordHeaderSize + m.stored_len;
    CKPTFS_RETURN_IF_ERROR(drop_pack(p.pack_id, path, c.file_size, rewritten, /*empty=*/false));
  }
  // Pack files with no row at all (a crash between file creation and its
  // row). Re-read the rows: compaction above may have opened new packs.
  CKPTFS_RETURN_IF_ERROR(WaitSealed());
  CKPTFS_ASSIGN_OR_RETURN(auto now_packs, meta_->ListPacks());
  std::set<uint32_t> known;
  for (const auto& p : now_packs) known.insert(p.pack_id);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (active_) active_id = active_->pack_id();
  }
  auto files = env_->GetChildren(dir_ + "/packs");
  if (files.ok()) {
    for (const auto& f : *files) {
      unsigned id = 0;
      if (std::sscanf(f.c_str(), "%08x.pack", &id) != 1 || known.count(id) || id == active_id)
        continue;
      std::string path = dir_ + "/packs/" + f;
      uint64_t sz = FileSizeOrZero(path);
      if (env_->RemoveFile(path).ok()) {
        res.bytes_reclaimed += sz;
        res.packs_deleted++;
      }
    }
  }
  return res;
}

Status ChunkStore::Close() {
  closing_ = true;  // readahead after close would only reopen packs
  Status sealed = WaitSealed();
  std::lock_guard<std::mutex> l(mu_);
  if (!sealed.ok()) return sealed;
  if (!active_) return Status::OK();
  Status st = active_->Seal();
  if (st.ok()) st = meta_->UpdatePack(PackInfo{active_->pack_id(), active_->size(), true, 0, 0});
  active_.reset();
  return st;
}

uint64_t ChunkStore::pack_bytes_on_disk() const {
  // Allocated, not apparent, sizes: gc on a full disk punches holes over
  // dead records, and `df` and `stats` must show the space that freed.
  uint64_t total = 0;
  auto files = env_->GetChildren(dir_ + "/packs");
  if (!files.ok()) return 0;
  for (const auto& f : *files) {
    auto sz = env_->GetFileAllocatedSize(dir_ + "/packs/" + f);
    if (sz.ok()) total += *sz;
  }
  return total;
}

ChunkStoreStats ChunkStore::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace ckptfs
