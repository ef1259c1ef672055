#include "fs/file_data.h"

#include <algorithm>
#include <cstring>

namespace ckptfs {
namespace {

// Chunks queued for hashing/compression per file. Bounds a writer's memory
// to about (this + 2) x max chunk size, independent of file size.
constexpr size_t kMaxInFlight = 6;
// Read granularity when merging the overlay with old content at commit.
constexpr size_t kRechunkRead = 4u << 20;

// Adds [a, b) to a map of disjoint intervals, merging neighbours.
void AddInterval(std::map<uint64_t, uint64_t>& m, uint64_t a, uint64_t b) {
  auto it = m.upper_bound(a);
  if (it != m.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= a) {
      a = prev->first;
      b = std::max(b, prev->second);
      it = m.erase(prev);
    }
  }
  while (it != m.end() && it->first <= b) {
    b = std::max(b, it->second);
    it = m.erase(it);
  }
  m.emplace(a, b);
}

// Drops everything at or beyond `size`.
void ClipIntervals(std::map<uint64_t, uint64_t>& m, uint64_t size) {
  for (auto it = m.begin(); it != m.end();) {
    if (it->first >= size) {
      it = m.erase(it);
    } else {
      it->second = std::min(it->second, size);
      ++it;
    }
  }
}

void ClipExtents(std::vector<Extent>& ex, uint64_t size) {
  std::vector<Extent> out;
  for (const auto& e : ex) {
    if (e.file_off >= size) break;
    Extent c = e;
    c.len = std::min<uint64_t>(e.len, size - e.file_off);
    out.push_back(c);
  }
  ex.swap(out);
}

}  // namespace

FileData::FileData(ChunkStore* chunks, ThreadPool* pool, Env* env, std::string staging_path,
                   const ChunkerParams& params, std::vector<Extent> extents, uint64_t size)
    : chunks_(chunks),
      pool_(pool),
      env_(env),
      staging_path_(std::move(staging_path)),
      chunker_(params),
      extents_(std::move(extents)),
      size_(size) {
  streaming_ = size_ == 0 && extents_.empty();
}

FileData::~FileData() {
  for (auto& f : inflight_) {
    auto r = f.result.get();
    if (r.ok()) held_.push_back(r->location.id);
  }
  ReleaseHolds();
  if (staging_) {
    staging_.reset();
    (void)env_->RemoveFile(staging_path_);
  }
}

void FileData::Hold(const PutResult& r) {
  held_.push_back(r.location.id);
  written_.push_back(r.location);
  if (r.written) wrote_data_ = true;
}

void FileData::ReleaseHolds() {
  if (!held_.empty()) chunks_->Release(held_);
  held_.clear();
}

Status FileData::Write(uint64_t offset, ByteSpan data, bool defer_cut) {
  if (!error_.ok()) return error_;
  if (data.empty()) return Status::OK();
  dirty_ = true;
  if (streaming_ && offset == stream_end_ && size_ == stream_end_ && overlay_.empty()) {
    stream_end_ += data.size();
    size_ = stream_end_;
    return Feed(data, defer_cut);
  }
  if (streaming_) CKPTFS_RETURN_IF_ERROR(EndStreaming());
  CKPTFS_RETURN_IF_ERROR(EnsureStaging());
  CKPTFS_RETURN_IF_ERROR(staging_->WriteAt(offset, data));
  AddInterval(overlay_, offset, offset + data.size());
  size_ = std::max<uint64_t>(size_, offset + data.size());
  return Status::OK();
}

void FileData::ResetStream(uint64_t off) {
  // Chunks in flight may still point into seg_: it is retired, never
  // overwritten (NextSegment reuses it once they are stored).
  if (seg_) spare_ = std::move(seg_);
  buf_off_ = off;
  seg_cut_ = seg_len_ = 0;
}

void FileData::NextSegment() {
  // Segments start small (a quarter of the max chunk size: a log file
  // appended to line by line never needs 8 MiB) and double up to 8 x max
  // chunk size. Each is larger than the
  // last, so the pending bytes (at most a full old segment) always fit.
  const size_t cap = size_t{8} * chunker_.params().max_size;
  const size_t want = seg_ ? std::min(cap, 2 * seg_->size()) : chunker_.params().max_size / 4;
  std::shared_ptr<Segment> next;
  // A segment is recycled only when no chunk in flight still points into it.
  if (spare_ && spare_.use_count() == 1 && spare_->size() >= want) next = std::move(spare_);
  if (!next) next = std::make_shared<Segment>(want);
  const size_t keep = pending();
  if (keep) std::memcpy(next->data(), seg_->data() + seg_cut_, keep);
  if (seg_) spare_ = std::move(seg_);
  seg_ = std::move(next);
  seg_cut_ = 0;
  seg_len_ = keep;
}

Status FileData::Feed(ByteSpan data, bool defer_cut) {
  while (!data.empty()) {
    if (!seg_ || seg_len_ == seg_->size()) {
      // Cut before moving on, deferred or not: NextSegment carries only the
      // uncut tail, which must stay under max_size to fit the next segment.
      if (seg_) CKPTFS_RETURN_IF_ERROR(CutChunks(/*final=*/false));
      NextSegment();
    }
    const size_t n = std::min(data.size(), seg_->size() - seg_len_);
    std::memcpy(seg_->data() + seg_len_, data.data(), n);
    seg_len_ += n;
    data = data.subspan(n);
  }
  return defer_cut ? error_ : CutChunks(/*final=*/false);
}

Status FileData::CutDeferred() {
  if (!streaming_ || !seg_) return error_;
  return CutChunks(/*final=*/false);
}

Status FileData::CutChunks(bool final) {
  // Boundaries are searched only once max_size bytes are pending (or at the
  // end), so FindBoundary never rescans bytes it already saw.
  const size_t max = chunker_.params().max_size;
  while (pending() >= max || (final && pending() > 0)) {
    size_t n = chunker_.FindBoundary(std::span(seg_->data() + seg_cut_, pending()));
    if (n == 0) n = pending();  // only when final: the tail is the last chunk
    CKPTFS_RETURN_IF_ERROR(SubmitChunk(n));
  }
  return error_;
}

Status FileData::SubmitChunk(size_t len) {
  std::shared_ptr<Segment> seg = seg_;
  const std::byte* p = seg_->data() + seg_cut_;
  ChunkStore* cs = chunks_;
  inflight_.push_back(
      {buf_off_, len, pool_->Submit([cs, seg, p, len] { return cs->Put(ByteSpan(p, len)); })});
  seg_cut_ += len;
  buf_off_ += len;
  return DrainInFlight(kMaxInFlight);
}

Status FileData::DrainInFlight(size_t keep) {
  while (inflight_.size() > keep) {
    InFlight f = std::move(inflight_.front());
    inflight_.pop_front();
    Result<PutResult> r = f.result.get();
    if (!r.ok()) {
      if (error_.ok()) error_ = r.status();
      continue;  // keep draining so every hold is accounted for
    }
    Hold(*r);
    extents_.push_back(Extent{f.file_off, f.len, r->location.id, 0});
  }
  return error_;
}

Status FileData::EndStreaming() {
  Status st = CutChunks(/*final=*/true);
  Status d = DrainInFlight(0);
  streaming_ = false;
  FreeSegments();
  return st.ok() ? d : st;
}

void FileData::FreeSegments() {
  if (pending() > 0) return;
  seg_.reset();
  spare_.reset();
  seg_cut_ = seg_len_ = 0;
}

Status FileData::EnsureStaging() {
  if (staging_) return Status::OK();
  CKPTFS_ASSIGN_OR_RETURN(staging_, env_->NewRandomRWFile(staging_path_));
  return Status::OK();
}

namespace {

// Walks [offset, offset+len) over sorted, disjoint extents in order, calling
// emit(chunk, bytes, n) for chunk bytes and emit(nullptr, nullptr, n) for the
// holes between extents, so every byte of the range is emitted exactly once.
template <class Emit>
Status VisitExtents(ChunkStore* chunks, const std::vector<Extent>& extents, uint64_t offset,
                    uint64_t len, Emit&& emit) {
  const uint64_t end = offset + len;
  uint64_t at = offset;
  auto it = std::upper_bound(extents.begin(), extents.end(), offset,
                             [](uint64_t off, const Extent& e) { return off < e.file_off; });
  if (it != extents.begin()) --it;
  for (; it != extents.end() && it->file_off < end; ++it) {
    const uint64_t a = std::max(at, it->file_off);
    const uint64_t b = std::min(end, it->file_off + it->len);
    if (a >= b) continue;
    if (a > at) emit(nullptr, nullptr, a - at);
    CKPTFS_ASSIGN_OR_RETURN(ChunkBytes chunk, chunks->Get(it->chunk));
    const uint64_t src = it->chunk_off + (a - it->file_off);
    if (src + (b - a) > chunk->size())
      return Status::Corruption("extent at offset " + std::to_string(it->file_off) +
                                " reaches past the end of chunk " + it->chunk.ToHex());
    emit(&chunk, chunk->data() + src, b - a);
    at = b;
  }
  if (end > at) emit(nullptr, nullptr, end - at);
  return Status::OK();
}

}  // namespace

Status FileData::ReadExtents(const std::vector<Extent>& extents, uint64_t offset,
                             std::span<std::byte> out) const {
  std::byte* dst = out.data();
  return VisitExtents(chunks_, extents, offset, out.size(),
                      [&](const ChunkBytes*, const std::byte* p, size_t n) {
                        if (p) std::memcpy(dst, p, n);
                        else std::memset(dst, 0, n);
                        dst += n;
                      });
}

Result<size_t> FileData::PinClean(uint64_t offset, size_t len, ReadView* view) const {
  view->Clear();
  if (offset >= size_) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(len, size_ - offset));
  CKPTFS_RETURN_IF_ERROR(VisitExtents(chunks_, extents_, offset, n,
                                      [&](const ChunkBytes* c, const std::byte* p, size_t k) {
                                        if (c && (view->pins.empty() || view->pins.back() != *c))
                                          view->pins.push_back(*c);
                                        view->Add(p, k);
                                      }));
  return n;
}

Result<size_t> FileData::Read(uint64_t offset, std::span<std::byte> out) {
  if (offset >= size_) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
  out = out.first(n);
  if (streaming_) {
    CKPTFS_RETURN_IF_ERROR(DrainInFlight(0));
    // [0, buf_off_) is in extents_, [buf_off_, stream_end_) pending in seg_.
    CKPTFS_RETURN_IF_ERROR(ReadExtents(extents_, offset, out));
    const uint64_t end = offset + n;
    if (end > buf_off_) {
      const uint64_t a = std::max(offset, buf_off_);
      std::memcpy(out.data() + (a - offset), seg_->data() + seg_cut_ + (a - buf_off_), end - a);
    }
    return n;
  }
  CKPTFS_RETURN_IF_ERROR(ReadExtents(extents_, offset, out));
  const uint64_t end = offset + n;
  auto it = overlay_.upper_bound(offset);
  if (it != overlay_.begin()) --it;
  for (; it != overlay_.end() && it->first < end; ++it) {
    const uint64_t a = std::max(offset, it->first);
    const uint64_t b = std::min(end, it->second);
    if (a >= b) continue;
    size_t got = 0;
    CKPTFS_RETURN_IF_ERROR(staging_->ReadAt(a, out.subspan(a - offset, b - a), &got));
    if (got != b - a) std::memset(out.data() + (a - offset) + got, 0, (b - a) - got);
  }
  return n;
}

Status FileData::Truncate(uint64_t size) {
  if (!error_.ok()) return error_;
  if (size == size_) return Status::OK();
  dirty_ = true;
  if (streaming_) CKPTFS_RETURN_IF_ERROR(EndStreaming());
  if (size < size_) {
    ClipExtents(extents_, size);
    ClipIntervals(overlay_, size);
  }
  size_ = size;
  if (size_ == 0 && overlay_.empty()) {
    // An empty file is written by streaming again (the O_TRUNC rewrite case).
    extents_.clear();
    streaming_ = true;
    stream_end_ = 0;
    ResetStream(0);
    if (staging_) CKPTFS_RETURN_IF_ERROR(staging_->Truncate(0));
  }
  return Status::OK();
}

void FileData::SpliceExtents(uint64_t off, uint64_t len, const std::vector<Extent>& src,
                             uint64_t new_size) {
  const uint64_t end = off + len;
  std::vector<Extent> out;
  for (const auto& e : extents_) {
    const uint64_t ee = e.file_off + e.len;
    if (ee <= off || e.file_off >= end) {
      out.push_back(e);
      continue;
    }
    if (e.file_off < off) {  // keep the head before the spliced range
      Extent h = e;
      h.len = off - e.file_off;
      out.push_back(h);
    }
    if (ee > end) {  // keep the tail after it
      Extent t = e;
      t.file_off = end;
      t.chunk_off = static_cast<uint32_t>(e.chunk_off + (end - e.file_off));
      t.len = ee - end;
      out.push_back(t);
    }
  }
  out.insert(out.end(), src.begin(), src.end());
  std::sort(out.begin(), out.end(),
            [](const Extent& a, const Extent& b) { return a.file_off < b.file_off; });
  extents_.swap(out);
  size_ = std::max(size_, new_size);
  dirty_ = true;
  streaming_ = false;
}

Status FileData::Rechunk(CommitPlan* plan) {
  const uint64_t lo = overlay_.begin()->first;
  // Restart chunking at the start of the first extent the change touches, so
  // the new cut points line up with content as a fresh write would.
  uint64_t rs = lo;
  for (const auto& e : extents_) {
    if (e.file_off + e.len > lo) {
      rs = std::min(rs, e.file_off);
      break;
    }
  }
  std::vector<Extent> old = std::move(extents_);
  extents_.clear();
  std::map<uint64_t, uint64_t> segments;
  for (const auto& e : old) {
    if (e.file_off + e.len <= rs) {
      extents_.push_back(e);
    } else {
      AddInterval(segments, std::max(e.file_off, rs), std::min(e.file_off + e.len, size_));
    }
  }
  for (const auto& [a, b] : overlay_)
    if (b > rs) AddInterval(segments, std::max(a, rs), std::min(b, size_));

  std::vector<std::byte> piece;
  Status st;
  for (const auto& [a, b] : segments) {
    if (a >= b) continue;
    ResetStream(a);
    for (uint64_t pos = a; pos < b && st.ok();) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kRechunkRead, b - pos));
      piece.resize(n);
      st = ReadExtents(old, pos, piece);
      if (st.ok()) {
        auto it = overlay_.upper_bound(pos);
        if (it != overlay_.begin()) --it;
        for (; st.ok() && it != overlay_.end() && it->first < pos + n; ++it) {
          const uint64_t x = std::max(pos, it->first), y = std::min(pos + n, it->second);
          if (x >= y) continue;
          size_t got = 0;
          st = staging_->ReadAt(x, std::span(piece).subspan(x - pos, y - x), &got);
        }
      }
      if (st.ok()) st = Feed(piece, /*defer_cut=*/false);
      pos += n;
    }
    if (st.ok()) st = CutChunks(true);
    if (!st.ok()) break;
  }
  Status d = DrainInFlight(0);
  if (st.ok()) st = d;
  ResetStream(0);
  FreeSegments();
  if (!st.ok()) {
    extents_ = std::move(old);  // the overlay still holds the new bytes
    return st;
  }
  overlay_.clear();
  if (staging_) (void)staging_->Truncate(0);
  return Status::OK();
}

Result<CommitPlan> FileData::PrepareCommit() {
  if (!error_.ok()) return error_;
  if (streaming_) CKPTFS_RETURN_IF_ERROR(CutChunks(true));
  CKPTFS_RETURN_IF_ERROR(DrainInFlight(0));
  if (!overlay_.empty()) {
    CommitPlan unused;
    CKPTFS_RETURN_IF_ERROR(Rechunk(&unused));
  }
  ClipExtents(extents_, size_);
  CommitPlan plan;
  plan.extents = extents_;
  plan.size = size_;
  plan.new_chunks = written_;
  plan.wrote_data = wrote_data_;
  return plan;
}

void FileData::Committed(const CommitPlan& plan) {
  FreeSegments();  // nothing is pending after PrepareCommit; an open, idle file keeps no buffer
  ReleaseHolds();
  written_.clear();
  wrote_data_ = false;
  dirty_ = false;
}

std::vector<ChunkId> FileData::ChunksIn(uint64_t offset, uint64_t len) const {
  std::vector<ChunkId> ids;
  const uint64_t end = offset + len;
  auto it = std::upper_bound(extents_.begin(), extents_.end(), offset,
                             [](uint64_t off, const Extent& e) { return off < e.file_off; });
  if (it != extents_.begin()) --it;
  for (; it != extents_.end() && it->file_off < end; ++it) {
    if (it->file_off + it->len <= offset) continue;
    if (ids.empty() || ids.back() != it->chunk) ids.push_back(it->chunk);
  }
  return ids;
}

std::vector<Extent> FileData::SliceExtents(uint64_t off, uint64_t len, uint64_t dst) const {
  std::vector<Extent> out;
  const uint64_t end = off + len;
  for (const auto& e : extents_) {
    const uint64_t a = std::max(off, e.file_off), b = std::min(end, e.file_off + e.len);
    if (a >= b) continue;
    out.push_back(Extent{a - off + dst, b - a, e.chunk,
                         static_cast<uint32_t>(e.chunk_off + (a - e.file_off))});
  }
  return out;
}

}  // namespace ckptfs
