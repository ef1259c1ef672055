// Control channel: how CLI commands reach the daemon that holds a mounted
// store's lock (protocol in docs/CLI.md, "Control socket").
//
// The daemon listens on the unix socket STORE/control.sock. One request per
// connection: the client sends one JSON object and a newline; the daemon
// answers zero or more progress lines {"progress":{"done":N,"total":M}} and
// then exactly one final line {"ok":true,"result":{...}} or
// {"ok":false,"error":"...","errno":N}. Ops: "stats", "fsck", "gc", "pid".
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "fs/filesystem.h"

namespace ckptfs::cli {

inline constexpr const char* kControlSocketName = "control.sock";

// JSON forms of the core's reports, shared by the daemon and the direct path
// so `--json` output is the same either way.
nlohmann::json StatsToJson(const StoreStats& s);
nlohmann::json FsckToJson(const FsckReport& r);
nlohmann::json GcToJson(const GcReport& r);

class ControlServer {
 public:
  // Binds STORE/control.sock (replacing a stale one: the caller holds the
  // store lock, so no other daemon can be using it) and starts serving.
  // REQUIRES: `fs` outlives the server.
  static Result<std::unique_ptr<ControlServer>> Start(Filesystem& fs);
  // Stops accepting, waits for requests in flight (a running gc finishes),
  // removes the socket.
  virtual ~ControlServer() = default;
};

// Sends `request` to the daemon serving `store` and returns the final reply's
// "result". Progress lines go to `progress` (may be empty). Errors: the
// daemon's error, or IOError naming the socket when nobody answers.
Result<nlohmann::json> ControlCall(const std::string& store, const nlohmann::json& request,
                                   const ProgressFn& progress);

}  // namespace ckptfs::cli
