// Learning-rate schedulers whose state round-trips through checkpoints.
//
// Semantics follow torch.optim.lr_scheduler: construction sets the lr for
// epoch 0 (last_epoch becomes 0), each step() advances last_epoch by one and
// writes lr = lr_at(last_epoch, base_lr) into every param group. The lr is a
// closed-form function of last_epoch, so a restored scheduler continues
// exactly.
//
// State dict (Python's keys): base_lrs, last_epoch, _step_count, verbose,
// _get_lr_called_within_step, _last_lr, plus each scheduler's own fields.
#pragma once

#include <string>
#include <vector>

#include "ckpt/checkpointable.h"

namespace torch::optim {
class Optimizer;
}

namespace ckpt {

class LRScheduler : public Checkpointable {
 public:
  // REQUIRES: the optimizer outlives the scheduler.
  explicit LRScheduler(torch::optim::Optimizer& optimizer);
  void step();
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& last_lr() const { return last_lr_; }

  c10::IValue state_dict() const override;
  // Restores the counters and lrs of the schedule; does not touch the
  // optimizer (its param_groups carry the lr, as in Python).
  void load_state_dict(const c10::IValue& state) override;

 protected:
  // Call at the end of the derived constructor (virtual dispatch).
  void initialize();
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;
  virtual void put_fields(c10::impl::GenericDict& d) const = 0;
  virtual void get_fields(const c10::impl::GenericDict& d) = 0;

 private:
  void apply();
  torch::optim::Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
};

// lr = base_lr * gamma^(epoch / step_size)   (torch.optim.lr_scheduler.StepLR)
class StepLR final : public LRScheduler {
 public:
  StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch, double base_lr) const override;
  void put_fields(c10::impl::GenericDict& d) const override;
  void get_fields(const c10::impl::GenericDict& d) override;

 private:
  int64_t step_size_;
  double gamma_;
};

// LiBai's WarmupCosineLR: cosine decay from base_lr to alpha*base_lr over
// max_iter, multiplied during the first warmup_iter iterations by a factor
// going linearly from warmup_factor to 1 ("linear") or held at
// warmup_factor ("constant").
class WarmupCosineLR final : public LRScheduler {
 public:
  WarmupCosineLR(torch::optim::Optimizer& optimizer, int64_t max_iter, double warmup_factor,
                 int64_t warmup_iter, double alpha = 0.0, std::string warmup_method = "linear");

 protected:
  double lr_at(int64_t epoch, double base_lr) const override;
  void put_fields(c10::impl::GenericDict& d) const override;
  void get_fields(const c10::impl::GenericDict& d) override;

 private:
  int64_t max_iter_;
  double warmup_factor_;
  int64_t warmup_iter_;
  double alpha_;
  std::string warmup_method_;
};

}  // namespace ckpt
