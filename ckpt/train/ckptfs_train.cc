// ckptfs-train: a small, deterministic libtorch training run that writes a
// LiBai-style run directory through the checkpointer. It is both an example
// of the ckpt API and the workload of the end-to-end tests (resume
// bit-exactness, kill -9 during saves, Python interop).
//
// Model: a character-level MLP language model over the texts in
// /usr/share/common-licenses (bytes as tokens): embed a context window,
// two hidden layers, predict the next byte. Same seed => same losses,
// bit for bit, with --threads 1 (default).
//
// Run tree (--output DIR): config.yaml, log.txt, log.txt.rank1.., metrics.json,
// last_checkpoint, model_XXXXXXX/{model,graph,lr_scheduler}, model_best/, model_final/.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>

#include "ckpt/best_checkpointer.h"
#include "ckpt/checkpointer.h"
#include "ckpt/lr_scheduler.h"
#include "ckpt/optimizer_state.h"
#include "ckpt/periodic_checkpointer.h"
#include "ckpt/posix_file.h"

namespace {

struct Config {
  std::string output;
  int64_t iters = 100;
  int64_t period = 10;
  int64_t eval_period = 0;  // 0: = period
  bool resume = false;
  int ranks = 4;
  std::string model_size = "small";
  int64_t hidden = 0;  // 0: from model_size
  int64_t context = 0, embed = 0, batch = 0;
  uint64_t seed = 42;
  bool sync = false;
  std::string staging_budget = "unlimited";
  int threads = 1;
  std::optional<size_t> max_to_keep;
  std::string data_dir = "/usr/share/common-licenses";
  double lr = 1e-3;
  int64_t stop_after = 0;  // 0: run to --iters
};

struct CharMLPImpl : torch::nn::Module {
  CharMLPImpl(int64_t context, int64_t embed, int64_t hidden) {
    emb = register_module("emb", torch::nn::Embedding(256, embed));
    fc1 = register_module("fc1", torch::nn::Linear(context * embed, hidden));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, hidden));
    head = register_module("head", torch::nn::Linear(hidden, 256));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = emb->forward(x).flatten(1);
    h = torch::gelu(norm->forward(fc1->forward(h)));
    h = torch::gelu(fc2->forward(h));
    return head->forward(h);
  }
  torch::nn::Embedding emb{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, head{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(CharMLP);

// LiBai's graph mode keeps the model, the optimizer state and the train
// step together in one "graph" state.
class GraphState final : public ckpt::Checkpointable {
 public:
  GraphState(std::shared_ptr<torch::nn::Module> model, torch::optim::Optimizer& opt, int64_t& step)
      : model_(std::move(model)), opt_(opt), step_(step) {}
  c10::IValue state_dict() const override {
    c10::impl::GenericDict d(c10::AnyType::get(), c10::AnyType::get());
    d.insert("model", ckpt::module_state_dict(*model_));
    d.insert("optimizer", opt_.state_dict());
    d.insert("step", step_);
    return d;
  }
  void load_state_dict(const c10::IValue& v) override {
    if (!v.isGenericDict()) throw std::invalid_argument("graph state is not a dict");
    auto d = v.toGenericDict();
    for (const char* key : {"model", "optimizer", "step"})
      if (d.find(key) == d.end()) throw std::invalid_argument(std::string("missing key '") + key + "'");
    ckpt::ModuleCheckpointable(model_).load_state_dict(d.at("model"));
    opt_.load_state_dict(d.at("optimizer"));
    if (!d.at("step").isInt()) throw std::invalid_argument("'step' is not an integer");
    step_ = d.at("step").toInt();
  }

 private:
  std::shared_ptr<torch::nn::Module> model_;
  ckpt::OptimizerCheckpointable opt_;
  int64_t& step_;
};

size_t parse_size(const std::string& s) {
  if (s == "unlimited" || s == "inf" || s == "0") return ckpt::kUnlimitedBudget;
  size_t pos = 0;
  double v = std::stod(s, &pos);
  std::string suffix = s.substr(pos);
  double mul = 1;
  if (suffix == "K" || suffix == "KiB" || suffix == "k") mul = 1024.0;
  else if (suffix == "M" || suffix == "MiB") mul = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "GiB") mul = 1024.0 * 1024 * 1024;
  else if (!suffix.empty() && suffix != "B") throw std::invalid_argument("bad size suffix");
  if (v <= 0) throw std::invalid_argument("size must be positive");
  return static_cast<size_t>(v * mul);
}

std::string read_corpus(const std::string& dir) {
  std::string text;
  for (const auto& name : ckpt::list_directory(dir)) {
    std::string path = ckpt::join_path(dir, name);
    if (!ckpt::is_directory(path)) {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw ckpt::CheckpointError(path, "cannot read training text", errno);
      text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (text.size() < 4096) throw ckpt::CheckpointError(dir, "not enough training text");
  return text;
}

// Deterministic batch for (seed, step): resume needs no RNG state.
std::pair<torch::Tensor, torch::Tensor> make_batch(const std::string& text, size_t lo, size_t hi,
                                                   int64_t context, int64_t batch, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(lo, hi - context - 2);
  auto x = torch::empty({batch, context}, torch::kLong);
  auto y = torch::empty({batch}, torch::kLong);
  auto xa = x.accessor<int64_t, 2>();
  auto ya = y.accessor<int64_t, 1>();
  for (int64_t b = 0; b < batch; ++b) {
    size_t p = pick(rng);
    for (int64_t c = 0; c < context; ++c) xa[b][c] = static_cast<unsigned char>(text[p + c]);
    ya[b] = static_cast<unsigned char>(text[p + context]);
  }
  return {x, y};
}

// log.txt for rank 0 and log.txt.rank<N> for the others (LiBai layout).
class RunLogs {
 public:
  RunLogs(const std::string& dir, int ranks) {
    for (int r = 0; r < ranks; ++r) {
      std::string path = ckpt::join_path(dir, r == 0 ? "log.txt" : "log.txt.rank" + std::to_string(r));
      files_.emplace_back(path, std::ios::app);
      if (!files_.back()) throw ckpt::CheckpointError(path, "cannot open log", errno);
    }
    metrics_.open(ckpt::join_path(dir, "metrics.json"), std::ios::app);
    if (!metrics_) throw ckpt::CheckpointError(ckpt::join_path(dir, "metrics.json"), "cannot open", errno);
  }
  void rank0(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    files_[0] << line << std::endl;
  }
  void all_ranks(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t r = 0; r < files_.size(); ++r) files_[r] << "[rank " << r << "] " << line << std::endl;
  }
  void metrics(const std::string& json) {
    std::lock_guard<std::mutex> lock(mu_);
    metrics_ << json << std::endl;
  }

 private:
  std::mutex mu_;
  std::vector<std::ofstream> files_;
  std::ofstream metrics_;
};

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

void write_config(const Config& c, const std::string& path, int64_t hidden) {
  std::ostringstream y;
  y << "# ckptfs-train run configuration\n"
    << "train:\n  output_dir: \"" << c.output << "\"\n  train_iter: " << c.iters
    << "\n  checkpointer:\n    period: " << c.period << "\n    max_to_keep: "
    << (c.max_to_keep ? std::to_string(*c.max_to_keep) : "null") << "\n  eval_period: "
    << (c.eval_period > 0 ? c.eval_period : c.period) << "\n  seed: " << c.seed
    << "\n  train_micro_batch_size: " << c.batch << "\n  async_checkpoint: " << (c.sync ? "false" : "true")
    << "\n  staging_budget: \"" << c.staging_budget << "\"\n  threads: " << c.threads
    << "\nmodel:\n  type: CharMLP\n  size: " << c.model_size << "\n  context: " << c.context
    << "\n  embed: " << c.embed << "\n  hidden: " << hidden
    << "\noptim:\n  type: AdamW\n  lr: " << c.lr << "\n  weight_decay: 0.01\n"
    << "scheduler:\n  type: WarmupCosineLR\n  warmup_factor: 0.001\n  alpha: 0.01\n"
    << "dataset:\n  path: \"" << c.data_dir << "\"\n";
  ckpt::write_file_atomically(path, y.str());
}

int train(Config c) {
  struct Preset { int64_t context, embed, hidden, batch; };
  Preset p = c.model_size == "tiny"  ? Preset{16, 16, 64, 16}
             : c.model_size == "base" ? Preset{64, 64, 3072, 16}
                                      : Preset{32, 32, 512, 32};
  if (c.hidden > 0) p.hidden = c.hidden;
  c.context = p.context;
  c.embed = p.embed;
  c.batch = p.batch;
  const int64_t eval_period = c.eval_period > 0 ? c.eval_period : c.period;

  at::set_num_threads(c.threads);
  torch::manual_seed(c.seed);
  const std::string text = read_corpus(c.data_dir);
  const size_t split = text.size() * 9 / 10;

  ckpt::make_directories(c.output);
  const std::string config_path = ckpt::join_path(c.output, "config.yaml");
  if (!c.resume || !ckpt::path_exists(config_path)) write_config(c, config_path, p.hidden);
  RunLogs logs(c.output, c.ranks);

  auto model = CharMLP(p.context, p.embed, p.hidden);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(c.lr).weight_decay(0.01));
  auto sched = std::make_shared<ckpt::WarmupCosineLR>(opt, c.iters, 0.001,
                                                      std::max<int64_t>(1, c.iters / 10), 0.01);
  int64_t step = -1;  // last completed iteration
  auto graph = std::make_shared<GraphState>(model.ptr(), opt, step);

  std::mutex out_mu;
  ckpt::CheckpointerOptions opts;
  opts.async = !c.sync;
  opts.staging_budget = parse_size(c.staging_budget);
  opts.log = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout << "[ckpt] " << line << std::endl;
    logs.rank0("[ckpt] " + line);
  };
  ckpt::Checkpointer checkpointer(model.ptr(), c.output,
                                  {{"graph", graph}, {"lr_scheduler", sched}}, opts);
  ckpt::PeriodicCheckpointer periodic(checkpointer, c.period, c.iters, c.max_to_keep);
  ckpt::BestCheckpointer best(eval_period, checkpointer, "eval_loss", ckpt::BestCheckpointer::Mode::kMin);

  int64_t start_iter = 0;
  if (c.resume) {
    checkpointer.resume_or_load("", true);
    if (step >= 0) start_iter = step + 1;
  }
  {
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout << "start_iter " << start_iter << " params " << [&] {
      int64_t n = 0;
      for (const auto& t : model->parameters()) n += t.numel();
      return n;
    }() << std::endl;
  }
  logs.all_ranks(fmt("start training from iteration %lld", static_cast<long long>(start_iter)));

  auto [ex, ey] = make_batch(text, split, text.size(), p.context, 256, c.seed ^ 0xe7a1);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t end_iter = c.stop_after > 0 ? std::min(c.iters, c.stop_after) : c.iters;
  for (int64_t iter = start_iter; iter < end_iter; ++iter) {
    model->train();
    auto [x, y] = make_batch(text, 0, split, p.context, p.batch, c.seed * 1000003ULL + iter);
    auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    const double lr = sched->last_lr().at(0);
    sched->step();
    step = iter;
    const float lv = loss.item<float>();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> lock(out_mu);
      // %a: exact bits, so tests compare loss curves exactly.
      std::printf("iter %lld loss %.9g (%a) lr %.9g\n", static_cast<long long>(iter), lv, lv, lr);
      std::fflush(stdout);
    }
    logs.all_ranks(fmt("iter: %lld  loss: %.6f  lr: %.6e  time: %.3f", static_cast<long long>(iter), lv, lr, t));
    logs.metrics(fmt("{\"iteration\": %lld, \"loss\": %.9g, \"lr\": %.9g, \"time\": %.6f}",
                     static_cast<long long>(iter), lv, lr, t));

    periodic.step(iter);
    if (best.is_eval_iteration(iter, c.iters)) {
      torch::NoGradGuard ng;
      model->eval();
      double ev = torch::nn::functional::cross_entropy(model->forward(ex), ey).item<double>();
      {
        std::lock_guard<std::mutex> lock(out_mu);
        std::printf("eval %lld eval_loss %.9g\n", static_cast<long long>(iter), ev);
      }
      logs.rank0(fmt("eval iter: %lld eval_loss: %.6f", static_cast<long long>(iter), ev));
      best.step(iter, ev);
    }
  }
  checkpointer.wait();
  std::cout << "done" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"ckptfs-train: deterministic libtorch training that writes a LiBai run tree"};
  // CLI::PositiveNumber's message prints its range as two doubles; a plain
  // integer range reads "Value 0 not in range 1 to ...".
  const auto positive = CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max());
  app.add_option("--output", c.output, "run directory (created)")
      ->required()
      ->check([](const std::string& s) { return s.empty() ? std::string("must not be empty") : ""; });
  app.add_option("--iters", c.iters, "iterations (max_iter)")->check(positive);
  app.add_option("--period", c.period, "checkpoint period")->check(positive);
  app.add_option("--eval-period", c.eval_period, "evaluation period (default: period)")
      ->check(positive);
  app.add_flag("--resume", c.resume, "continue from last_checkpoint");
  app.add_option("--ranks", c.ranks, "number of rank log files")->check(CLI::Range(1, 1024));
  app.add_option("--model-size", c.model_size, "tiny, small or base")
      ->check(CLI::IsMember({"tiny", "small", "base"}));
  app.add_option("--hidden", c.hidden, "hidden width (overrides --model-size)")->check(positive);
  app.add_option("--seed", c.seed, "random seed");
  app.add_flag("--sync", c.sync, "synchronous saves");
  app.add_option("--staging-budget", c.staging_budget, "staging memory, e.g. 64M, 2G, unlimited");
  app.add_option("--threads", c.threads, "intra-op threads (1 = bit-exact)")->check(CLI::Range(1, 1024));
  app.add_option("--max-to-keep", c.max_to_keep, "periodic checkpoints to keep (at least 1)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--data", c.data_dir, "directory of training texts");
  app.add_option("--lr", c.lr, "learning rate (positive)")->check([](const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    return end != s.c_str() && *end == '\0' && std::isfinite(v) && v > 0
               ? std::string()
               : "must be a positive finite number, not " + s;
  });
  app.add_option("--stop-after", c.stop_after,
                 "exit (cleanly) once this many iterations of the run are done, "
                 "as if preempted; --iters still sets the schedule")
      ->check(positive);
  try {
    app.parse(argc, argv);
    parse_size(c.staging_budget);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "ckptfs-train: " << e.what() << " (see ckptfs-train --help)" << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ckptfs-train: invalid --staging-budget '" << c.staging_budget << "'" << std::endl;
    return 2;
  }
  try {
    return train(c);
  } catch (const c10::Error& e) {
    std::cerr << "ckptfs-train: " << e.what_without_backtrace() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "ckptfs-train: " << e.what() << std::endl;
  }
  return 1;
}
