// `-o` option lists for `ckptfs mount` (and, through mount.ckptfs, fstab).
#pragma once

#include <string_view>

#include "base/status.h"
#include "fs/fuse_adapter.h"

namespace ckptfs::cli {

// Applies a comma-separated list ("ro,allow_other,cache_size=1G") to `opts`.
// Generic mount(8) options that mean nothing to a FUSE daemon (defaults,
// _netdev, noauto, nofail, user, x-*, ...) are accepted and ignored, so an
// fstab line works unchanged. InvalidArgument names an unknown option.
Status ApplyMountOptionString(std::string_view list, MountOptions* opts);

}  // namespace ckptfs::cli
