// ChunkStore: content-addressed chunks in append-only packs, indexed by the
// metadata store's chunk table.
//
// Write ordering (docs/ARCHITECTURE.md):
//   1. Put() appends a record to the active pack (write(), not yet synced)
//      and remembers the location as *pending*: it is in no metadata row yet.
//   2. Before a metadata commit references pending chunks, the committer calls
//      SyncData(): the pack bytes are fdatasync'ed first.
//   3. The commit inserts the chunk rows together with the extents.
// So after a crash at any instant, every chunk row points at complete, synced
// pack bytes; records that no row names are garbage that gc reclaims.
//
// Liveness for gc: every chunk id handed out by Put() (new or dedup hit) is
// *held* until the writer calls Release() after its commit or abort. Gc never
// deletes a held chunk's row nor the pack that stores it, so a file being
// written cannot lose a chunk it deduplicated against.
//
// Thread-safe. Lock order: gc_mu_ before mu_.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/thread_pool.h"
#include "codec/chunk_hasher.h"
#include "codec/chunker.h"
#include "codec/compressor.h"
#include "codec/pack_reader.h"
#include "codec/pack_writer.h"
#include "fs/chunk_cache.h"
#include "fs/metadata.h"
#include "fs/store_config.h"

namespace ckptfs {

struct PutResult {
  ChunkLocation location;
  bool written = false;  // false: a dedup hit, nothing was written
};

struct ChunkStoreStats {
  uint64_t puts = 0, dedup_hits = 0, bytes_in = 0, bytes_written = 0;
  uint64_t gets = 0, cache_hits = 0;
};

class ChunkStore {
 public:
  struct Options {
    uint64_t cache_bytes = 128ull << 20;
    bool read_only = false;
  };
  // Readahead loads mostly wait for the disk (direct reads), so they get
  // their own threads rather than queue behind compression on the shared pool.
  static constexpr unsigned kPrefetchThreads = 4;
  static Result<std::unique_ptr<ChunkStore>> Open(Env* env, const std::string& store_dir,
                                                  MetadataStore* meta, const StoreConfig& config,
                                                  const Options& options, ThreadPool* pool);
  ~ChunkStore();

  // Stores `raw` (dedup, compress, append) and holds its id. Thread-safe;
  // runs on the caller's thread.
  Result<PutResult> Put(ByteSpan raw);
  // Holds chunks that are already committed (copy_file_range clones them).
  void Hold(const std::vector<ChunkId>& ids);
  // Drops holds taken by Put or Hold (after the referencing commit, or on abort).
  void Release(const std::vector<ChunkId>& ids);
  // fdatasync of pack data written so far (no-op if nothing new).
  Status SyncData();

  // Raw bytes of a chunk, verified against its id. Corruption names the pack.
  Result<ChunkBytes> Get(const ChunkId& id);
  // Starts loading, in the background, those of `ids` that are neither
  // cached nor being loaded, to warm the cache (readahead). Records that lie
  // next to each other in a pack are read together (up to kMaxReadRun bytes).
  void Prefetch(std::span<const ChunkId> ids);
  static constexpr uint64_t kMaxReadRun = 4ull << 20;
  static constexpr size_t kPrefetchGroup = 8;  // chunks per prefetch task

  // fsck: reads and verifies every chunk row; also checks that each pack file
  // exists. `bad` receives the ids that failed with a message.
  Status VerifyAll(const std::function<void(uint64_t, uint64_t)>& progress,
                   std::vector<std::pair<ChunkId, std::string>>* bad, uint64_t* checked,
                   uint64_t* bytes);
  // fsck: every sealed pack's footer reads back (magic, CRC) and lists the
  // chunks the index places in that pack.
  Status VerifyPackFooters(std::vector<std::string>* problems);
  // gc: deletes unreferenced, unheld chunk rows, rewrites sealed packs whose
  // live ratio is below `min_live_ratio`, deletes packs with no rows.
  struct GcResult {
    uint64_t chunks_deleted = 0, packs_compacted = 0, packs_deleted = 0, bytes_reclaimed = 0;
    // Packs due for compaction for which the disk had no room to copy their
    // live records: their dead records' blocks were freed in place (holes
    // punched), or, where the filesystem cannot punch holes, they were left
    // as they are. A later gc with more space compacts them.
    uint64_t packs_freed_in_place = 0, packs_not_compacted = 0;
    uint64_t pack_tails_cut = 0;  // unsealed packs whose unnamed tail was cut off
  };
  // Free space a compaction needs beyond the live bytes it copies.
  static constexpr uint64_t kGcCompactionSlack = 16ull << 20;
  Result<GcResult> Gc(double min_live_ratio, const std::function<void(uint64_t, uint64_t)>& progress);

  // Seals the active pack (at close of the store).
  Status Close();

  uint64_t pack_bytes_on_disk() const;
  // Rotated packs whose seal has not been reaped yet; at most kMaxSealing.
  static constexpr size_t kMaxSealing = 2;
  size_t packs_sealing() const;
  ChunkStoreStats stats() const;
  const ChunkHasher& hasher() const { return hasher_; }

 private:
  ChunkStore(Env* env, std::string dir, MetadataStore* meta, const StoreConfig& config,
             const Options& options, ThreadPool* pool, ChunkHasher hasher);
  std::string PackPath(uint32_t id) const;
  uint64_t FileSizeOrZero(const std::string& path) const;  // a missing pack counts 0
  Status OpenNewPackLocked();                      // REQUIRES mu_ held
  Status RotateLocked();                           // REQUIRES mu_ held: seal async, open new
  Status WaitSealed();                             // waits for rotated packs to be sealed
  // REQUIRES mu_ held: drops finished seals (keeping the first error) and
  // waits until at most `keep` are still in flight.
  void ReapSealedLocked(size_t keep);
  Result<std::shared_ptr<PackReader>> Reader(uint32_t pack_id);
  // NoSpace when the disk is down to the free space kept for metadata.
  Status CheckSpaceForData(size_t bytes);
  // gc without free space: punches holes over the dead records of `p`.
  Status FreeDeadRecordsInPlace(const PackInfo& p, GcResult* res);
  // No cache. Always decodes and compares with the id; `payload` adds the
  // record's CRC32C (fsck: damage that happens to decode right is still
  // damage to the store).
  Result<ChunkBytes> Load(const ChunkId& id,
                          PayloadCheck payload = PayloadCheck::kContentVerifiedByCaller);
  // Load of several chunks, results in the order of `ids`.
  std::vector<Result<ChunkBytes>> LoadMany(
      std::span<const ChunkId> ids, PayloadCheck payload = PayloadCheck::kContentVerifiedByCaller);
  // Decompresses and verifies one record's payload.
  Result<ChunkBytes> Decode(const ChunkLocation& loc, const std::string& pack_path,
                            ByteSpan payload) const;
  Result<std::optional<ChunkLocation>> Locate(const ChunkId& id);

  Env* env_;
  std::string dir_;
  MetadataStore* meta_;
  StoreConfig config_;
  Options options_;
  ThreadPool* pool_;
  ChunkHasher hasher_;
  Compressor compressor_;
  ChunkCache cache_;

  std::shared_mutex gc_mu_;  // shared: Put's lookup+hold; exclusive: gc decisions
  mutable std::mutex mu_;    // guards everything below
  std::unique_ptr<PackWriter> active_;
  std::vector<std::shared_future<Status>> sealing_;  // packs rotated out, being sealed
  Status seal_error_;  // a failed seal reaped before any commit waited for it
  bool active_dirty_ = false;  // appended since last sync
  uint32_t next_pack_id_ = 1;
  std::unordered_map<ChunkId, ChunkLocation, ChunkIdHash> pending_;  // written, maybe no row yet
  std::unordered_map<ChunkId, uint32_t, ChunkIdHash> holds_;
  std::map<uint32_t, std::shared_ptr<PackReader>> readers_;
  std::unordered_map<ChunkId, std::shared_future<Result<ChunkBytes>>, ChunkIdHash> inflight_;
  ChunkStoreStats stats_;
  std::mutex sync_mu_;  // serializes SyncData so concurrent committers share one fdatasync
  // Last member: destroyed (joined) first, as its tasks use everything above.
  std::atomic<uint64_t> unchecked_bytes_{~0ull >> 1};  // since the last space check
  std::atomic<bool> space_low_{false};                 // near the floor: check every chunk
  std::atomic<bool> closing_{false};  // queued prefetches skip their load
  std::unique_ptr<ThreadPool> prefetch_pool_;
};

}  // namespace ckptfs
