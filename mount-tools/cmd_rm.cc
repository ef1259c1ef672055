// ckptfs rm [-r] STORE:PATH: remove from an unmounted store, without FUSE.
#include <sys/stat.h>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/store_path.h"

namespace ckptfs::cli {
namespace {

// Removes dir's contents depth-first, then the caller removes dir itself.
Status RemoveTree(Filesystem& fs, Ino dir, const std::string& path) {
  auto entries = ListAll(fs, dir);
  if (!entries.ok()) return entries.status().WithContext(path);
  for (const auto& [e, a] : *entries) {
    std::string child = JoinStorePath(path, e.name);
    if (S_ISDIR(a.mode)) {
      CKPTFS_RETURN_IF_ERROR(RemoveTree(fs, a.ino, child));
      CKPTFS_RETURN_IF_ERROR(fs.Rmdir(dir, e.name).WithContext("rmdir " + child));
    } else {
      CKPTFS_RETURN_IF_ERROR(fs.Unlink(dir, e.name).WithContext("unlink " + child));
    }
  }
  return Status::OK();
}

}  // namespace

Runner AddRm(CLI::App& app) {
  auto ref = std::make_shared<std::string>();
  auto recursive = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("rm", "Remove a file or directory from an unmounted store");
  cmd->add_option("STORE:PATH", *ref, "Store directory and :/path/inside")->required();
  cmd->add_flag("-r,--recursive", *recursive, "Remove directories and their contents");
  return [=]() -> int {
    StoreRef r = ParseStoreRef(*ref);
    if (r.path == "/") return UsageError(*ref + ": give a path inside the store (STORE:PATH)");
    auto fs = OpenStore(r.store, /*read_only=*/false);
    if (!fs.ok()) return Fail(fs.status());
    std::string where = r.store + ":" + r.path;
    auto attr = ResolvePath(**fs, r.path);
    if (!attr.ok()) return Fail(attr.status().WithContext(where));
    auto [parent_path, name] = SplitStorePath(r.path);
    auto parent = ResolvePath(**fs, parent_path);
    if (!parent.ok()) return Fail(parent.status().WithContext(where));
    Status s;
    if (S_ISDIR(attr->mode)) {
      if (!*recursive) return Fail(Status::Errno(EISDIR, where + ": is a directory (use -r)"));
      s = RemoveTree(**fs, attr->ino, r.path);
      if (s.ok()) s = (*fs)->Rmdir(parent->ino, name).WithContext("rmdir " + where);
    } else {
      s = (*fs)->Unlink(parent->ino, name).WithContext("unlink " + where);
    }
    if (!s.ok()) return Fail(s);
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
