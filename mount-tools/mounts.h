// Mounts: what /proc/self/mountinfo says about ckptfs mounts, and the
// unmount primitives `mount` (stale-mount recovery) and `umount` use.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace ckptfs::cli {

inline constexpr const char* kFsType = "fuse.ckptfs";

struct MountEntry {
  std::string mountpoint;  // unescaped
  std::string fstype;      // e.g. "fuse.ckptfs"
  std::string source;      // for ckptfs: the absolute store path (fsname)
};

std::vector<MountEntry> ReadMounts();
// The ckptfs mount whose mountpoint is `abs_mountpoint`, if any (the last
// one, which is the visible one when mounts are stacked).
std::optional<MountEntry> FindMountAt(const std::string& abs_mountpoint);
// A ckptfs mount of the store at `abs_store`, if any.
std::optional<MountEntry> FindMountOfStore(const std::string& abs_store);

// Unmounts `mnt`: umount2() when root, else `fusermount3 -u [-z]`. `lazy`
// detaches even when busy (used for dead mounts only). Errors name the
// mountpoint and the cause (EBUSY: files are still open).
Status Unmount(const std::string& mnt, bool lazy);

// Whether `mnt` is a ckptfs mount whose daemon is gone (killed): its store
// lock is free. stat() alone cannot tell, as the kernel may answer it from
// cached attributes.
bool DaemonIsDead(const std::string& mnt);

// The error for a command that found `store` listed as mounted at `mnt`
// although the daemon is gone: what happened and the command that clears it;
// `retry` is the command to run next ("": this one again).
Status DeadMountError(const std::string& store, const std::string& mnt, const std::string& retry);

// If `mnt` is a dead FUSE mount (stat fails with ENOTCONN: its daemon was
// killed), detaches it so a new mount can go there. *cleared says whether it did.
Status ClearStaleMount(const std::string& mnt, bool* cleared);

}  // namespace ckptfs::cli
