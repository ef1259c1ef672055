#include "ckpt/model_state.h"

#include <torch/nn/module.h>

#include <set>
#include <sstream>
#include <stdexcept>

#include "ckpt/checkpointable.h"

namespace ckpt {

namespace {

void collect(const torch::nn::Module& m, const std::string& prefix, c10::impl::GenericDict& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.insert(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.insert(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ")";
  return o.str();
}

}  // namespace

std::string IncompatibleKeys::describe() const {
  std::ostringstream o;
  for (const auto& k : missing) o << "missing key in checkpoint: " << k << "\n";
  for (const auto& k : unexpected) o << "unexpected key in checkpoint: " << k << "\n";
  for (const auto& s : shape_mismatched)
    o << "skip loading " << s.key << ": shape " << shape_str(s.checkpoint_shape)
      << " in checkpoint but " << shape_str(s.model_shape) << " in model\n";
  return o.str();
}

c10::impl::GenericDict module_state_dict(const torch::nn::Module& module) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::TensorType::get());
  collect(module, "", out);
  return out;
}

IncompatibleKeys load_module_state_dict(torch::nn::Module& module, const c10::IValue& state) {
  if (!state.isGenericDict()) throw std::invalid_argument("model state is not a dict");
  auto dict = state.toGenericDict();
  bool all_prefixed = dict.size() > 0;
  for (const auto& kv : dict) {
    if (!kv.key().isString()) throw std::invalid_argument("model state has a non-string key");
    all_prefixed &= kv.key().toStringRef().rfind("module.", 0) == 0;
  }
  const size_t strip = all_prefixed ? std::string("module.").size() : 0;

  auto model = module_state_dict(module);
  IncompatibleKeys result;
  std::set<std::string> seen;
  torch::NoGradGuard no_grad;
  for (const auto& kv : dict) {
    std::string key = kv.key().toStringRef().substr(strip);
    auto it = model.find(key);
    if (it == model.end()) {
      result.unexpected.push_back(key);
      continue;
    }
    if (!kv.value().isTensor())
      throw std::invalid_argument("model state entry '" + key + "' is not a tensor");
    seen.insert(key);
    at::Tensor dst = it->value().toTensor();
    const at::Tensor& src = kv.value().toTensor();
    if (dst.sizes() != src.sizes()) {
      result.shape_mismatched.push_back({key, src.sizes().vec(), dst.sizes().vec()});
      continue;
    }
    dst.copy_(src);
  }
  for (const auto& kv : model)
    if (!seen.count(kv.key().toStringRef())) {
      bool mismatched = false;
      for (const auto& s : result.shape_mismatched) mismatched |= s.key == kv.key().toStringRef();
      if (!mismatched) result.missing.push_back(kv.key().toStringRef());
    }
  return result;
}

void DictCheckpointable::load_state_dict(const c10::IValue& state) {
  if (!state.isGenericDict()) throw std::invalid_argument("state is not a dict");
  dict_ = state.toGenericDict();
}

c10::IValue ModuleCheckpointable::state_dict() const { return module_state_dict(*module_); }

void ModuleCheckpointable::load_state_dict(const c10::IValue& state) {
  IncompatibleKeys keys = load_module_state_dict(*module_, state);
  if (!keys.empty()) throw std::invalid_argument(keys.describe());
}

}  // namespace ckpt
