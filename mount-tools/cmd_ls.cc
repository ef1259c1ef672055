// ckptfs ls STORE[:PATH]: list a directory of an unmounted store (mode,
// size, mtime, name), without FUSE.
#include <sys/stat.h>

#include <cstdio>
#include <ctime>

#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/store_path.h"

namespace ckptfs::cli {
namespace {

std::string ModeString(uint32_t m) {
  char t = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's'
         : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : '-';
  std::string s(1, t);
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; i++) s.push_back((m & (0400 >> i)) ? rwx[i] : '-');
  return s;
}

void PrintEntry(Filesystem& fs, const std::string& name, const InodeAttr& a) {
  char when[32];
  time_t t = static_cast<time_t>(a.mtime_ns / 1000000000);
  struct tm tm {};
  localtime_r(&t, &tm);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
  std::string line = ModeString(a.mode) + " " + std::to_string(a.nlink) + " " +
                     std::to_string(a.uid) + " " + std::to_string(a.gid);
  std::printf("%s %12llu %s %s", line.c_str(), static_cast<unsigned long long>(a.size), when,
              name.c_str());
  if (S_ISLNK(a.mode)) {
    auto target = fs.ReadLink(a.ino);
    if (target.ok()) std::printf(" -> %s", target->c_str());
  }
  std::printf("\n");
}

}  // namespace

Runner AddLs(CLI::App& app) {
  auto ref = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("ls", "List a directory of an unmounted store");
  cmd->add_option("STORE[:PATH]", *ref, "Store directory, optionally :/path/inside")->required();
  return [=]() -> int {
    StoreRef r = ParseStoreRef(*ref);
    auto fs = OpenStore(r.store, /*read_only=*/true);
    if (!fs.ok()) return Fail(fs.status());
    auto attr = ResolvePath(**fs, r.path);
    if (!attr.ok()) return Fail(attr.status().WithContext(r.store + ":" + r.path));
    if (!S_ISDIR(attr->mode)) {
      PrintEntry(**fs, r.path, *attr);
      return kExitOk;
    }
    auto entries = ListAll(**fs, attr->ino);
    if (!entries.ok()) return Fail(entries.status().WithContext(r.store + ":" + r.path));
    for (const auto& [e, a] : *entries) PrintEntry(**fs, e.name, a);
    return kExitOk;
  };
}

}  // namespace ckptfs::cli
