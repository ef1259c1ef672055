#include "ckpt/checkpoint_dir.h"

#include <fcntl.h>
#include <stdio.h>

#include <cerrno>
#include <stdexcept>

#include "ckpt/posix_file.h"

namespace ckpt {

namespace {
constexpr const char* kLastCheckpoint = "last_checkpoint";

bool is_stale_name(const std::string& n) {
  return n.size() > 1 && n[0] == '.' &&
         (n.find(".tmp-") != std::string::npos || n.find(".old-") != std::string::npos);
}
}  // namespace

std::string CheckpointDir::entry(const std::string& name) const { return join_path(dir_, name); }

void CheckpointDir::check_name(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos ||
      name == kLastCheckpoint)
    throw std::invalid_argument("ckpt: invalid checkpoint name '" + name + "'");
}

void CheckpointDir::ensure_exists() const { make_directories(dir_); }

std::string CheckpointDir::begin(const std::string& name) const {
  check_name(name);
  return make_temp_directory(dir_, "." + name + ".tmp-");
}

void CheckpointDir::commit(const std::string& tmp, const std::string& name) const {
  fsync_directory(tmp);
  const std::string final_path = entry(name);
  if (::rename(tmp.c_str(), final_path.c_str()) == 0) {
    fsync_directory(dir_);
    return;
  }
  int err = errno;
  if (err != EEXIST && err != ENOTEMPTY) throw CheckpointError(final_path, "cannot rename '" + tmp + "' to it", err);
  // <name> exists (re-saving model_best or model_final): swap atomically so
  // that <name> always holds a complete checkpoint.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_EXCHANGE) == 0) {
    fsync_directory(dir_);
    remove_tree(tmp);  // now holds the previous contents
    return;
  }
  err = errno;
  if (err != EINVAL && err != ENOSYS && err != ENOTSUP)
    throw CheckpointError(final_path, "cannot exchange with '" + tmp + "'", err);
  // Filesystem without RENAME_EXCHANGE: move the old one aside first. A
  // crash between the two renames leaves <name> missing but its previous
  // contents intact under the .old name.
  std::string old = make_temp_directory(dir_, "." + name + ".old-");
  rename_path(final_path, join_path(old, name));
  rename_path(tmp, final_path);
  fsync_directory(dir_);
  remove_tree(old);
}

void CheckpointDir::abandon(const std::string& tmp) const noexcept {
  try {
    remove_tree(tmp);
  } catch (...) {
    // The next Checkpointer construction removes it (clean_stale).
  }
}

std::optional<std::string> CheckpointDir::last_checkpoint() const {
  const std::string path = entry(kLastCheckpoint);
  if (!path_exists(path)) return std::nullopt;
  std::string s = read_small_file(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  if (s.empty()) return std::nullopt;
  return s;
}

void CheckpointDir::tag_last_checkpoint(const std::string& name) const {
  check_name(name);
  write_file_atomically(entry(kLastCheckpoint), name);
}

std::vector<std::string> CheckpointDir::checkpoint_names() const {
  std::vector<std::string> out;
  if (!is_directory(dir_)) return out;
  for (const auto& n : list_directory(dir_))
    if (n[0] != '.' && is_directory(entry(n))) out.push_back(n);
  return out;
}

void CheckpointDir::remove_checkpoint(const std::string& name) const {
  check_name(name);
  std::string old = make_temp_directory(dir_, "." + name + ".old-");
  rename_path(entry(name), join_path(old, name));
  fsync_directory(dir_);
  remove_tree(old);
}

size_t CheckpointDir::clean_stale() const {
  if (!is_directory(dir_)) return 0;
  size_t n = 0;
  for (const auto& name : list_directory(dir_))
    if (is_stale_name(name)) {
      remove_tree(entry(name));
      ++n;
    }
  return n;
}

}  // namespace ckpt
