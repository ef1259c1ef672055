#include "ckpt/checkpointer.h"

#include <torch/nn/module.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "ckpt/checkpoint_dir.h"
#include "ckpt/posix_file.h"
#include "ckpt/torch_zip_reader.h"
#include "ckpt/torch_zip_writer.h"

namespace ckpt {

namespace detail {

struct FilePlan {
  std::string key;
  std::vector<char> pickle;
  size_t first_slot = 0;  // records data/0.. are snapshot slots first_slot..
  size_t slots = 0;
};

// One save, shared by save()'s thread, the writer thread and SaveHandles.
struct SaveJob {
  std::string name;
  std::string tmp_dir;
  bool tag_last = true;
  std::vector<FilePlan> files;
  std::unique_ptr<Snapshot> snapshot;
  // Returned to the Checkpointer's pool by the writer before finish(), so
  // the next save() reuses it instead of allocating a second one.
  std::shared_ptr<StagingArena> arena;
  std::chrono::steady_clock::time_point start;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool finished = false;             // GUARDED_BY(mu)
  std::exception_ptr error;          // GUARDED_BY(mu)
  mutable bool error_reported = false;  // GUARDED_BY(mu)
  SaveStats stats;                   // GUARDED_BY(mu) once running

  void finish(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    error = e;
    stats.total_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cv.notify_all();
  }
  void wait_finished() const {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return finished; });
  }
  // Throws the error unless already reported.
  void rethrow_once() const {
    std::lock_guard<std::mutex> lock(mu);
    if (error && !error_reported) {
      error_reported = true;
      std::rethrow_exception(error);
    }
  }
};

}  // namespace detail

using detail::SaveJob;

void SaveHandle::wait() const {
  if (!job_) return;
  job_->wait_finished();
  job_->rethrow_once();
}

bool SaveHandle::done() const {
  if (!job_) return true;
  std::lock_guard<std::mutex> lock(job_->mu);
  return job_->finished;
}

bool SaveHandle::failed() const {
  if (!job_) return false;
  std::lock_guard<std::mutex> lock(job_->mu);
  return job_->finished && job_->error != nullptr;
}

const std::string& SaveHandle::name() const {
  static const std::string kEmpty;
  return job_ ? job_->name : kEmpty;
}

SaveStats SaveHandle::stats() const {
  if (!job_) return {};
  std::lock_guard<std::mutex> lock(job_->mu);
  return job_->stats;
}

struct Checkpointer::Impl {
  std::shared_ptr<torch::nn::Module> model;
  CheckpointDir dir;
  std::map<std::string, std::shared_ptr<Checkpointable>> checkpointables;
  CheckpointerOptions options;

  // Arenas are reused across saves; one per save in flight.
  std::mutex arena_mu;
  std::vector<std::shared_ptr<StagingArena>> free_arenas;  // GUARDED_BY(arena_mu)

  // Jobs in submission order. The writer thread takes them FIFO, so
  // checkpoints commit (and last_checkpoint advances) in save() order.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<std::shared_ptr<SaveJob>> queue;       // GUARDED_BY(queue_mu), not started
  bool stopping = false;                             // GUARDED_BY(queue_mu)
  std::deque<std::shared_ptr<SaveJob>> in_flight;   // save() thread only
  std::thread writer;

  Impl(std::shared_ptr<torch::nn::Module> m, std::string save_dir,
       std::map<std::string, std::shared_ptr<Checkpointable>> c, CheckpointerOptions o)
      : model(std::move(m)), dir(std::move(save_dir)), checkpointables(std::move(c)),
        options(std::move(o)) {}

  void log(const std::string& line) const {
    if (options.log) options.log(line);
    else std::cerr << "[ckpt] " << line << std::endl;
  }

  std::shared_ptr<StagingArena> take_arena() {
    std::lock_guard<std::mutex> lock(arena_mu);
    if (free_arenas.empty()) return std::make_shared<StagingArena>();
    auto a = free_arenas.back();
    free_arenas.pop_back();
    return a;
  }
  void give_arena(std::shared_ptr<StagingArena> a) {
    std::lock_guard<std::mutex> lock(arena_mu);
    free_arenas.push_back(std::move(a));
  }

  void writer_loop() {
    for (;;) {
      std::shared_ptr<SaveJob> job;
      {
        std::unique_lock<std::mutex> lock(queue_mu);
        queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        job = queue.front();
        queue.pop_front();
      }
      run(*job);
    }
  }

  void write_file(SaveJob& job, const detail::FilePlan& f) {
    const std::string path = join_path(job.tmp_dir, f.key);
    UniqueFd fd = open_for_create(path);
    TorchZipWriter w(fd.get(), path);
    w.write_pickle(f.pickle);
    for (size_t k = 0; k < f.slots; ++k) {
      const size_t slot = f.first_slot + k;
      w.write_tensor(k, job.snapshot->acquire(slot));
      job.snapshot->release(slot);
    }
    w.finish();
    fsync_fd(fd.get(), path);
    fd.close_or_throw(path);
  }

  void run(SaveJob& job) {
    std::exception_ptr error;
    try {
      for (const auto& f : job.files) write_file(job, f);
      dir.commit(job.tmp_dir, job.name);
      if (job.tag_last) dir.tag_last_checkpoint(job.name);
    } catch (...) {
      error = std::current_exception();
      job.snapshot->abort(error);
      dir.abandon(job.tmp_dir);
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log("saving " + dir.entry(job.name) + " failed: " + e.what());
      }
    }
    give_arena(std::move(job.arena));
    if (!error) log("saved checkpoint " + dir.entry(job.name));
    job.finish(error);
  }

  void start_writer() {
    if (!writer.joinable()) writer = std::thread([this] { writer_loop(); });
  }

  // Drops finished jobs from in_flight; throws the first unreported error.
  void reap(bool throw_errors) {
    while (!in_flight.empty()) {
      auto& j = in_flight.front();
      {
        std::lock_guard<std::mutex> lock(j->mu);
        if (!j->finished) break;
      }
      auto job = j;
      in_flight.pop_front();
      if (throw_errors) job->rethrow_once();
    }
  }
};

Checkpointer::Checkpointer(std::shared_ptr<torch::nn::Module> model, std::string save_dir,
                           std::map<std::string, std::shared_ptr<Checkpointable>> checkpointables,
                           CheckpointerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(save_dir),
                                   std::move(checkpointables), std::move(options))) {
  if (!impl_->model) throw std::invalid_argument("ckpt: Checkpointer needs a model");
  for (const auto& [key, c] : impl_->checkpointables) {
    CheckpointDir::check_name(key);
    if (key == "model") throw std::invalid_argument("ckpt: checkpointable key 'model' is reserved");
    if (!c) throw std::invalid_argument("ckpt: checkpointable '" + key + "' is null");
  }
  if (impl_->options.max_in_flight < 1) impl_->options.max_in_flight = 1;
  if (impl_->options.clean_stale) {
    size_t n = impl_->dir.clean_stale();
    if (n > 0) log("removed " + std::to_string(n) + " stale temporary entries in " + impl_->dir.path());
  }
}

Checkpointer::~Checkpointer() {
  for (auto& job : impl_->in_flight) {
    job->wait_finished();
  }
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

SaveHandle Checkpointer::save(const std::string& name,
                              const std::map<std::string, c10::IValue>& extra) {
  Impl& m = *impl_;
  const auto start = std::chrono::steady_clock::now();
  CheckpointDir::check_name(name);
  // Bound the saves in flight (they hold staging memory).
  while (static_cast<int>(m.in_flight.size()) >= m.options.max_in_flight) {
    m.in_flight.front()->wait_finished();
    m.reap(/*throw_errors=*/true);
  }
  m.reap(/*throw_errors=*/true);

  auto job = std::make_shared<SaveJob>();
  job->name = name;
  job->tag_last = name != "model_best";
  job->start = start;

  // Collect the state (live tensors) and pickle it; pickles hold metadata only.
  std::vector<std::pair<std::string, c10::IValue>> values;
  values.emplace_back("model", module_state_dict(*m.model));
  for (const auto& [key, c] : m.checkpointables) values.emplace_back(key, c->state_dict());
  for (const auto& [key, v] : extra) {
    if (key == "iteration") continue;
    CheckpointDir::check_name(key);
    if (key == "model" || m.checkpointables.count(key))
      throw std::invalid_argument("ckpt: extra key '" + key + "' collides with a checkpointable");
    values.emplace_back(key, v);
  }
  std::vector<at::Tensor> sources;
  for (auto& [key, v] : values) {
    PickledValue p = pickle_value(v);
    detail::FilePlan f;
    f.key = key;
    f.pickle = std::move(p.pickle);
    f.first_slot = sources.size();
    f.slots = p.sources.size();
    for (auto& t : p.sources) sources.push_back(std::move(t));
    job->files.push_back(std::move(f));
  }
  values.clear();

  m.dir.ensure_exists();
  job->tmp_dir = m.dir.begin(name);
  log("saving checkpoint to " + m.dir.entry(name));

  StagingOptions so;
  so.budget_bytes = m.options.staging_budget;
  so.zero_copy_cpu = !m.options.async;
  so.wait_for_device_copies = m.options.wait_for_device_copies;
  job->arena = m.take_arena();
  job->snapshot = std::make_unique<Snapshot>(std::move(sources), job->arena, so);
  job->stats.bytes = job->snapshot->total_bytes();
  job->stats.rounds = job->snapshot->rounds();
  job->stats.staged_peak_bytes = job->snapshot->peak_round_bytes();

  m.start_writer();
  {
    std::lock_guard<std::mutex> lock(m.queue_mu);
    m.queue.push_back(job);
  }
  m.queue_cv.notify_all();
  m.in_flight.push_back(job);

  try {
    job->snapshot->stage_all();
  } catch (...) {
    // The writer aborted mid-snapshot; its error is the one to report.
    job->wait_finished();
    m.reap(false);
    job->rethrow_once();
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(job->mu);
    job->stats.blocked_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  SaveHandle handle(job);
  if (!m.options.async) {
    job->wait_finished();
    m.reap(false);
    handle.wait();
  }
  return handle;
}

void Checkpointer::wait() {
  Impl& m = *impl_;
  std::exception_ptr first;
  for (auto& job : m.in_flight) {
    job->wait_finished();
    try {
      job->rethrow_once();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  m.in_flight.clear();
  if (first) std::rethrow_exception(first);
}

LoadResult Checkpointer::load(const std::string& path,
                              const std::optional<std::vector<std::string>>& which) {
  Impl& m = *impl_;
  LoadResult result;
  if (path.empty()) {
    log("no checkpoint found; initializing the model from scratch");
    return result;
  }
  if (!is_directory(path))
    throw CheckpointError(path, "not a checkpoint directory", path_exists(path) ? ENOTDIR : ENOENT);
  log("loading checkpoint from " + path);

  // Parse every file first: a corrupt file fails the load before anything
  // in the model or the checkpointables changed.
  std::map<std::string, c10::IValue> data;
  for (const auto& key : list_directory(path)) {
    if (key.empty() || key[0] == '.') continue;
    data.emplace(key, load_torch_zip(join_path(path, key)));
  }
  auto model_it = data.find("model");
  if (model_it == data.end())
    throw CheckpointError(join_path(path, "model"), "checkpoint has no model file", ENOENT);

  std::vector<std::string> keys;
  if (which) keys = *which;
  else for (const auto& kv : m.checkpointables) keys.push_back(kv.first);
  for (const auto& key : keys)
    if (!m.checkpointables.count(key))
      throw std::invalid_argument("ckpt: no checkpointable named '" + key + "'");

  try {
    result.incompatible = load_module_state_dict(*m.model, model_it->second);
  } catch (const std::exception& e) {
    throw CheckpointError(join_path(path, "model"), e.what());
  }
  data.erase(model_it);
  if (!result.incompatible.empty()) log(result.incompatible.describe());

  for (const auto& key : keys) {
    auto it = data.find(key);
    if (it == data.end()) {
      log("checkpoint " + path + " has no '" + key + "'; not loaded");
      continue;
    }
    try {
      m.checkpointables.at(key)->load_state_dict(it->second);
    } catch (const CheckpointError&) {
      throw;
    } catch (const std::exception& e) {
      throw CheckpointError(join_path(path, key), e.what());
    }
    data.erase(it);
  }
  // Files not consumed (extra values, checkpointables not requested) are
  // returned, like fvcore's load().
  result.extra = std::move(data);
  const std::string base = base_name(path);
  auto us = base.rfind('_');
  if (us != std::string::npos && us + 1 < base.size() &&
      base.find_first_not_of("0123456789", us + 1) == std::string::npos &&
      !result.extra.count("iteration"))
    result.extra["iteration"] = static_cast<int64_t>(std::stoll(base.substr(us + 1)));
  return result;
}

LoadResult Checkpointer::resume_or_load(const std::string& path, bool resume) {
  if (resume && has_checkpoint()) return load(get_checkpoint_file());
  return load(path, std::vector<std::string>{});
}

bool Checkpointer::has_checkpoint() const { return impl_->dir.last_checkpoint().has_value(); }

std::string Checkpointer::get_checkpoint_file() const {
  auto last = impl_->dir.last_checkpoint();
  return last ? impl_->dir.entry(*last) : std::string();
}

std::vector<std::string> Checkpointer::get_all_checkpoint_files() const {
  std::vector<std::string> out;
  for (const auto& n : impl_->dir.checkpoint_names()) out.push_back(impl_->dir.entry(n));
  return out;
}

void Checkpointer::tag_last_checkpoint(const std::string& name) {
  impl_->dir.tag_last_checkpoint(name);
}

const std::string& Checkpointer::save_dir() const { return impl_->dir.path(); }

void Checkpointer::log(const std::string& line) const { impl_->log(line); }

}  // namespace ckpt
