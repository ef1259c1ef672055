#include "mount-tools/mount_options.h"

#include <charconv>
#include <set>
#include <string>

#include "mount-tools/cli_util.h"

namespace ckptfs::cli {
namespace {

// Accepted for mount(8)/fstab compatibility; no effect on ckptfs.
const std::set<std::string, std::less<>> kIgnored = {
    "defaults", "_netdev", "auto",   "noauto", "nofail", "user",       "users",
    "nouser",   "owner",   "group",  "dev",    "nodev",  "suid",       "nosuid",
    "exec",     "noexec",  "atime",  "noatime", "relatime", "strictatime", "nodiratime",
    "diratime", "lazytime", "nolazytime", "async", "default_permissions", "loop",
};

Result<unsigned> ParseUnsigned(std::string_view key, std::string_view v) {
  unsigned out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
    return Status::InvalidArgument("mount option " + std::string(key) + ": '" + std::string(v) +
                                   "' is not a number");
  }
  return out;
}

}  // namespace

Status ApplyMountOptionString(std::string_view list, MountOptions* o) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    bool has_val = eq != std::string_view::npos;
    auto flag = [&](bool* field, bool value) {
      if (has_val) return false;
      *field = value;
      return true;
    };
    bool ok = true;
    if (key == "ro") ok = flag(&o->read_only, true);
    else if (key == "rw") ok = flag(&o->read_only, false);
    else if (key == "allow_other") ok = flag(&o->allow_other, true);
    else if (key == "writeback_cache") ok = flag(&o->writeback_cache, true);
    else if (key == "no_writeback_cache") ok = flag(&o->writeback_cache, false);
    else if (key == "direct_write") ok = flag(&o->direct_writes, true);
    else if (key == "no_direct_write") ok = flag(&o->direct_writes, false);
    else if (key == "splice") ok = flag(&o->splice, true);
    else if (key == "no_splice") ok = flag(&o->splice, false);
    else if (key == "async_read") ok = flag(&o->async_read, true);
    else if (key == "sync_read") ok = flag(&o->async_read, false);
    else if (key == "readdirplus") ok = flag(&o->readdirplus, true);
    else if (key == "no_readdirplus") ok = flag(&o->readdirplus, false);
    else if (key == "debug") ok = flag(&o->debug, true);
    else if (key == "cache_size") {
      auto v = ParseSize(val);
      if (!v.ok()) return v.status().WithContext("mount option cache_size");
      o->cache_bytes = *v;
    } else if (key == "max_threads" || key == "max_idle_threads" || key == "timeout") {
      auto v = ParseUnsigned(key, val);
      if (!v.ok()) return v.status();
      if (key == "max_threads") o->max_threads = *v;
      else if (key == "max_idle_threads") o->max_idle_threads = *v;
      else o->timeout_s = *v;
    } else if (kIgnored.count(key) || key.starts_with("x-") || key.starts_with("comment=") ||
               key == "comment" || key.starts_with("_")) {
      // mount(8)/systemd bookkeeping
    } else {
      return Status::InvalidArgument("unknown mount option '" + std::string(item) +
                                     "' (see `ckptfs mount --help`)");
    }
    if (!ok) {
      return Status::InvalidArgument("mount option '" + std::string(key) + "' takes no value");
    }
  }
  return Status::OK();
}

}  // namespace ckptfs::cli
