// Error type of the checkpointer. Every failure names the file it concerns
// and the cause (errno text for OS errors), so a log line is actionable.
#pragma once

#include <stdexcept>
#include <string>

namespace ckpt {

class CheckpointError : public std::runtime_error {
 public:
  // `path`: the file or directory concerned. `cause`: what went wrong.
  // `err`: errno of the failing call, or 0 when not an OS error.
  CheckpointError(std::string path, const std::string& cause, int err = 0);

  const std::string& path() const noexcept { return path_; }
  int error_code() const noexcept { return errno_; }

 private:
  std::string path_;
  int errno_;
};

}  // namespace ckpt
