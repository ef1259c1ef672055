#include "ckpt/periodic_checkpointer.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "ckpt/checkpoint_dir.h"
#include "ckpt/posix_file.h"

namespace ckpt {

namespace {
// "<prefix>_<digits>" -> iteration.
std::optional<int64_t> periodic_iteration(const std::string& name, const std::string& prefix) {
  const std::string head = prefix + "_";
  if (name.size() <= head.size() || name.compare(0, head.size(), head) != 0) return std::nullopt;
  const std::string digits = name.substr(head.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(digits);
}

std::string periodic_name(const std::string& prefix, int64_t iteration) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%07lld", static_cast<long long>(iteration));
  return prefix + buf;
}
}  // namespace

PeriodicCheckpointer::PeriodicCheckpointer(Checkpointer& checkpointer, int64_t period,
                                           std::optional<int64_t> max_iter,
                                           std::optional<size_t> max_to_keep, std::string prefix)
    : checkpointer_(checkpointer),
      period_(period),
      max_iter_(max_iter),
      max_to_keep_(max_to_keep),
      prefix_(std::move(prefix)) {
  if (period <= 0) throw std::invalid_argument("ckpt: period must be positive");
  if (max_to_keep && *max_to_keep == 0) throw std::invalid_argument("ckpt: max_to_keep must be >= 1");
  // Checkpoints of earlier runs count toward max_to_keep.
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& name : CheckpointDir(checkpointer.save_dir()).checkpoint_names())
    if (auto it = periodic_iteration(name, prefix_)) found.emplace_back(*it, name);
  std::sort(found.begin(), found.end());
  for (auto& f : found) recent_.push_back(f.second);
}

SaveHandle PeriodicCheckpointer::save(const std::string& name,
                                      std::map<std::string, c10::IValue> extra) {
  return checkpointer_.save(name, extra);
}

void PeriodicCheckpointer::trim_committed() {
  if (!max_to_keep_ || recent_.empty()) return;
  bool newest_pending = false;
  if (pending_.name() == recent_.back()) {
    if (!pending_.done()) newest_pending = true;
    else if (pending_.failed()) recent_.pop_back();  // never committed
  }
  // Every entry but a pending newest one is committed. Delete only while
  // more than max_to_keep committed ones remain: a crash then still leaves
  // max_to_keep complete checkpoints.
  size_t committed = recent_.size() - (newest_pending ? 1 : 0);
  CheckpointDir dir(checkpointer_.save_dir());
  while (committed > *max_to_keep_) {
    const std::string victim = recent_.front();
    recent_.pop_front();
    --committed;
    if (victim == prefix_ + "_final" || victim == "model_best") continue;
    if (is_directory(dir.entry(victim))) {
      dir.remove_checkpoint(victim);
      checkpointer_.log("deleted old checkpoint " + dir.entry(victim));
    }
  }
}

SaveHandle PeriodicCheckpointer::step(int64_t iteration, std::map<std::string, c10::IValue> extra) {
  extra["iteration"] = iteration;
  trim_committed();
  SaveHandle last;
  if ((iteration + 1) % period_ == 0) {
    const std::string name = periodic_name(prefix_, iteration);
    // save() first waits for the previous save (max_in_flight), so trimming
    // after it sees that previous checkpoint committed.
    last = checkpointer_.save(name, extra);
    if (std::find(recent_.begin(), recent_.end(), name) == recent_.end()) recent_.push_back(name);
    pending_ = last;
    trim_committed();
  }
  if (max_iter_ && iteration >= *max_iter_ - 1) {
    last = checkpointer_.save(prefix_ + "_final", extra);
    trim_committed();
  }
  return last;
}

}  // namespace ckpt
