// Progress: a one-line progress bar on stderr, drawn only when stderr is a
// terminal (logs and pipes stay clean). Thread-compatible: callers serialize.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ckptfs::cli {

class Progress {
 public:
  // `bytes`: show done/total as sizes (otherwise as counts).
  Progress(std::string label, bool bytes);
  ~Progress();  // Finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Redraws at most ~10 times a second; total 0 means unknown.
  void Update(uint64_t done, uint64_t total);
  // Draws the final state and ends the line.
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  void Draw();
  std::string label_;
  bool bytes_;
  bool enabled_;
  bool drawn_ = false;
  uint64_t done_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace ckptfs::cli
