#include "ckpt/staging.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace ckpt {

namespace {
constexpr size_t kAlign = 64;
// Below this many bytes a round is copied on the calling thread alone.
constexpr size_t kParallelCopyMin = 16u << 20;

struct CopyJob {
  uint8_t* dst;
  const uint8_t* src;
  size_t bytes;
};

// Copies every job, split into equal byte ranges over the calling thread
// and `threads - 1` helpers. The stall of an async save is this copy, and
// one thread does not saturate memory bandwidth.
void parallel_copy(const std::vector<CopyJob>& jobs, unsigned threads) {
  size_t total = 0;
  for (const auto& j : jobs) total += j.bytes;
  if (threads < 2 || total < kParallelCopyMin) {
    for (const auto& j : jobs) std::memcpy(j.dst, j.src, j.bytes);
    return;
  }
  // Worker w copies global bytes [w*total/threads, (w+1)*total/threads).
  auto run = [&](unsigned w) {
    const size_t lo = total * w / threads, hi = total * (w + 1) / threads;
    size_t at = 0;
    for (const auto& j : jobs) {
      const size_t a = std::max(lo, at), b = std::min(hi, at + j.bytes);
      if (a < b) std::memcpy(j.dst + (a - at), j.src + (a - at), b - a);
      at += j.bytes;
      if (at >= hi) break;
    }
  };
  std::vector<std::thread> helpers;
  for (unsigned w = 1; w < threads; ++w) helpers.emplace_back(run, w);
  run(0);
  for (auto& t : helpers) t.join();
}

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
size_t nbytes_of(const at::Tensor& t) { return static_cast<size_t>(t.numel()) * t.element_size(); }
}  // namespace

// Two tensors with equal identity hold the same bytes at snapshot time.
Snapshot::Identity Snapshot::identity_of(const at::Tensor& t) {
  Identity id;
  id.data = t.data_ptr();
  id.device = t.device().str();
  id.dtype = static_cast<int>(t.scalar_type());
  id.sizes.assign(t.sizes().begin(), t.sizes().end());
  id.strides.assign(t.strides().begin(), t.strides().end());
  return id;
}

namespace {
}  // namespace

uint8_t* StagingArena::reserve(size_t bytes, bool pinned) {
  bytes = std::max<size_t>(bytes, kAlign);
  if (!buffer_.defined() || static_cast<size_t>(buffer_.numel()) < bytes ||
      (pinned && !pinned_)) {
    buffer_ = at::Tensor();  // free first: never hold two arenas at once
    buffer_ = at::empty({static_cast<int64_t>(bytes)},
                        at::TensorOptions().dtype(at::kByte).pinned_memory(pinned));
    pinned_ = pinned;
    // Touch every page now so the first snapshot's stall is not spent in
    // page faults, and so RSS reflects the budget right away.
    buffer_.zero_();
  }
  return buffer_.data_ptr<uint8_t>();
}

size_t StagingArena::capacity() const {
  return buffer_.defined() ? static_cast<size_t>(buffer_.numel()) : 0;
}

Snapshot::Snapshot(std::vector<at::Tensor> sources, std::shared_ptr<StagingArena> arena,
                   StagingOptions options)
    : sources_(std::move(sources)), arena_(std::move(arena)), options_(options) {
  slots_.resize(sources_.size());
  offsets_.assign(sources_.size(), 0);
  in_place_.assign(sources_.size(), false);
  alias_.assign(sources_.size(), kNoAlias);
  plan_rounds();
  first_.clear();
}

void Snapshot::plan_rounds() {
  Round cur;
  for (size_t i = 0; i < sources_.size(); ++i) {
    const at::Tensor& t = sources_[i];
    const size_t n = nbytes_of(t);
    total_bytes_ += n;
    if (options_.zero_copy_cpu && t.device().is_cpu() && t.is_contiguous()) {
      in_place_[i] = true;
      cur.end = i + 1;
      continue;
    }
    // The same tensor saved twice (LiBai's `graph` file holds the model
    // state again) is copied once: a later slot aliases the earlier one
    // when both are in this round (the arena is reused between rounds).
    if (n > 0) {
      auto it = first_.find(identity_of(t));
      if (it != first_.end() && it->second >= cur.begin) {
        alias_[i] = it->second;
        cur.end = i + 1;
        continue;
      }
    }
    const size_t need = align_up(n);
    if (cur.bytes > 0 && cur.bytes + need > options_.budget_bytes) {
      rounds_.push_back(cur);
      cur = Round{i, i, 0};
    }
    if (n > 0) first_[identity_of(t)] = i;
    offsets_[i] = cur.bytes;
    cur.bytes += need;
    cur.end = i + 1;
  }
  if (cur.end > cur.begin || rounds_.empty()) rounds_.push_back(cur);
}

uint64_t Snapshot::peak_round_bytes() const {
  uint64_t peak = 0;
  for (const auto& r : rounds_) peak = std::max<uint64_t>(peak, r.bytes);
  return peak;
}

void Snapshot::stage_all() {
  for (const Round& round : rounds_) {
    {
      // The arena is reused by every round: wait until the writer is done
      // with everything staged before.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return released_ == staged_ || consumer_error_; });
      if (consumer_error_) std::rethrow_exception(consumer_error_);
    }
    stage_round(round);
  }
}

void Snapshot::stage_round(const Round& round) {
  bool has_device = false;
  for (size_t i = round.begin; i < round.end; ++i)
    has_device |= !in_place_[i] && !sources_[i].device().is_cpu();
  uint8_t* base = round.bytes > 0 ? arena_->reserve(round.bytes, has_device) : nullptr;

  struct DeviceQueue {
    c10::Device device;
    c10::Stream compute;
    c10::Stream side;
  };
  std::vector<DeviceQueue> queues;
  auto queue_for = [&](c10::Device d) -> DeviceQueue& {
    for (auto& q : queues)
      if (q.device == d) return q;
    c10::impl::VirtualGuardImpl impl(d.type());
    DeviceQueue q{d, impl.getStream(d), impl.getStreamFromGlobalPool(d)};
    // The side stream must not read the tensor before the kernels already
    // queued on the compute stream (e.g. the optimizer step) produced it.
    c10::Event ready(d.type());
    ready.record(q.compute);
    ready.block(q.side);
    queues.push_back(q);
    return queues.back();
  };

  std::vector<CopyJob> cpu_jobs;
  for (size_t i = round.begin; i < round.end; ++i) {
    const at::Tensor& src = sources_[i];
    if (in_place_[i]) {
      slots_[i] = src;
      continue;
    }
    if (alias_[i] != kNoAlias) {
      slots_[i] = slots_[alias_[i]];  // staged earlier in this loop
      continue;
    }
    at::Tensor dst = at::from_blob(base + offsets_[i], src.sizes(),
                                   at::TensorOptions().dtype(src.scalar_type()));
    if (src.device().is_cpu() && src.is_contiguous()) {
      cpu_jobs.push_back({base + offsets_[i], static_cast<const uint8_t*>(src.data_ptr()),
                          nbytes_of(src)});
    } else if (src.device().is_cpu()) {
      dst.copy_(src);
    } else {
      DeviceQueue& q = queue_for(src.device());
      c10::StreamGuard guard(q.side);
      dst.copy_(src, /*non_blocking=*/true);
      // The caching allocator must not hand src's memory to someone else
      // before the side stream finished reading it.
      c10::impl::VirtualGuardImpl(src.device().type())
          .recordDataPtrOnStream(src.storage().data_ptr(), q.side);
    }
    slots_[i] = dst;
  }

  parallel_copy(cpu_jobs, std::max(1, at::get_num_threads()));

  std::vector<c10::Stream> to_sync;
  for (auto& q : queues) {
    // Training kernels queued after this point run after the copies.
    c10::Event copied(q.device.type());
    copied.record(q.side);
    copied.block(q.compute);
    if (options_.wait_for_device_copies) q.side.synchronize();
    else to_sync.push_back(q.side);
  }
  std::lock_guard<std::mutex> lock(mu_);
  pending_streams_ = std::move(to_sync);
  staged_ = round.end;
  cv_.notify_all();
}

at::Tensor Snapshot::acquire(size_t i) {
  std::vector<c10::Stream> sync;
  at::Tensor t;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return staged_ > i || consumer_error_; });
    if (consumer_error_) std::rethrow_exception(consumer_error_);
    sync.swap(pending_streams_);
    t = slots_[i];
  }
  for (auto& s : sync) s.synchronize();
  return t;
}

void Snapshot::release(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_[i] = at::Tensor();
  released_ = std::max(released_, i + 1);
  cv_.notify_all();
}

void Snapshot::abort(std::exception_ptr error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!consumer_error_) consumer_error_ = error;
  cv_.notify_all();
}

}  // namespace ckpt
