#include "mount-tools/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "base/unique_fd.h"

namespace ckptfs::cli {
namespace {

using nlohmann::json;
constexpr size_t kMaxRequest = 64 * 1024;

double Ratio(uint64_t a, uint64_t b) { return b == 0 ? 1.0 : static_cast<double>(a) / b; }

// sun_path holds 108 bytes; a longer store path is reached through the
// store directory's descriptor (/proc/self/fd/N/control.sock), which the
// kernel resolves to the same inode. `dir_fd` keeps that descriptor alive.
Result<sockaddr_un> SocketAddress(const std::string& store, UniqueFd* dir_fd) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = store + "/" + kControlSocketName;
  if (path.size() >= sizeof(addr.sun_path)) {
    dir_fd->reset(open(store.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd->valid()) return Status::FromErrno(store, errno);
    path = "/proc/self/fd/" + std::to_string(dir_fd->get()) + "/" + kControlSocketName;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool SendLine(int fd, const json& j) {
  std::string s = j.dump() + "\n";
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

json ErrorReply(const Status& s) {
  return {{"ok", false}, {"error", s.ToString()}, {"errno", s.err()}};
}

class ControlServerImpl final : public ControlServer {
 public:
  ControlServerImpl(Filesystem& fs, UniqueFd listen_fd, UniqueFd wake_r, UniqueFd wake_w,
                    std::string path)
      : fs_(fs), listen_(std::move(listen_fd)), wake_r_(std::move(wake_r)),
        wake_w_(std::move(wake_w)), path_(std::move(path)) {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~ControlServerImpl() override {
    char c = 'q';
    (void)!write(wake_w_.get(), &c, 1);
    acceptor_.join();
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return active_ == 0; });
    unlink(path_.c_str());
  }

 private:
  void AcceptLoop() {
    for (;;) {
      pollfd p[2] = {{listen_.get(), POLLIN, 0}, {wake_r_.get(), POLLIN, 0}};
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        spdlog::error("control socket: poll failed: {}", std::strerror(errno));
        return;
      }
      if (p[1].revents) return;
      UniqueFd conn(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) continue;
      std::lock_guard lock(mu_);
      active_++;
      // One thread per request: a long fsck must not hold up `umount`'s "pid".
      std::thread([this, c = std::move(conn)]() mutable {
        Serve(c.get());
        c.reset();
        std::lock_guard l(mu_);
        if (--active_ == 0) idle_.notify_all();
      }).detach();
    }
  }

  void Serve(int fd) {
    timeval tv{5, 0};  // a client that never sends its request is dropped
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[4096];
    while (req.find('\n') == std::string::npos && req.size() < kMaxRequest) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    json j = json::parse(req, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("op") || !j["op"].is_string()) {
      SendLine(fd, ErrorReply(Status::InvalidArgument("control request is not {\"op\":...}")));
      return;
    }
    std::string op = j["op"];
    spdlog::info("control request: {}", op);
    auto last = std::chrono::steady_clock::now();
    std::mutex progress_mu;  // the core may report from several workers
    ProgressFn progress = [&](uint64_t done, uint64_t total) {
      std::lock_guard l(progress_mu);
      auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::milliseconds(200) && done != total) return;
      last = now;
      SendLine(fd, {{"progress", {{"done", done}, {"total", total}}}});
    };
    json reply;
    if (op == "stats") {
      auto r = fs_.Stats();
      reply = r.ok() ? json{{"ok", true}, {"result", StatsToJson(*r)}} : ErrorReply(r.status());
    } else if (op == "fsck") {
      auto r = fs_.Fsck(progress);
      reply = r.ok() ? json{{"ok", true}, {"result", FsckToJson(*r)}} : ErrorReply(r.status());
    } else if (op == "gc") {
      auto r = fs_.Gc(progress);
      reply = r.ok() ? json{{"ok", true}, {"result", GcToJson(*r)}} : ErrorReply(r.status());
    } else if (op == "pid") {
      reply = {{"ok", true}, {"result", {{"pid", getpid()}}}};
    } else {
      reply = ErrorReply(Status::InvalidArgument("unknown control op '" + op + "'"));
    }
    SendLine(fd, reply);
  }

  Filesystem& fs_;
  UniqueFd listen_, wake_r_, wake_w_;
  std::string path_;
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;  // GUARDED_BY(mu_): request threads still running
};

}  // namespace

json StatsToJson(const StoreStats& s) {
  return {
      {"files", s.files},
      {"dirs", s.dirs},
      {"symlinks", s.symlinks},
      {"logical_bytes", s.logical_bytes},
      {"referenced_raw_bytes", s.referenced_raw_bytes},
      {"unique_raw_bytes", s.unique_raw_bytes},
      {"stored_bytes", s.stored_bytes},
      {"chunks", s.extents},
      {"unique_chunks", s.unique_chunks},
      {"packs", s.packs},
      {"pack_bytes", s.pack_bytes},
      // docs/CLI.md defines the ratios.
      {"dedup_ratio", Ratio(s.referenced_raw_bytes, s.unique_raw_bytes)},
      {"compression_ratio", Ratio(s.unique_raw_bytes, s.stored_bytes)},
      {"total_ratio", Ratio(s.logical_bytes, s.stored_bytes)},
  };
}

json FsckToJson(const FsckReport& r) {
  return {{"clean", r.ok()},
          {"chunks_checked", r.chunks_checked},
          {"bytes_checked", r.bytes_checked},
          {"bad_chunks", r.bad_chunks},
          {"store_problems", r.store_problems},
          {"errors", r.errors},
          {"errors_omitted", r.errors_omitted},
          {"affected_files", r.affected_files}};
}

json GcToJson(const GcReport& r) {
  return {{"chunks_deleted", r.chunks_deleted},
          {"packs_compacted", r.packs_compacted},
          {"packs_deleted", r.packs_deleted},
          {"bytes_reclaimed", r.bytes_reclaimed},
          {"packs_freed_in_place", r.packs_freed_in_place},
          {"pack_tails_cut", r.pack_tails_cut},
          {"packs_not_compacted", r.packs_not_compacted}};
}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(Filesystem& fs) {
  const std::string& store = fs.store_dir();
  std::string path = store + "/" + kControlSocketName;
  UniqueFd dir_fd;
  auto addr = SocketAddress(store, &dir_fd);
  if (!addr.ok()) return addr.status();
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return Status::FromErrno("control socket " + path, errno);
  unlink(path.c_str());  // stale: we hold the store lock
  mode_t old = umask(077);  // maintenance ops are for the daemon's owner
  int rc = bind(sock.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un));
  umask(old);
  if (rc != 0) return Status::FromErrno("bind control socket " + path, errno);
  if (listen(sock.get(), 16) != 0) return Status::FromErrno("listen on " + path, errno);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  return std::unique_ptr<ControlServer>(new ControlServerImpl(
      fs, std::move(sock), UniqueFd(pipefd[0]), UniqueFd(pipefd[1]), path));
}

Result<json> ControlCall(const std::string& store, const json& request,
                         const ProgressFn& progress) {
  std::string path = store + "/" + kControlSocketName;
  UniqueFd dir_fd;
  auto addr = SocketAddress(store, &dir_fd);
  if (!addr.ok()) return addr.status();
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return Status::FromErrno(path, errno);
  if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
    return Status::FromErrno("cannot reach the mount daemon at " + path, errno);
  }
  if (!SendLine(sock.get(), request)) return Status::FromErrno("send to " + path, errno);
  shutdown(sock.get(), SHUT_WR);
  std::string buf;
  char tmp[65536];
  for (;;) {
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      json j = json::parse(buf.substr(0, nl), nullptr, false);
      buf.erase(0, nl + 1);
      if (j.is_discarded() || !j.is_object()) {
        return Status::Corruption("malformed reply from the mount daemon at " + path);
      }
      if (j.contains("progress")) {
        if (progress) progress(j["progress"].value("done", 0ull), j["progress"].value("total", 0ull));
        continue;
      }
      if (j.value("ok", false)) return j.value("result", json::object());
      return Status::Errno(j.value("errno", EIO),
                           j.value("error", std::string("mount daemon reported an error")));
    }
    ssize_t n = recv(sock.get(), tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::Errno(EIO, "the mount daemon at " + path + " closed the connection early");
    }
    buf.append(tmp, static_cast<size_t>(n));
  }
}

}  // namespace ckptfs::cli
