#include "mount-tools/progress.h"

#include <unistd.h>

#include <cstdio>

#include "mount-tools/cli_util.h"

namespace ckptfs::cli {

Progress::Progress(std::string label, bool bytes)
    : label_(std::move(label)), bytes_(bytes), enabled_(isatty(STDERR_FILENO) == 1) {
  start_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done, uint64_t total) {
  done_ = done;
  total_ = total;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  Draw();
}

void Progress::Draw() {
  constexpr int kWidth = 30;
  std::string amount = bytes_ ? HumanSize(done_) : std::to_string(done_);
  if (total_ > 0) amount += " / " + (bytes_ ? HumanSize(total_) : std::to_string(total_));
  std::string bar;
  if (total_ > 0) {
    int filled = static_cast<int>(static_cast<double>(done_) / static_cast<double>(total_) * kWidth);
    if (filled > kWidth) filled = kWidth;
    bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string rate;
  if (bytes_ && secs > 0.5) rate = "  " + HumanSize(static_cast<uint64_t>(done_ / secs)) + "/s";
  std::fprintf(stderr, "\r\033[K%s %s%s%s", label_.c_str(), bar.c_str(), amount.c_str(),
               rate.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (!enabled_ || !drawn_) return;
  Draw();
  std::fputc('\n', stderr);
  drawn_ = false;
  enabled_ = false;
}

}  // namespace ckptfs::cli
