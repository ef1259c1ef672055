// FileData: the contents of one open regular file, committed extents plus
// uncommitted writes.
//
// Two write modes:
//   - Streaming: while every write lands exactly at the end of what was
//     written so far (how checkpoint writers and cp write), bytes go through
//     the content-defined chunker as they arrive and each cut chunk is
//     hashed, compressed and appended on the worker pool. Bytes are copied
//     once, into a segment (8 x max chunk size); chunks are handed to the
//     pool as views into it, and the segment lives until its last chunk is
//     stored. Only the uncut tail of a full segment (< max chunk size) is
//     copied again, into the next one. Memory is two segments plus a bounded
//     number of chunks in flight, independent of file size.
//   - Overlay: any other write (in the middle, past EOF, after existing
//     content) goes to a sparse spill file in staging/ and an interval map.
//     At commit the affected range is merged and re-chunked; unchanged
//     chunks dedup, so only changed bytes reach a pack.
// Holes (gaps between extents, and unwritten ranges in the overlay) read as
// zeros and are never stored.
//
// Not thread-safe: the owner (fs/filesystem_impl.cc) serializes access.
// REQUIRES for reads without exclusive access: clean() is true, in which
// case PinClean() only reads immutable state.
#pragma once

#include <deque>
#include <future>
#include <map>
#include <memory>
#include <vector>

#include "base/env.h"
#include "base/thread_pool.h"
#include "codec/chunker.h"
#include "fs/chunk_store.h"
#include "fs/metadata.h"
#include "fs/read_view.h"

namespace ckptfs {

struct CommitPlan {
  std::vector<Extent> extents;
  uint64_t size = 0;
  std::vector<ChunkLocation> new_chunks;  // rows the commit must insert
  bool wrote_data = false;                // some chunk was written: sync packs first
};

class FileData {
 public:
  FileData(ChunkStore* chunks, ThreadPool* pool, Env* env, std::string staging_path,
           const ChunkerParams& params, std::vector<Extent> extents, uint64_t size);
  ~FileData();

  uint64_t size() const { return size_; }
  // Streamed bytes not yet cut into chunks.
  size_t uncut_bytes() const { return pending(); }
  bool dirty() const { return dirty_; }
  // No uncommitted state: reads need only the committed extents.
  bool clean() const { return !dirty_ && !streaming_active(); }

  // With `defer_cut`, a streaming write only copies the bytes and leaves
  // the chunk cutting to CutDeferred(): the FUSE adapter acknowledges the
  // write in between, so the writer's next request is on its way while this
  // one's bytes are scanned for boundaries.
  Status Write(uint64_t offset, ByteSpan data, bool defer_cut = false);
  // Cuts and submits every chunk whose end is known. An error is sticky: the
  // next Write() and the commit return it.
  Status CutDeferred();
  Result<size_t> Read(uint64_t offset, std::span<std::byte> out);
  // A read of committed bytes without copying them: `view` gets pieces of
  // the cached chunks (and holes) covering the bytes read. REQUIRES: clean().
  Result<size_t> PinClean(uint64_t offset, size_t len, ReadView* view) const;
  Status Truncate(uint64_t size);
  // Replaces [off, off+len) with `src` (already shifted to this file's
  // offsets, covering at most that range) - used by copy_file_range.
  // REQUIRES: clean().
  void SpliceExtents(uint64_t off, uint64_t len, const std::vector<Extent>& src,
                     uint64_t new_size);

  // Finishes pending work and returns what to commit. After the caller's
  // metadata commit succeeds it calls Committed(plan); on failure Abort().
  Result<CommitPlan> PrepareCommit();
  void Committed(const CommitPlan& plan);

  const std::vector<Extent>& extents() const { return extents_; }
  // Chunks needed for [offset, offset+len), for readahead.
  std::vector<ChunkId> ChunksIn(uint64_t offset, uint64_t len) const;
  // Extents covering [off, off+len), clipped and shifted by -off+dst.
  std::vector<Extent> SliceExtents(uint64_t off, uint64_t len, uint64_t dst) const;

 private:
  struct InFlight {
    uint64_t file_off;
    uint64_t len;
    std::future<Result<PutResult>> result;
  };
  using Segment = std::vector<std::byte>;
  bool streaming_active() const { return streaming_ && (pending() > 0 || !inflight_.empty()); }
  // Bytes appended but not yet cut into a chunk: [buf_off_, buf_off_ + pending()).
  size_t pending() const { return seg_len_ - seg_cut_; }
  // Starts chunking at file offset `off` (a chunk boundary), with no pending bytes.
  void ResetStream(uint64_t off);
  // Appends bytes to the pending run and cuts every chunk whose end is known
  // (all of them when `final`).
  Status Feed(ByteSpan data, bool defer_cut);
  Status CutChunks(bool final);
  Status SubmitChunk(size_t len);
  // Makes room for more bytes: a fresh (or recycled) segment that starts
  // with the pending bytes of the old one.
  void NextSegment();
  // Drops the segments when nothing is pending (bytes in flight keep theirs alive).
  void FreeSegments();
  Status DrainInFlight(size_t keep);
  Status EndStreaming();
  Status EnsureStaging();
  Status ReadExtents(const std::vector<Extent>& extents, uint64_t offset,
                     std::span<std::byte> out) const;
  Status Rechunk(CommitPlan* plan);
  void Hold(const PutResult& r);
  void ReleaseHolds();

  ChunkStore* chunks_;
  ThreadPool* pool_;
  Env* env_;
  std::string staging_path_;
  Chunker chunker_;

  std::vector<Extent> extents_;  // committed, sorted, non-overlapping
  uint64_t size_;
  bool dirty_ = false;
  Status error_;  // sticky: a failed chunk write fails every later write and commit

  // Streaming state: bytes [0, stream_end_) are in extents_, in flight, or
  // pending in seg_[seg_cut_, seg_len_) (the chunk being cut), which starts
  // at file offset buf_off_.
  bool streaming_ = false;
  uint64_t stream_end_ = 0;
  uint64_t buf_off_ = 0;
  std::shared_ptr<Segment> seg_;   // chunks in flight share it
  std::shared_ptr<Segment> spare_; // a retired segment, reused once its chunks are stored
  size_t seg_cut_ = 0, seg_len_ = 0;
  std::deque<InFlight> inflight_;

  // Overlay state.
  std::unique_ptr<RandomRWFile> staging_;
  std::map<uint64_t, uint64_t> overlay_;  // start -> end, disjoint, merged

  // Chunks held in the store since the last commit (new or dedup hits).
  std::vector<ChunkId> held_;
  std::vector<ChunkLocation> written_;  // locations Put returned since the last commit
  bool wrote_data_ = false;
};

}  // namespace ckptfs
