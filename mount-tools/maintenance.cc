#include "mount-tools/maintenance.h"

#include "mount-tools/control.h"
#include "mount-tools/mounts.h"
#include "mount-tools/store_path.h"

namespace ckptfs::cli {

Result<nlohmann::json> RunStoreOp(const std::string& target, const std::string& op,
                                  const ProgressFn& progress) {
  auto t = ResolveTarget(target);
  if (!t.ok()) return t.status();
  if (t->mountpoint) {
    auto r = ControlCall(t->store, {{"op", op}}, progress);
    if (r.ok()) return r;
    // A daemon killed with -9 leaves its mount listed (and its socket file)
    // behind: say what that is and how to clear it, not just ECONNREFUSED.
    if (DaemonIsDead(*t->mountpoint))
      return DeadMountError(t->store, *t->mountpoint, "ckptfs " + op + " " + t->store);
    return r.status().WithContext(op + " of " + t->store + " (mounted at " + *t->mountpoint + ")");
  }
  // stats and fsck only read; gc rewrites packs.
  auto fs = OpenStore(t->store, /*read_only=*/op != "gc");
  if (!fs.ok()) return fs.status();
  if (op == "stats") {
    auto r = (*fs)->Stats();
    if (!r.ok()) return r.status();
    return StatsToJson(*r);
  }
  if (op == "fsck") {
    auto r = (*fs)->Fsck(progress);
    if (!r.ok()) return r.status();
    return FsckToJson(*r);
  }
  auto r = (*fs)->Gc(progress);
  if (!r.ok()) return r.status();
  return GcToJson(*r);
}

}  // namespace ckptfs::cli
