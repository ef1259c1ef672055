// Small helpers shared by the ckptfs subcommands: exit codes, error output,
// sizes, paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ckptfs::cli {

// Exit codes (docs/CLI.md): CLI11 parse errors map to kExitUsage in main.cc.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Prints "ckptfs: <message>" to stderr. Messages from the core already name
// the path and the cause; callers add context where they know more.
void PrintError(std::string_view message);
// PrintError(s.ToString()) and returns kExitError.
int Fail(const Status& s);
// PrintError(message) and returns kExitUsage.
int UsageError(std::string_view message);

// "262144", "256K", "256KiB", "1M", "2G" (binary multiples). InvalidArgument
// names the text on anything else.
Result<uint64_t> ParseSize(std::string_view text);
// 1536 -> "1.5 KiB".
std::string HumanSize(uint64_t bytes);

// An absolute, normalized form of `path` (symlinks resolved when it exists),
// so the store path recorded as the mount source is canonical.
std::string AbsolutePath(const std::string& path);

}  // namespace ckptfs::cli
