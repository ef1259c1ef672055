#include "ckpt/optimizer_state.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <stdexcept>

namespace ckpt {

namespace {

using Dict = c10::impl::GenericDict;
using List = c10::impl::GenericList;

Dict new_dict() { return Dict(c10::AnyType::get(), c10::AnyType::get()); }

std::string param_key(const at::Tensor& p) {
  // libtorch keys per-parameter state by the TensorImpl address.
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

const c10::IValue& require(const Dict& d, const std::string& key, const std::string& where) {
  auto it = d.find(key);
  if (it == d.end()) throw std::invalid_argument("missing key '" + key + "' in " + where);
  return it->value();
}

Dict require_dict(const c10::IValue& v, const std::string& where) {
  if (!v.isGenericDict()) throw std::invalid_argument(where + " is not a dict");
  return v.toGenericDict();
}

double to_double(const c10::IValue& v, const std::string& what) {
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  if (v.isBool()) return v.toBool() ? 1.0 : 0.0;
  if (v.isTensor() && v.toTensor().numel() == 1) return v.toTensor().item<double>();
  throw std::invalid_argument("'" + what + "' is not a number");
}

bool to_bool(const c10::IValue& v, const std::string& what) {
  if (v.isBool()) return v.toBool();
  if (v.isInt()) return v.toInt() != 0;
  throw std::invalid_argument("'" + what + "' is not a bool");
}

at::Tensor to_param_tensor(const c10::IValue& v, const at::Tensor& param, const std::string& what) {
  if (!v.isTensor()) throw std::invalid_argument("'" + what + "' is not a tensor");
  at::Tensor t = v.toTensor();
  if (t.sizes() != param.sizes())
    throw std::invalid_argument("'" + what + "' has shape " + c10::str(t.sizes()) +
                                " but the parameter has " + c10::str(param.sizes()));
  // clone: the optimizer updates it in place; never alias loaded storage.
  return t.to(param.device(), param.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
}

template <typename Options>
void put_adam_group(Dict& g, const Options& o) {
  g.insert("lr", o.lr());
  g.insert("betas", c10::ivalue::Tuple::create({std::get<0>(o.betas()), std::get<1>(o.betas())}));
  g.insert("eps", o.eps());
  g.insert("weight_decay", o.weight_decay());
  g.insert("amsgrad", o.amsgrad());
  g.insert("maximize", false);
  g.insert("foreach", c10::IValue());
  g.insert("capturable", false);
  g.insert("differentiable", false);
  g.insert("fused", false);
}

template <typename Options>
void get_adam_group(const Dict& g, Options& o, const std::string& where) {
  o.lr(to_double(require(g, "lr", where), "lr"));
  const auto& betas = require(g, "betas", where);
  if (!betas.isTuple() && !betas.isList()) throw std::invalid_argument("'betas' is not a pair");
  std::vector<c10::IValue> b =
      betas.isTuple() ? betas.toTupleRef().elements().vec() : betas.toListRef().vec();
  if (b.size() != 2) throw std::invalid_argument("'betas' is not a pair");
  o.betas(std::make_tuple(to_double(b[0], "betas[0]"), to_double(b[1], "betas[1]")));
  o.eps(to_double(require(g, "eps", where), "eps"));
  o.weight_decay(to_double(require(g, "weight_decay", where), "weight_decay"));
  o.amsgrad(to_bool(require(g, "amsgrad", where), "amsgrad"));
}

template <typename State>
Dict put_adam_state(const State& s) {
  Dict d = new_dict();
  // Python keeps step as a float32 0-dim tensor; exact for steps < 2^24.
  d.insert("step", at::scalar_tensor(static_cast<double>(s.step()), at::kFloat));
  d.insert("exp_avg", s.exp_avg());
  d.insert("exp_avg_sq", s.exp_avg_sq());
  if (s.max_exp_avg_sq().defined()) d.insert("max_exp_avg_sq", s.max_exp_avg_sq());
  return d;
}

template <typename State>
std::unique_ptr<State> get_adam_state(const Dict& d, const at::Tensor& p, const std::string& where) {
  auto s = std::make_unique<State>();
  s->step(static_cast<int64_t>(to_double(require(d, "step", where), "step")));
  s->exp_avg(to_param_tensor(require(d, "exp_avg", where), p, "exp_avg"));
  s->exp_avg_sq(to_param_tensor(require(d, "exp_avg_sq", where), p, "exp_avg_sq"));
  auto m = d.find("max_exp_avg_sq");
  if (m != d.end() && !m->value().isNone())
    s->max_exp_avg_sq(to_param_tensor(m->value(), p, "max_exp_avg_sq"));
  return s;
}

}  // namespace

OptimizerCheckpointable::OptimizerCheckpointable(torch::optim::Optimizer& optimizer)
    : optimizer_(optimizer) {
  if (dynamic_cast<torch::optim::AdamW*>(&optimizer)) kind_ = Kind::kAdamW;
  else if (dynamic_cast<torch::optim::Adam*>(&optimizer)) kind_ = Kind::kAdam;
  else if (dynamic_cast<torch::optim::SGD*>(&optimizer)) kind_ = Kind::kSGD;
  else throw std::invalid_argument("ckpt: only SGD, Adam and AdamW optimizers are supported");
}

c10::IValue OptimizerCheckpointable::state_dict() const {
  Dict state = new_dict();
  List groups(c10::AnyType::get());
  int64_t index = 0;
  const auto& all_state = optimizer_.state();
  for (const auto& group : optimizer_.param_groups()) {
    Dict g = new_dict();
    const auto& opts = group.options();
    switch (kind_) {
      case Kind::kAdam: put_adam_group(g, static_cast<const torch::optim::AdamOptions&>(opts)); break;
      case Kind::kAdamW: put_adam_group(g, static_cast<const torch::optim::AdamWOptions&>(opts)); break;
      case Kind::kSGD: {
        const auto& o = static_cast<const torch::optim::SGDOptions&>(opts);
        g.insert("lr", o.lr());
        g.insert("momentum", o.momentum());
        g.insert("dampening", o.dampening());
        g.insert("weight_decay", o.weight_decay());
        g.insert("nesterov", o.nesterov());
        g.insert("maximize", false);
        g.insert("foreach", c10::IValue());
        g.insert("differentiable", false);
        break;
      }
    }
    List params(c10::AnyType::get());
    for (const auto& p : group.params()) {
      auto it = all_state.find(param_key(p));
      if (it != all_state.end()) {
        const auto& ps = *it->second;
        switch (kind_) {
          case Kind::kAdam:
            state.insert(index, put_adam_state(static_cast<const torch::optim::AdamParamState&>(ps)));
            break;
          case Kind::kAdamW:
            state.insert(index, put_adam_state(static_cast<const torch::optim::AdamWParamState&>(ps)));
            break;
          case Kind::kSGD: {
            Dict d = new_dict();
            const auto& buf = static_cast<const torch::optim::SGDParamState&>(ps).momentum_buffer();
            d.insert("momentum_buffer", buf.defined() ? c10::IValue(buf) : c10::IValue());
            state.insert(index, d);
            break;
          }
        }
      }
      params.push_back(index++);
    }
    g.insert("params", params);
    groups.push_back(g);
  }
  Dict out = new_dict();
  out.insert("state", state);
  out.insert("param_groups", groups);
  return out;
}

void OptimizerCheckpointable::load_state_dict(const c10::IValue& value) {
  Dict top = require_dict(value, "optimizer state");
  Dict state = require_dict(require(top, "state", "optimizer state"), "'state'");
  const auto& groups_v = require(top, "param_groups", "optimizer state");
  if (!groups_v.isList()) throw std::invalid_argument("'param_groups' is not a list");
  auto groups = groups_v.toListRef();
  auto& live_groups = optimizer_.param_groups();
  if (groups.size() != live_groups.size())
    throw std::invalid_argument("checkpoint has " + std::to_string(groups.size()) +
                                " param groups, the optimizer " + std::to_string(live_groups.size()));

  // Validate and build everything first; mutate the optimizer only after.
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> new_options;
  std::vector<std::pair<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>> new_state;
  std::vector<at::Tensor> by_index;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string where = "param_groups[" + std::to_string(gi) + "]";
    Dict g = require_dict(groups[gi], where);
    const auto& params_v = require(g, "params", where);
    if (!params_v.isList()) throw std::invalid_argument("'params' is not a list in " + where);
    const auto& live = live_groups[gi];
    if (params_v.toListRef().size() != live.params().size())
      throw std::invalid_argument(where + " has " + std::to_string(params_v.toListRef().size()) +
                                  " params, the optimizer group " +
                                  std::to_string(live.params().size()));
    auto opts = live.options().clone();
    switch (kind_) {
      case Kind::kAdam: get_adam_group(g, static_cast<torch::optim::AdamOptions&>(*opts), where); break;
      case Kind::kAdamW: get_adam_group(g, static_cast<torch::optim::AdamWOptions&>(*opts), where); break;
      case Kind::kSGD: {
        auto& o = static_cast<torch::optim::SGDOptions&>(*opts);
        o.lr(to_double(require(g, "lr", where), "lr"));
        o.momentum(to_double(require(g, "momentum", where), "momentum"));
        o.dampening(to_double(require(g, "dampening", where), "dampening"));
        o.weight_decay(to_double(require(g, "weight_decay", where), "weight_decay"));
        o.nesterov(to_bool(require(g, "nesterov", where), "nesterov"));
        break;
      }
    }
    new_options.push_back(std::move(opts));
    for (size_t pi = 0; pi < live.params().size(); ++pi) {
      const auto& idx = params_v.toListRef()[pi];
      if (!idx.isInt()) throw std::invalid_argument("non-integer param index in " + where);
      const at::Tensor& p = live.params()[pi];
      auto it = state.find(idx.toInt());
      if (it == state.end()) continue;  // Python skips params that never had a grad
      const std::string swhere = "state[" + std::to_string(idx.toInt()) + "]";
      Dict s = require_dict(it->value(), swhere);
      std::unique_ptr<torch::optim::OptimizerParamState> ps;
      switch (kind_) {
        case Kind::kAdam: ps = get_adam_state<torch::optim::AdamParamState>(s, p, swhere); break;
        case Kind::kAdamW: ps = get_adam_state<torch::optim::AdamWParamState>(s, p, swhere); break;
        case Kind::kSGD: {
          auto sgd = std::make_unique<torch::optim::SGDParamState>();
          auto m = s.find("momentum_buffer");
          if (m != s.end() && !m->value().isNone())
            sgd->momentum_buffer(to_param_tensor(m->value(), p, "momentum_buffer"));
          ps = std::move(sgd);
          break;
        }
      }
      new_state.emplace_back(param_key(p), std::move(ps));
    }
  }
  for (size_t gi = 0; gi < live_groups.size(); ++gi)
    live_groups[gi].set_options(std::move(new_options[gi]));
  auto& live_state = optimizer_.state();
  live_state.clear();
  for (auto& [key, ps] : new_state) live_state[key] = std::move(ps);
}

}  // namespace ckpt
