// What the Checkpointer saves besides the model: anything that can describe
// itself as a state dict and restore from one (fvcore's "checkpointables").
#pragma once

#include <ATen/core/ivalue.h>

#include <memory>

namespace torch::nn {
class Module;
}

namespace ckpt {

class Checkpointable {
 public:
  virtual ~Checkpointable() = default;
  // A dict of values and tensors. Tensors may be the live ones: the
  // checkpointer snapshots them before save() returns.
  virtual c10::IValue state_dict() const = 0;
  // Throws std::exception (e.g. CheckpointError, std::invalid_argument) on a
  // missing or malformed entry; the checkpointer adds the file name.
  virtual void load_state_dict(const c10::IValue& state) = 0;
};

// A plain dict of values and tensors. load_state_dict replaces the dict.
class DictCheckpointable final : public Checkpointable {
 public:
  DictCheckpointable() : dict_(c10::AnyType::get(), c10::AnyType::get()) {}
  explicit DictCheckpointable(c10::impl::GenericDict dict) : dict_(std::move(dict)) {}
  c10::impl::GenericDict& dict() { return dict_; }
  c10::IValue state_dict() const override { return dict_; }
  void load_state_dict(const c10::IValue& state) override;

 private:
  c10::impl::GenericDict dict_;
};

// Another module as a checkpointable (e.g. an EMA copy of the model).
// Loading is strict: any missing, unexpected or mismatched key throws.
class ModuleCheckpointable final : public Checkpointable {
 public:
  explicit ModuleCheckpointable(std::shared_ptr<torch::nn::Module> module)
      : module_(std::move(module)) {}
  c10::IValue state_dict() const override;
  void load_state_dict(const c10::IValue& state) override;

 private:
  std::shared_ptr<torch::nn::Module> module_;
};

}  // namespace ckpt
