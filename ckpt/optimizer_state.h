// Optimizer state in the structure of Python's optimizer.state_dict():
//   {"state": {idx: {...}}, "param_groups": [{..., "params": [idx...]}]}
// where idx numbers the parameters across groups in order.
//   Adam/AdamW state: step (0-dim float tensor, as Python >= 1.12 keeps it),
//                     exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad only)
//   SGD state:        momentum_buffer (tensor or None)
//   Adam/AdamW group: lr, betas, eps, weight_decay, amsgrad, maximize,
//                     foreach, capturable, differentiable, fused, params
//   SGD group:        lr, momentum, dampening, weight_decay, nesterov,
//                     maximize, foreach, differentiable, params
// So Python's optimizer.load_state_dict accepts what C++ wrote and vice versa.
#pragma once

#include "ckpt/checkpointable.h"

namespace torch::optim {
class Optimizer;
}

namespace ckpt {

// Adapts a libtorch SGD, Adam or AdamW optimizer (other types throw
// std::invalid_argument at construction). REQUIRES: the optimizer outlives
// this object.
class OptimizerCheckpointable final : public Checkpointable {
 public:
  explicit OptimizerCheckpointable(torch::optim::Optimizer& optimizer);
  c10::IValue state_dict() const override;
  // Checks group and parameter counts and shapes before changing anything.
  // Tensors are moved to each parameter's device and dtype.
  void load_state_dict(const c10::IValue& state) override;

 private:
  enum class Kind { kSGD, kAdam, kAdamW };
  torch::optim::Optimizer& optimizer_;
  Kind kind_;
};

}  // namespace ckpt
