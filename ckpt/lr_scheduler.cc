#include "ckpt/lr_scheduler.h"

#include <torch/optim/optimizer.h>

#include <cmath>
#include <stdexcept>

namespace ckpt {

namespace {
using Dict = c10::impl::GenericDict;

const c10::IValue& require(const Dict& d, const std::string& key) {
  auto it = d.find(key);
  if (it == d.end()) throw std::invalid_argument("missing key '" + key + "' in lr_scheduler state");
  return it->value();
}
double num(const c10::IValue& v, const std::string& key) {
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  throw std::invalid_argument("lr_scheduler state '" + key + "' is not a number");
}
int64_t integer(const c10::IValue& v, const std::string& key) {
  if (v.isInt()) return v.toInt();
  throw std::invalid_argument("lr_scheduler state '" + key + "' is not an integer");
}
c10::impl::GenericList to_list(const std::vector<double>& v) {
  c10::impl::GenericList l(c10::AnyType::get());
  for (double x : v) l.push_back(x);
  return l;
}
std::vector<double> from_list(const c10::IValue& v, const std::string& key) {
  if (!v.isList()) throw std::invalid_argument("lr_scheduler state '" + key + "' is not a list");
  std::vector<double> out;
  for (const auto& e : v.toListRef()) out.push_back(num(e, key));
  return out;
}
}  // namespace

LRScheduler::LRScheduler(torch::optim::Optimizer& optimizer) : optimizer_(optimizer) {
  for (const auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.options().get_lr());
}

void LRScheduler::initialize() {
  last_epoch_ = -1;
  step();
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  last_lr_.clear();
  for (size_t i = 0; i < groups.size(); ++i) {
    double lr = lr_at(last_epoch_, base_lrs_.at(i));
    groups[i].options().set_lr(lr);
    last_lr_.push_back(lr);
  }
}

c10::IValue LRScheduler::state_dict() const {
  Dict d(c10::AnyType::get(), c10::AnyType::get());
  put_fields(d);
  d.insert("base_lrs", to_list(base_lrs_));
  d.insert("last_epoch", last_epoch_);
  d.insert("_step_count", last_epoch_ + 1);
  d.insert("verbose", false);
  d.insert("_get_lr_called_within_step", false);
  d.insert("_last_lr", to_list(last_lr_));
  return d;
}

void LRScheduler::load_state_dict(const c10::IValue& state) {
  if (!state.isGenericDict()) throw std::invalid_argument("lr_scheduler state is not a dict");
  Dict d = state.toGenericDict();
  auto base = from_list(require(d, "base_lrs"), "base_lrs");
  auto last = from_list(require(d, "_last_lr"), "_last_lr");
  int64_t epoch = integer(require(d, "last_epoch"), "last_epoch");
  if (base.size() != optimizer_.param_groups().size() || last.size() != base.size())
    throw std::invalid_argument("lr_scheduler state has " + std::to_string(base.size()) +
                                " groups, the optimizer " +
                                std::to_string(optimizer_.param_groups().size()));
  get_fields(d);
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
  last_epoch_ = epoch;
}

StepLR::StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) throw std::invalid_argument("StepLR step_size must be positive");
  initialize();
}

double StepLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

void StepLR::put_fields(Dict& d) const {
  d.insert("step_size", step_size_);
  d.insert("gamma", gamma_);
}

void StepLR::get_fields(const Dict& d) {
  int64_t step_size = integer(require(d, "step_size"), "step_size");
  if (step_size <= 0) throw std::invalid_argument("lr_scheduler 'step_size' must be positive");
  step_size_ = step_size;
  gamma_ = num(require(d, "gamma"), "gamma");
}

WarmupCosineLR::WarmupCosineLR(torch::optim::Optimizer& optimizer, int64_t max_iter,
                               double warmup_factor, int64_t warmup_iter, double alpha,
                               std::string warmup_method)
    : LRScheduler(optimizer),
      max_iter_(max_iter),
      warmup_factor_(warmup_factor),
      warmup_iter_(warmup_iter),
      alpha_(alpha),
      warmup_method_(std::move(warmup_method)) {
  if (max_iter <= 0) throw std::invalid_argument("WarmupCosineLR max_iter must be positive");
  if (warmup_method_ != "linear" && warmup_method_ != "constant")
    throw std::invalid_argument("WarmupCosineLR warmup_method must be linear or constant");
  initialize();
}

double WarmupCosineLR::lr_at(int64_t epoch, double base_lr) const {
  const double pi = 3.14159265358979323846;
  double progress = std::min<double>(epoch, max_iter_) / static_cast<double>(max_iter_);
  double cosine = 0.5 * (1.0 + std::cos(pi * progress));
  double lr = base_lr * ((1.0 - alpha_) * cosine + alpha_);
  if (epoch < warmup_iter_) {
    double factor = warmup_factor_;
    if (warmup_method_ == "linear") {
      double a = static_cast<double>(epoch) / static_cast<double>(warmup_iter_);
      factor = warmup_factor_ * (1.0 - a) + a;
    }
    lr *= factor;
  }
  return lr;
}

void WarmupCosineLR::put_fields(Dict& d) const {
  d.insert("max_iter", max_iter_);
  d.insert("warmup_factor", warmup_factor_);
  d.insert("warmup_iter", warmup_iter_);
  d.insert("alpha", alpha_);
  d.insert("warmup_method", warmup_method_);
}

void WarmupCosineLR::get_fields(const Dict& d) {
  int64_t max_iter = integer(require(d, "max_iter"), "max_iter");
  const auto& method = require(d, "warmup_method");
  if (max_iter <= 0) throw std::invalid_argument("lr_scheduler 'max_iter' must be positive");
  if (!method.isString()) throw std::invalid_argument("'warmup_method' is not a string");
  max_iter_ = max_iter;
  warmup_factor_ = num(require(d, "warmup_factor"), "warmup_factor");
  warmup_iter_ = integer(require(d, "warmup_iter"), "warmup_iter");
  alpha_ = num(require(d, "alpha"), "alpha");
  warmup_method_ = method.toStringRef();
}

}  // namespace ckpt
