// Checkpointer: LiBai/fvcore-style checkpoints of a libtorch model and its
// "checkpointables" (optimizer, lr scheduler, dicts...), written as one
// PyTorch zip file per key into save_dir/<name>/, committed atomically, and
// by default asynchronously (see docs/CHECKPOINTER.md).
//
//   auto ckpt = ckpt::Checkpointer(model, "/mnt/out",
//       {{"optimizer", std::make_shared<ckpt::OptimizerCheckpointable>(opt)},
//        {"lr_scheduler", scheduler}});
//   ckpt::SaveHandle h = ckpt.save("model_0000019", {{"iteration", 19}});
//   ... training continues; h.wait() or the next save() reports errors.
//
// Thread-safety: one thread drives a Checkpointer (save/load/wait). The
// writer thread is internal. The log callback is called from both threads.
#pragma once

#include <ATen/core/ivalue.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/checkpoint_error.h"
#include "ckpt/checkpointable.h"
#include "ckpt/model_state.h"
#include "ckpt/staging.h"

namespace torch::nn {
class Module;
}

namespace ckpt {

namespace detail {
struct SaveJob;
}

struct CheckpointerOptions {
  // false: save() returns once the checkpoint is committed (and CPU tensors
  // are written in place, without staging copies).
  bool async = true;
  // Host staging bytes per save; see staging.h for rounds.
  size_t staging_budget = kUnlimitedBudget;
  // Saves queued or being written at once; save() blocks beyond that.
  int max_in_flight = 1;
  // See StagingOptions::wait_for_device_copies.
  bool wait_for_device_copies = true;
  // Remove .<name>.tmp-* / .<name>.old-* leftovers of a crash on
  // construction. Disable if several processes share one save_dir.
  bool clean_stale = true;
  // Receives info/warning lines; nullptr logs to stderr. Called from the
  // writer thread too.
  std::function<void(const std::string&)> log;
};

struct SaveStats {
  double blocked_seconds = 0;  // time save() spent before returning
  double total_seconds = 0;    // from save() to committed
  uint64_t bytes = 0;          // tensor bytes
  uint64_t staged_peak_bytes = 0;
  size_t rounds = 0;
};

// Completion of one save. Copyable; a default-constructed handle is done.
class SaveHandle {
 public:
  SaveHandle() = default;
  // Blocks until the checkpoint is committed. Throws its error (once: a
  // later save() does not throw it again).
  void wait() const;
  bool done() const;
  // done() and the save failed (without consuming the error).
  bool failed() const;
  const std::string& name() const;
  SaveStats stats() const;  // complete after done()

 private:
  friend class Checkpointer;
  explicit SaveHandle(std::shared_ptr<detail::SaveJob> job) : job_(std::move(job)) {}
  std::shared_ptr<detail::SaveJob> job_;
};

struct LoadResult {
  // Files of the checkpoint that no checkpointable consumed, plus
  // "iteration" parsed from a name ending in _<digits> (LiBai's convention).
  std::map<std::string, c10::IValue> extra;
  IncompatibleKeys incompatible;  // also logged
};

class Checkpointer {
 public:
  // `checkpointables` keys become file names ("model" is reserved).
  // Throws std::invalid_argument on a bad key, CheckpointError if stale
  // cleanup fails.
  Checkpointer(std::shared_ptr<torch::nn::Module> model, std::string save_dir,
               std::map<std::string, std::shared_ptr<Checkpointable>> checkpointables = {},
               CheckpointerOptions options = {});
  // Waits for saves in flight; their errors are logged, not thrown.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Writes save_dir/<name>/{model, <checkpointable keys>, <extra keys>}.
  // "iteration" in `extra` is not written (LiBai encodes it in the name).
  // Returns once every tensor is snapshotted (async) or the checkpoint is
  // committed (sync). Throws a previous save's unreported error first.
  // Unless name == "model_best", last_checkpoint is then set to <name>.
  SaveHandle save(const std::string& name, const std::map<std::string, c10::IValue>& extra = {});
  // Waits for every save in flight; throws the first unreported error.
  void wait();

  // Loads the checkpoint directory `path`: the model, then the
  // checkpointables named in `which` (all when nullopt) that have a file.
  // Every file is parsed before anything is modified. An empty path loads
  // nothing (training from scratch).
  LoadResult load(const std::string& path,
                  const std::optional<std::vector<std::string>>& which = std::nullopt);
  // resume && has_checkpoint(): load(get_checkpoint_file()) with all
  // checkpointables; otherwise load(path, {}) (model only).
  LoadResult resume_or_load(const std::string& path, bool resume);

  bool has_checkpoint() const;
  // save_dir/<last_checkpoint>, or "" when there is none.
  std::string get_checkpoint_file() const;
  // Every committed checkpoint directory, sorted.
  std::vector<std::string> get_all_checkpoint_files() const;
  void tag_last_checkpoint(const std::string& name);

  const std::string& save_dir() const;
  void log(const std::string& line) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckpt
