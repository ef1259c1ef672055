// The on-disk protocol of a checkpoint directory (save_dir). POSIX only.
//
// Layout:
//   save_dir/last_checkpoint       basename of the newest complete checkpoint
//   save_dir/<name>/<key>          a committed checkpoint, one file per key
//   save_dir/.<name>.tmp-XXXXXX/   a checkpoint being written (or left by a crash)
//   save_dir/.<name>.old-XXXXXX/   a replaced/deleted checkpoint being removed
//
// Commit order (each step durable before the next):
//   1. every file in the tmp dir is written and fsynced (by the caller);
//   2. the tmp dir is fsynced;
//   3. tmp is renamed to <name> (renameat2 RENAME_EXCHANGE when <name>
//      exists, so <name> never disappears; the old contents end up under the
//      tmp name and are removed afterwards);
//   4. save_dir is fsynced;
//   5. last_checkpoint is replaced through a temp file + rename + fsync.
// Invariants after a crash at any point: every non-hidden directory is
// complete, and last_checkpoint names a complete directory (or is absent).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ckpt {

class CheckpointDir {
 public:
  explicit CheckpointDir(std::string save_dir) : dir_(std::move(save_dir)) {}
  const std::string& path() const { return dir_; }
  std::string entry(const std::string& name) const;

  // Throws std::invalid_argument unless `name` is a plain basename.
  static void check_name(const std::string& name);

  void ensure_exists() const;
  // Creates save_dir/.<name>.tmp-XXXXXX and returns its path.
  std::string begin(const std::string& name) const;
  // Steps 2-4 above. REQUIRES: every file in `tmp` is already fsynced.
  void commit(const std::string& tmp, const std::string& name) const;
  // Best-effort removal of a tmp dir after a failed save.
  void abandon(const std::string& tmp) const noexcept;

  std::optional<std::string> last_checkpoint() const;
  void tag_last_checkpoint(const std::string& name) const;

  // Committed checkpoint directories (non-hidden), sorted by name.
  std::vector<std::string> checkpoint_names() const;
  // Atomically hides the checkpoint (rename), then removes it.
  void remove_checkpoint(const std::string& name) const;
  // Removes leftovers of interrupted saves and removals. Returns how many.
  size_t clean_stale() const;

 private:
  std::string dir_;
};

}  // namespace ckpt
