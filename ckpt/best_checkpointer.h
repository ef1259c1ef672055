// BestCheckpointer: LiBai's hook that saves "model_best" whenever the
// evaluation metric improves. model_best is never tagged as last_checkpoint
// (Checkpointer::save handles that), so resuming continues from the newest
// periodic checkpoint, not from the best one.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "ckpt/checkpointer.h"

namespace ckpt {

class BestCheckpointer {
 public:
  enum class Mode { kMax, kMin };
  // REQUIRES: checkpointer outlives this object; eval_period > 0.
  BestCheckpointer(int64_t eval_period, Checkpointer& checkpointer, std::string metric,
                   Mode mode = Mode::kMax, std::string name = "model_best");

  // True when `iteration` is an evaluation point: (iteration + 1) is a
  // multiple of eval_period, or iteration is the last one (max_iter - 1).
  bool is_eval_iteration(int64_t iteration, std::optional<int64_t> max_iter = std::nullopt) const;
  // Records the metric measured after `iteration`; saves when it improves
  // on the best seen so far (or is the first). Returns whether it saved.
  bool step(int64_t iteration, double value, std::map<std::string, c10::IValue> extra = {});

  std::optional<double> best() const { return best_; }
  std::optional<int64_t> best_iteration() const { return best_iter_; }
  const std::string& metric() const { return metric_; }

 private:
  int64_t period_;
  Checkpointer& checkpointer_;
  std::string metric_;
  Mode mode_;
  std::string name_;
  std::optional<double> best_;
  std::optional<int64_t> best_iter_;
};

}  // namespace ckpt
