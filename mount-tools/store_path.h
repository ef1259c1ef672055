// Store path resolution for the CLI: "STORE[:PATH]" arguments, and
// "STORE|MOUNTPOINT" arguments (stats/fsck/gc), which may name a mounted
// store that only its daemon can open.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "fs/filesystem.h"

namespace ckptfs::cli {

struct StoreRef {
  std::string store;      // absolute store directory
  std::string path = "/"; // absolute path inside the store
};

// Parses "STORE[:PATH]". A colon splits only where the part before it is an
// existing directory, so store paths containing ':' work; "STORE" alone
// means the store's root.
StoreRef ParseStoreRef(const std::string& arg);

struct StoreTarget {
  std::string store;                      // absolute store directory
  std::optional<std::string> mountpoint;  // set when a daemon serves it
};

// Resolves a STORE or a MOUNTPOINT. A mountpoint is found in mountinfo
// (type fuse.ckptfs, source = store path); a store that is mounted gets its
// mountpoint filled in. A dead mount is an error that says how to clear it.
Result<StoreTarget> ResolveTarget(const std::string& arg);

// Opens a store for a command that works without FUSE (import, export, ls,
// rm, stats/fsck/gc of an unmounted store). When the store is mounted the
// error says where, and to use the mountpoint instead.
Result<std::unique_ptr<Filesystem>> OpenStore(const std::string& store, bool read_only);

// Every entry of directory `dir`, sorted by name (pages through ReadDir).
Result<std::vector<std::pair<DirEntry, InodeAttr>>> ListAll(Filesystem& fs, Ino dir);

// Splits an absolute store path into its parent directory and last name
// ("/a/b" -> "/a", "b"). The root has no name.
std::pair<std::string, std::string> SplitStorePath(const std::string& path);

// Joins a store-internal directory path and a name ("/" + "a" -> "/a").
std::string JoinStorePath(const std::string& dir, const std::string& name);

}  // namespace ckptfs::cli
