// Module state dicts with Python's key names and fvcore's lenient loading.
#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace ckpt {

struct ShapeMismatch {
  std::string key;
  std::vector<int64_t> checkpoint_shape;
  std::vector<int64_t> model_shape;
};

struct IncompatibleKeys {
  std::vector<std::string> missing;     // in the model, not in the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, not in the model
  std::vector<ShapeMismatch> shape_mismatched;  // skipped, model keeps its value
  bool empty() const { return missing.empty() && unexpected.empty() && shape_mismatched.empty(); }
  std::string describe() const;  // one human-readable line per problem
};

// Parameters and buffers, keyed "sub.module.name" like Python's
// state_dict(), in Python's order (own parameters, own buffers, children).
// The tensors are the live ones (not copies).
c10::impl::GenericDict module_state_dict(const torch::nn::Module& module);

// Copies matching entries into the module (no grad, casting dtype if
// needed). A "module." prefix on every key (DataParallel/DDP) is stripped.
// Entries whose shape differs are skipped and reported. Throws
// std::invalid_argument if `state` is not a dict with string keys or a
// value is not a tensor.
IncompatibleKeys load_module_state_dict(torch::nn::Module& module, const c10::IValue& state);

}  // namespace ckpt
