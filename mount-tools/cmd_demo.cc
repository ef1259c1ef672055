// ckptfs demo [DIR]: the main job end to end, in one command.
//
//   1. `ckptfs init DIR/store`, `ckptfs mount DIR/store DIR/mnt`;
//   2. `ckptfs-train` (4 ranks, 20 iterations, checkpoint and eval period 10)
//      writes a LiBai run tree into DIR/mnt/output/finetune_qqp;
//   3. prints that tree with sizes and checks it holds exactly the
//      documented entries;
//   4. prints `du -sh` (apparent and on-disk) next to `ckptfs stats` and the
//      logical/stored ratio (target >= 1.8x);
//   5. resumes from last_checkpoint (same schedule, so it loads every file
//      and stops without adding checkpoints);
//   6. `ckptfs umount`, leaving the store in DIR/store.
//
// Every step runs the same code as the user-facing commands: the subcommands
// are this very binary (/proc/self/exe) run as a child, and ckptfs-train is
// the binary next to it. A failure or SIGINT/SIGTERM/SIGHUP at any point
// still unmounts before the demo exits.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "mount-tools/cli_util.h"
#include "mount-tools/commands.h"
#include "mount-tools/maintenance.h"
#include "mount-tools/mounts.h"

namespace ckptfs::cli {
namespace {

constexpr int kRanks = 4;
constexpr int kIters = 20;
constexpr int kPeriod = 10;
// Evaluating at the checkpoint period makes model_best a copy of one of the
// periodic checkpoints (iteration 9 or 19), as in a LiBai run with
// eval_period == checkpointer.period.
constexpr int kEvalPeriod = 10;
constexpr double kTargetRatio = 1.8;
constexpr const char* kRunSubdir = "output/finetune_qqp";

volatile sig_atomic_t g_signal = 0;

void OnSignal(int signo) {
  if (g_signal == 0) g_signal = signo;
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid/read return EINTR so we can react
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
}

void Step(int n, const std::string& what) {
  std::printf("\n==> [%d/6] %s\n", n, what.c_str());
  std::fflush(stdout);
}

void Note(const std::string& what) {
  std::printf("    %s\n", what.c_str());
  std::fflush(stdout);
}

std::string ExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  std::string p(buf);
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:+,@%") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + ShellQuote(a);
  return s;
}

// Runs argv[0] (a path, or a name looked up in PATH) with stdout and stderr
// passing through to ours, or with stdout also captured into *capture. Returns
// the exit code, 128+N for a child killed by signal N, or 127 if it could not
// be started. A signal we receive meanwhile is passed on to the child (with
// Ctrl-C the terminal has already sent it; then this is a no-op repeat), and
// we keep waiting for the child so nothing runs behind our back.
int RunChild(const std::vector<std::string>& argv, std::string* capture = nullptr,
             bool ignore_signals = false) {
  std::fflush(stdout);
  std::fflush(stderr);
  int p[2] = {-1, -1};
  if (capture && pipe2(p, O_CLOEXEC) != 0) {
    PrintError("demo: pipe: " + std::string(std::strerror(errno)));
    return 127;
  }
  pid_t pid = fork();
  if (pid < 0) {
    PrintError("demo: fork: " + std::string(std::strerror(errno)));
    if (capture) close(p[0]), close(p[1]);
    return 127;
  }
  if (pid == 0) {
    struct sigaction sa {};
    sa.sa_handler = ignore_signals ? SIG_IGN : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
    if (capture) dup2(p[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "ckptfs: demo: cannot run %s: %s\n", argv[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  bool forwarded = false;
  auto forward = [&] {
    if (g_signal != 0 && !forwarded && !ignore_signals) {
      kill(pid, g_signal);
      forwarded = true;
    }
  };
  if (capture) {
    close(p[1]);
    char buf[4096];
    for (;;) {
      ssize_t n = read(p[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        forward();
        continue;
      }
      if (n <= 0) break;
      capture->append(buf, static_cast<size_t>(n));
      std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
      std::fflush(stdout);
    }
    close(p[0]);
  }
  int st = 0;
  for (;;) {
    pid_t r = waitpid(pid, &st, 0);
    if (r == pid) break;
    if (r < 0 && errno == EINTR) {
      forward();
      continue;
    }
    PrintError("demo: waitpid: " + std::string(std::strerror(errno)));
    return 127;
  }
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsEmptyDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (!d) return false;
  bool empty = true;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

struct Entry {
  std::string name;
  struct stat st {};
};

// Sorted directory listing (lstat of each entry), without "." and "..".
Result<std::vector<Entry>> ListDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (!d) return Status::FromErrno("cannot list " + path, errno);
  std::vector<Entry> out;
  errno = 0;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    Entry en;
    en.name = e->d_name;
    if (lstat((path + "/" + en.name).c_str(), &en.st) != 0) {
      int err = errno;
      closedir(d);
      return Status::FromErrno("cannot stat " + path + "/" + en.name, err);
    }
    out.push_back(std::move(en));
  }
  closedir(d);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

struct TreeTotals {
  uint64_t files = 0, dirs = 0, bytes = 0;
};

// `tree`-style listing with sizes (tree may not be installed).
Status PrintTree(const std::string& path, const std::string& prefix, TreeTotals* totals) {
  auto list = ListDir(path);
  if (!list.ok()) return list.status();
  for (size_t i = 0; i < list->size(); ++i) {
    const Entry& e = (*list)[i];
    bool last = i + 1 == list->size();
    std::string label = prefix + (last ? "`-- " : "|-- ") + e.name;
    if (S_ISDIR(e.st.st_mode)) {
      totals->dirs++;
      std::printf("%s/\n", label.c_str());
      CKPTFS_RETURN_IF_ERROR(PrintTree(path + "/" + e.name, prefix + (last ? "    " : "|   "), totals));
    } else {
      totals->files++;
      totals->bytes += static_cast<uint64_t>(e.st.st_size);
      std::printf("%-40s %12s  (%lld bytes)\n", label.c_str(),
                  HumanSize(static_cast<uint64_t>(e.st.st_size)).c_str(),
                  static_cast<long long>(e.st.st_size));
    }
  }
  return Status::OK();
}

// The run tree LiBai documents (docs/CHECKPOINTER.md), exactly. Returns one
// line per problem; empty when the tree matches.
std::vector<std::string> CheckRunTree(const std::string& run) {
  const std::set<std::string> files = {"config.yaml",   "last_checkpoint", "log.txt",
                                       "log.txt.rank1", "log.txt.rank2",   "log.txt.rank3",
                                       "metrics.json"};
  const std::set<std::string> dirs = {"model_0000009", "model_0000019", "model_best", "model_final"};
  const std::set<std::string> ckpt_files = {"graph", "lr_scheduler", "model"};
  std::vector<std::string> problems;
  auto check = [&](const std::string& dir, const std::set<std::string>& want_files,
                   const std::set<std::string>& want_dirs) {
    auto list = ListDir(dir);
    if (!list.ok()) {
      problems.push_back(list.status().ToString());
      return;
    }
    std::set<std::string> seen;
    for (const auto& e : *list) {
      seen.insert(e.name);
      std::string p = dir + "/" + e.name;
      if (want_files.count(e.name)) {
        if (!S_ISREG(e.st.st_mode)) problems.push_back(p + " is not a regular file");
        else if (e.st.st_size == 0 && e.name != "log.txt.rank1" && e.name != "log.txt.rank2" &&
                 e.name != "log.txt.rank3")
          problems.push_back(p + " is empty");
      } else if (want_dirs.count(e.name)) {
        if (!S_ISDIR(e.st.st_mode)) problems.push_back(p + " is not a directory");
      } else {
        problems.push_back("unexpected entry " + p);
      }
    }
    for (const auto& w : want_files)
      if (!seen.count(w)) problems.push_back("missing file " + dir + "/" + w);
    for (const auto& w : want_dirs)
      if (!seen.count(w)) problems.push_back("missing directory " + dir + "/" + w);
  };
  check(run, files, dirs);
  for (const auto& d : dirs)
    if (IsDir(run + "/" + d)) check(run + "/" + d, ckpt_files, {});
  return problems;
}

std::string ReadSmallFile(const std::string& path) {
  std::string s;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return s;
  char buf[256];
  size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  s.assign(buf, n);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Checks that need nothing created yet. DIR may exist (a directory we can
// write, without a non-empty store/ or mnt/) or not (then its nearest
// existing ancestor must be a writable directory).
Status CheckDemoDir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("DIR " + dir + " is not a directory");
    if (access(dir.c_str(), W_OK | X_OK) != 0)
      return Status::FromErrno("DIR " + dir + " is not writable", errno);
    for (const char* sub : {"store", "mnt"}) {
      std::string p = dir + "/" + sub;
      if (lstat(p.c_str(), &st) != 0) continue;
      if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(p + " exists and is not a directory");
      if (FindMountAt(p)) return Status::Busy(p + " is a mounted ckptfs (unmount it, or pick another DIR)");
      if (!IsEmptyDir(p)) {
        return Status::Exists(p + " already exists and is not empty (the demo needs a "
                                         "fresh store; remove it or pick another DIR)");
      }
    }
    return Status::OK();
  }
  if (errno != ENOENT && errno != ENOTDIR) return Status::FromErrno("DIR " + dir, errno);
  // The nearest existing ancestor (ENOTDIR: some ancestor is a file).
  std::string parent = dir;
  for (;;) {
    size_t slash = parent.rfind('/');
    parent = slash == 0 ? "/" : parent.substr(0, slash);
    if (stat(parent.c_str(), &st) == 0) break;
    if (errno != ENOENT && errno != ENOTDIR)
      return Status::FromErrno("DIR " + dir + ": " + parent, errno);
    if (parent == "/") break;
  }
  if (!S_ISDIR(st.st_mode))
    return Status::InvalidArgument("DIR " + dir + ": " + parent + " is not a directory");
  if (access(parent.c_str(), W_OK | X_OK) != 0)
    return Status::FromErrno("DIR " + dir + " cannot be created: " + parent + " is not writable", errno);
  return Status::OK();
}

Status CheckFuse() {
  const std::string why =
      "the demo mounts a store and needs FUSE (load the fuse module, or run the container with "
      "--device /dev/fuse; `ckptfs import`/`export` work without FUSE)";
  struct stat st {};
  if (stat("/dev/fuse", &st) != 0) return Status::FromErrno("cannot use /dev/fuse", errno).WithContext(why);
  if (!S_ISCHR(st.st_mode)) {
    return Status::Errno(ENODEV, "/dev/fuse is not a character device").WithContext(why);
  }
  UniqueFd fd(open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("cannot open /dev/fuse", errno).WithContext(why);
  return Status::OK();
}

Status MakeDirs(const std::string& path) {
  if (IsDir(path)) return Status::OK();
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) CKPTFS_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash)));
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::FromErrno("cannot create " + path, errno);
  return Status::OK();
}

struct DemoArgs {
  std::string dir;
  std::string model_size = "small";
};

class Demo {
 public:
  explicit Demo(const DemoArgs& a) : args_(a) {}

  int Run() {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string bindir = ExeDir();
    self_ = bindir + "/ckptfs";
    if (access(self_.c_str(), X_OK) != 0) self_ = "/proc/self/exe";
    train_ = bindir + "/ckptfs-train";

    // Nothing is created before these pass.
    if (!args_.dir.empty()) {
      dir_ = AbsolutePath(args_.dir);
      if (Status s = CheckDemoDir(dir_); !s.ok()) return Fail(s.WithContext("demo"));
    }
    if (Status s = CheckFuse(); !s.ok()) return Fail(s.WithContext("demo"));
    if (access(train_.c_str(), X_OK) != 0) {
      return Fail(Status::FromErrno("cannot run " + train_, errno)
                      .WithContext("demo: ckptfs-train must sit next to ckptfs (build it with "
                                   "`ninja -C build ckptfs-train`, libtorch-dev needed)"));
    }
    InstallSignalHandlers();

    if (dir_.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ckptfs-demo-XXXXXX";
      std::vector<char> buf(tmpl.begin(), tmpl.end());
      buf.push_back('\0');
      if (!mkdtemp(buf.data())) return Fail(Status::FromErrno("demo: cannot create " + tmpl, errno));
      dir_ = buf.data();
    } else if (Status s = MakeDirs(dir_); !s.ok()) {
      return Fail(s.WithContext("demo"));
    }
    store_ = dir_ + "/store";
    mnt_ = dir_ + "/mnt";
    run_ = mnt_ + "/" + kRunSubdir;
    std::printf("ckptfs demo in %s\n  store:      %s\n  mountpoint: %s\n  run dir:    %s\n",
                dir_.c_str(), store_.c_str(), mnt_.c_str(), run_.c_str());

    int rc = Steps();
    if (rc != kExitOk && !Interrupted()) ExplainDeadMount();
    int crc = Cleanup();
    if (rc == kExitOk) rc = crc;
    if (g_signal != 0) {
      std::fprintf(stderr, "ckptfs: demo: interrupted by %s; unmounted, store left in %s\n",
                   strsignal(g_signal), store_.c_str());
      return 128 + g_signal;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc == kExitOk) {
      std::printf("\nlogical/stored ratio: %.2fx (target >= %.1fx)\n", ratio_, kTargetRatio);
      std::printf("demo finished in %.0f s. The store is left in %s; mount it again with:\n"
                  "  %s mount %s %s\n  ls -lR %s\n  %s umount %s\n",
                  secs, store_.c_str(), self_.c_str(), ShellQuote(store_).c_str(),
                  ShellQuote(mnt_).c_str(), ShellQuote(run_).c_str(), self_.c_str(),
                  ShellQuote(mnt_).c_str());
    } else {
      std::fprintf(stderr, "ckptfs: demo failed (see above); the store is left in %s\n",
                   store_.c_str());
    }
    return rc;
  }

 private:
  bool Interrupted() const { return g_signal != 0; }

  // Runs a command, echoing it first; non-zero exit -> message, false.
  bool Do(const std::vector<std::string>& argv, std::string* capture = nullptr) {
    std::printf("$ %s\n", CommandLine(argv).c_str());
    int rc = RunChild(argv, capture);
    if (rc == 0) return true;
    if (!Interrupted()) {
      PrintError("demo: `" + CommandLine(argv) + "` " +
                 (rc > 128 ? "was killed by signal " + std::to_string(rc - 128)
                           : "exited with status " + std::to_string(rc)));
    }
    return false;
  }

  std::vector<std::string> TrainArgs() const {
    return {train_,         "--output",      run_,
            "--ranks",      std::to_string(kRanks),
            "--iters",      std::to_string(kIters),
            "--period",     std::to_string(kPeriod),
            "--eval-period", std::to_string(kEvalPeriod),
            "--model-size", args_.model_size};
  }

  bool VerifyTree(const char* when) {
    auto problems = CheckRunTree(run_);
    if (problems.empty()) {
      Note(std::string("run tree OK ") + when +
           ": exactly config.yaml, last_checkpoint, log.txt, log.txt.rank1-3, metrics.json, "
           "model_0000009/ model_0000019/ model_best/ model_final/ (each graph, lr_scheduler, "
           "model)");
      return true;
    }
    PrintError(std::string("demo: the run directory ") + run_ +
               " does not hold exactly the documented entries " + when + ":");
    for (const auto& p : problems) std::fprintf(stderr, "  %s\n", p.c_str());
    return false;
  }

  int Steps() {
    // 1. init + mount
    Step(1, "create a store and mount it");
    if (!Do({self_, "init", store_})) return kExitError;
    if (Interrupted()) return kExitError;
    if (Status s = MakeDirs(mnt_); !s.ok()) return Fail(s.WithContext("demo"));
    if (!Do({self_, "mount", store_, mnt_})) return kExitError;
    if (Interrupted()) return kExitError;
    Note("mounted " + store_ + " at " + mnt_ + " (daemon log: " + store_ + "/daemon.log)");

    // 2. train
    Step(2, "train: " + std::to_string(kRanks) + " ranks, " + std::to_string(kIters) +
                " iterations, checkpoint and eval every " + std::to_string(kPeriod));
    if (!Do(TrainArgs())) return kExitError;
    if (Interrupted()) return kExitError;

    // 3. tree
    Step(3, "the run tree, as written through the mount");
    std::printf("%s/\n", run_.c_str());
    TreeTotals totals;
    if (Status s = PrintTree(run_, "", &totals); !s.ok()) return Fail(s.WithContext("demo"));
    std::printf("%llu directories, %llu files, %s\n", static_cast<unsigned long long>(totals.dirs),
                static_cast<unsigned long long>(totals.files), HumanSize(totals.bytes).c_str());
    Note("last_checkpoint -> " + ReadSmallFile(run_ + "/last_checkpoint"));
    if (!VerifyTree("after training")) return kExitError;
    if (Interrupted()) return kExitError;

    // 4. du vs stats
    Step(4, "space: what the files add up to vs what the store holds");
    Note("du --apparent-size: the logical size (what ls -l adds up to)");
    if (!Do({"du", "-sh", "--apparent-size", mnt_})) Note("(du failed; see ckptfs stats below)");
    Note("du: each file's compressed size (st_blocks); chunks shared between files are "
         "counted once per file, so du does not show dedup");
    if (!Do({"du", "-sh", mnt_})) Note("(du failed; see ckptfs stats below)");
    Note("ckptfs stats: exact, dedup and compression together");
    if (!Do({self_, "stats", mnt_})) return kExitError;
    auto j = RunStoreOp(mnt_, "stats", nullptr);
    if (!j.ok()) return Fail(j.status().WithContext("demo"));
    uint64_t logical = j->value("logical_bytes", uint64_t{0});
    uint64_t stored = j->value("stored_bytes", uint64_t{0});
    double ratio = stored ? static_cast<double>(logical) / static_cast<double>(stored) : 1.0;
    char line[256];
    std::snprintf(line, sizeof line, "logical %s, stored %s: the store is %.2fx smaller", HumanSize(logical).c_str(),
                  HumanSize(stored).c_str(), ratio);
    std::printf("\n    %s\n", line);
    if (ratio >= kTargetRatio) {
      std::printf("    ratio %.2fx >= %.1fx target: OK (graph repeats model, model_final repeats "
                  "model_0000019, model_best repeats one iteration; zstd on byte planes does the rest)\n",
                  ratio, kTargetRatio);
    } else {
      std::printf("    WARNING: ratio %.2fx is BELOW the %.1fx target\n", ratio, kTargetRatio);
    }
    ratio_ = ratio;
    if (Interrupted()) return kExitError;

    // 5. resume
    Step(5, "resume from last_checkpoint");
    Note("ckptfs-train --resume with the same schedule (--iters " + std::to_string(kIters) +
         "): it loads " + ReadSmallFile(run_ + "/last_checkpoint") +
         " (every file parsed and CRC-checked), finds the schedule complete and stops, so no "
         "model_XXXXXXX directory is added");
    auto resume = TrainArgs();
    resume.push_back("--resume");
    std::string out;
    if (!Do(resume, &out)) return kExitError;
    if (Interrupted()) return kExitError;
    const std::string want = "start_iter " + std::to_string(kIters);
    if (out.find(want) == std::string::npos) {
      PrintError("demo: the resumed run did not continue after iteration " +
                 std::to_string(kIters - 1) + " (expected `" + want +
                 "` in its output): last_checkpoint was not loaded");
      return kExitError;
    }
    Note("resumed at iteration " + std::to_string(kIters) + ": the checkpoint loaded");
    if (!VerifyTree("after the resume")) return kExitError;
    return kExitOk;
  }

  // After a failed step: if the mount answers ENOTCONN, the daemon died, which
  // is the cause to report (the step's own error only says "not connected").
  void ExplainDeadMount() {
    struct stat st {};
    if (mnt_.empty() || stat(mnt_.c_str(), &st) == 0 || errno != ENOTCONN) return;
    PrintError("demo: the ckptfs daemon serving " + mnt_ +
               " has died (the mount answers `Transport endpoint is not connected`); its log is " +
               store_ + "/daemon.log. The store recovers on the next mount (then run `ckptfs "
               "fsck`).");
  }

  // 6. unmount (also after a failure or a signal).
  int Cleanup() {
    if (mnt_.empty() || !FindMountAt(mnt_)) {
      struct stat st {};
      if (mnt_.empty() || stat(mnt_.c_str(), &st) == 0 || errno != ENOTCONN) return kExitOk;
    }
    Step(6, "unmount");
    // The umount child ignores a second Ctrl-C, so the store is left clean.
    std::vector<std::string> argv = {self_, "umount", mnt_};
    std::printf("$ %s\n", CommandLine(argv).c_str());
    if (RunChild(argv, nullptr, /*ignore_signals=*/true) == 0) return kExitOk;
    argv = {self_, "umount", "--lazy", mnt_};
    std::printf("$ %s\n", CommandLine(argv).c_str());
    if (RunChild(argv, nullptr, true) == 0) return kExitOk;
    PrintError("demo: could not unmount " + mnt_ + "; run `umount -l " + mnt_ + "`");
    return kExitError;
  }

  DemoArgs args_;
  std::string self_, train_, dir_, store_, mnt_, run_;
  double ratio_ = 0;
};

}  // namespace

Runner AddDemo(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand(
      "demo", "Run the main job end to end: mount a new store, train into it, show the savings");
  cmd->add_option("DIR", a->dir,
                  "Directory for the demo (created if missing; must not hold a non-empty "
                  "store/ or mnt/). Default: a fresh $TMPDIR/ckptfs-demo-XXXXXX");
  cmd->add_option("--model-size", a->model_size, "ckptfs-train model: tiny, small or base")
      ->check(CLI::IsMember({"tiny", "small", "base"}))
      ->capture_default_str();
  cmd->footer(
      "Steps: (1) ckptfs init DIR/store, ckptfs mount DIR/store DIR/mnt; (2) ckptfs-train --ranks "
      "4 --iters 20 --period 10 --eval-period 10 into DIR/mnt/output/finetune_qqp; (3) print the "
      "tree and check it holds exactly config.yaml, last_checkpoint, log.txt, log.txt.rank1-3, "
      "metrics.json, model_0000009/, model_0000019/, model_best/, model_final/ (each graph, "
      "lr_scheduler, model); (4) du -sh (apparent and on disk) next to ckptfs stats, and the "
      "logical/stored ratio (target >= 1.8x); (5) resume from last_checkpoint with the same "
      "schedule (loads it, adds nothing); (6) ckptfs umount, leaving the store in DIR/store.\n"
      "Needs /dev/fuse and ckptfs-train next to ckptfs. Exit 0 on success; 1 if a step fails "
      "(the mount is always undone, also on Ctrl-C), or if DIR is not a writable directory or "
      "FUSE is missing (checked before anything is created); 2 on bad usage.");
  return [a]() -> int { return Demo(*a).Run(); };
}

}  // namespace ckptfs::cli
