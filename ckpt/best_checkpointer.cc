#include "ckpt/best_checkpointer.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ckpt {

BestCheckpointer::BestCheckpointer(int64_t eval_period, Checkpointer& checkpointer,
                                   std::string metric, Mode mode, std::string name)
    : period_(eval_period),
      checkpointer_(checkpointer),
      metric_(std::move(metric)),
      mode_(mode),
      name_(std::move(name)) {
  if (eval_period <= 0) throw std::invalid_argument("ckpt: eval_period must be positive");
}

bool BestCheckpointer::is_eval_iteration(int64_t iteration, std::optional<int64_t> max_iter) const {
  return (iteration + 1) % period_ == 0 || (max_iter && iteration + 1 >= *max_iter);
}

bool BestCheckpointer::step(int64_t iteration, double value,
                            std::map<std::string, c10::IValue> extra) {
  if (std::isnan(value)) {
    checkpointer_.log("metric " + metric_ + " is NaN at iteration " + std::to_string(iteration) +
                      "; not comparing");
    return false;
  }
  const bool better =
      !best_ || (mode_ == Mode::kMax ? value > *best_ : value < *best_);
  if (!better) return false;
  std::ostringstream msg;
  msg << "saving best model: " << metric_ << " = " << value;
  if (best_) msg << " (previous best " << *best_ << " at iteration " << *best_iter_ << ")";
  checkpointer_.log(msg.str());
  best_ = value;
  best_iter_ = iteration;
  extra["iteration"] = iteration;
  checkpointer_.save(name_, extra);
  return true;
}

}  // namespace ckpt
