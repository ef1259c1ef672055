// PeriodicCheckpointer: fvcore/LiBai's schedule of periodic saves.
//   step(iter) saves "<prefix>_<iter:07d>" when (iter + 1) % period == 0, and
//   "<prefix>_final" when iter >= max_iter - 1 (both at the last iteration
//   when it is also periodic, as LiBai does).
// max_to_keep keeps only the newest periodic checkpoints. It also counts the
// ones found in save_dir at construction (from before a restart). It never
// deletes <prefix>_final or model_best, and deletes an old checkpoint only
// after the newer one is committed (so a crash never leaves fewer than
// max_to_keep complete checkpoints).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>

#include "ckpt/checkpointer.h"

namespace ckpt {

class PeriodicCheckpointer {
 public:
  // REQUIRES: checkpointer outlives this object. period > 0.
  PeriodicCheckpointer(Checkpointer& checkpointer, int64_t period,
                       std::optional<int64_t> max_iter = std::nullopt,
                       std::optional<size_t> max_to_keep = std::nullopt,
                       std::string prefix = "model");

  // Saves if the schedule says so (with extra["iteration"] = iter).
  // Returns the handle of the last save issued, or a done handle.
  SaveHandle step(int64_t iteration, std::map<std::string, c10::IValue> extra = {});
  // Saves "<name>" unconditionally (fvcore's save()).
  SaveHandle save(const std::string& name, std::map<std::string, c10::IValue> extra = {});

  // Periodic checkpoints currently counted for max_to_keep, oldest first.
  const std::deque<std::string>& recent() const { return recent_; }

 private:
  void trim_committed();

  Checkpointer& checkpointer_;
  int64_t period_;
  std::optional<int64_t> max_iter_;
  std::optional<size_t> max_to_keep_;
  std::string prefix_;
  std::deque<std::string> recent_;  // basenames, oldest first (incl. pending)
  SaveHandle pending_;              // newest periodic save
};

}  // namespace ckpt
