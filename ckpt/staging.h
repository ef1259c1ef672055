// Staging: snapshotting tensors into host memory so a background writer can
// serialize them while training keeps mutating the originals.
//
// Model:
//   * A Snapshot covers the tensors of one save, in the order the writer
//     writes them (file by file, record by record).
//   * It copies them into a StagingArena (reused across saves; pinned when a
//     snapshot contains device tensors, so D2H copies can be asynchronous).
//   * The tensors are split into consecutive rounds whose bytes fit the
//     budget. Round r+1 is staged only after the writer has written and
//     released every tensor of round r, because it reuses the same memory.
//   * stage_all() returns only when every round has been staged. So with a
//     budget smaller than the state, save() blocks until the writer has
//     written all rounds but the last: the snapshot stays consistent (no
//     tensor is copied after training resumes), at the cost of a longer
//     stall. A budget >= the state size gives a single round.
//   * A single tensor larger than the budget is staged alone in its round;
//     the arena then exceeds the budget by that tensor (records are written
//     whole, miniz needs the full buffer to compute its CRC).
//
// Device tensors (CUDA, or any backend with streams): the side stream first
// waits on an event recorded on the tensor's current (compute) stream; the
// non-blocking copies run on the side stream; then the compute stream waits
// on a "copied" event, so kernels queued after save() cannot overwrite a
// tensor before its copy has finished. By default stage_all() additionally
// synchronizes the side stream before it returns (wait_for_device_copies).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Stream.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <string>
#include <memory>
#include <mutex>
#include <vector>

namespace ckpt {

constexpr size_t kUnlimitedBudget = std::numeric_limits<size_t>::max();

struct StagingOptions {
  size_t budget_bytes = kUnlimitedBudget;
  // Write contiguous CPU tensors in place instead of copying them. Only safe
  // when the caller does not run training until the write finished (sync save).
  bool zero_copy_cpu = false;
  // true: stage_all() returns after device copies completed. false: it
  // returns once they are queued, with the compute streams ordered after
  // them; the writer waits for them before reading.
  bool wait_for_device_copies = true;
};

// Host memory reused by successive snapshots. Not thread-safe; a Snapshot
// holds it exclusively while alive.
class StagingArena {
 public:
  // Returns at least `bytes` bytes (64-byte aligned), pinned if `pinned`.
  // May reallocate: invalidates memory returned before.
  uint8_t* reserve(size_t bytes, bool pinned);
  size_t capacity() const;
  void release_memory() { buffer_ = at::Tensor(); }

 private:
  at::Tensor buffer_;  // 1-D kByte
  bool pinned_ = false;
};

class Snapshot {
 public:
  // `sources`: tensors on any device, in write order. `arena` must outlive
  // the Snapshot and not be used by another Snapshot concurrently.
  Snapshot(std::vector<at::Tensor> sources, std::shared_ptr<StagingArena> arena,
           StagingOptions options);
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Producer side (the thread calling save()). Returns when every tensor is
  // staged. Throws the writer's error if it aborted in the middle.
  void stage_all();

  // Consumer side (the writer), in increasing i. acquire blocks until slot
  // i is staged and returns a contiguous CPU tensor valid until release(i).
  at::Tensor acquire(size_t i);
  void release(size_t i);
  // Consumer failed: wakes and fails the producer. Idempotent.
  void abort(std::exception_ptr error);

  size_t size() const { return sources_.size(); }
  size_t rounds() const { return rounds_.size(); }
  uint64_t total_bytes() const { return total_bytes_; }
  // Bytes of the largest round (what the arena holds at once).
  uint64_t peak_round_bytes() const;

 private:
  struct Round {
    size_t begin = 0, end = 0;  // slots [begin, end)
    size_t bytes = 0;           // arena bytes used
  };
  void plan_rounds();
  struct Identity {
    const void* data = nullptr;
    std::string device;
    int dtype = 0;
    std::vector<int64_t> sizes, strides;
    auto operator<=>(const Identity&) const = default;
  };
  static Identity identity_of(const at::Tensor& t);
  static constexpr size_t kNoAlias = std::numeric_limits<size_t>::max();
  void stage_round(const Round& round);

  const std::vector<at::Tensor> sources_;
  const std::shared_ptr<StagingArena> arena_;
  const StagingOptions options_;
  std::vector<size_t> offsets_;  // arena offset per slot (if copied)
  std::vector<bool> in_place_;   // slot written from the source itself
  std::vector<size_t> alias_;    // slot staged by an earlier slot of the same round
  std::map<Identity, size_t> first_;  // plan_rounds() only: first slot per tensor
  std::vector<Round> rounds_;
  uint64_t total_bytes_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  // Invariant: released_ <= staged_ <= size(). Slots [released_, staged_)
  // are readable by the consumer.
  size_t staged_ = 0;                   // GUARDED_BY(mu_)
  size_t released_ = 0;                 // GUARDED_BY(mu_)
  std::exception_ptr consumer_error_;   // GUARDED_BY(mu_)
  std::vector<at::Tensor> slots_;       // slot i written before staged_ > i
  std::vector<c10::Stream> pending_streams_;  // GUARDED_BY(mu_): to sync before reading
};

}  // namespace ckpt
