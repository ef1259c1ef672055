// ckpt-bench: what a save costs the training loop, against torch::save.
//
// State: a stack of Linear layers plus Adam state (exp_avg, exp_avg_sq),
// --size-mb in total (default 1024). For each method, --runs runs, medians:
//   ckpt async   time save() blocks; time until committed (wait())
//   ckpt sync    save() with async=false (returns committed)
//   torch::save  of the same tensors (std::vector<Tensor>), then fsync
//   pickle_save  torch::pickle_save of the state dict, written + fsynced
//   memcpy floor one parallel memcpy of the state (what a snapshot of CPU
//                tensors cannot beat)
// and the peak extra RSS of each (VmHWM after resetting it via clear_refs)
// next to the staging budget. Ratios are against torch::save's call time.
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "ckpt/checkpointer.h"
#include "ckpt/optimizer_state.h"
#include "ckpt/posix_file.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  return -1;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Sample { double blocked = 0, durable = 0, peak_mb = 0; };

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

template <typename F>
Sample measure(F f, long base = -1) {
  reset_peak_rss();
  if (base < 0) base = status_kb("VmRSS:");
  Sample s = f();
  s.peak_mb = (status_kb("VmHWM:") - base) / 1024.0;
  return s;
}

void fsync_file(const std::string& path) {
  ckpt::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ckpt::fsync_fd(fd.get(), path);
}

size_t parse_mb(const std::string& s) { return s == "unlimited" ? ckpt::kUnlimitedBudget : std::stoull(s) << 20; }

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/ckpt_bench";
  size_t size_mb = 1024;
  int runs = 3;
  int threads = 2;  // staging copies use ATen's intra-op threads
  std::vector<std::string> budgets = {"unlimited"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::cerr << "ckpt-bench: " << a << " needs a value\n"; std::exit(2); }
      return argv[++i];
    };
    if (a == "--dir") dir = next();
    else if (a == "--size-mb") size_mb = std::stoull(next());
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--budget-mb") budgets.push_back(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--help") {
      std::cout << "usage: ckpt-bench [--dir DIR] [--size-mb N] [--runs N] [--budget-mb N]... [--threads N]\n";
      return 0;
    } else { std::cerr << "ckpt-bench: unknown option " << a << "\n"; return 2; }
  }
  try {
    at::set_num_threads(threads);
    ckpt::make_directories(dir);
    // Model bytes = size/3 (Adam keeps two more copies).
    const int64_t width = 2048;
    const int64_t layer_bytes = width * width * 4;
    const int64_t layers = std::max<int64_t>(1, (int64_t(size_mb) << 20) / 3 / layer_bytes);
    auto model = std::make_shared<torch::nn::SequentialImpl>();
    for (int64_t i = 0; i < layers; ++i) model->push_back(torch::nn::Linear(torch::nn::LinearOptions(width, width).bias(false)));
    torch::optim::Adam adam(model->parameters());
    for (auto& p : model->parameters()) p.mutable_grad() = torch::randn_like(p);
    adam.step();
    auto opt_state = std::make_shared<ckpt::OptimizerCheckpointable>(adam);
    std::vector<at::Tensor> all;
    for (auto& p : model->parameters()) all.push_back(p.detach());
    for (auto& [k, s] : adam.state()) {
      auto& st = static_cast<torch::optim::AdamParamState&>(*s);
      all.push_back(st.exp_avg());
      all.push_back(st.exp_avg_sq());
    }
    double total = 0;
    for (auto& t : all) total += t.numel() * t.element_size();
    std::printf("state: %lld layers, %.0f MiB (model + Adam), dir %s, %d runs, medians\n",
                (long long)layers, total / (1 << 20), dir.c_str(), runs);

    std::printf("%-26s %12s %12s %14s %12s %10s\n", "method", "blocks (s)", "durable (s)",
                "peak +RSS MiB", "budget MiB", "blk/tsave");
    auto row = [&](const std::string& name, std::vector<Sample> s, const std::string& budget, double tsave) {
      std::vector<double> b, d, m;
      for (auto& x : s) { b.push_back(x.blocked); d.push_back(x.durable); m.push_back(x.peak_mb); }
      std::printf("%-26s %12.3f %12.3f %14.0f %12s %10.3f\n", name.c_str(), median(b), median(d),
                  *std::max_element(m.begin(), m.end()), budget.c_str(), tsave > 0 ? median(b) / tsave : 1.0);
      std::fflush(stdout);
      return median(b);
    };

    // Baseline first: torch::save of the same tensors (call time, then fsync).
    std::vector<Sample> ts;
    for (int r = 0; r < runs; ++r) {
      std::string path = dir + "/torch_save.pt";
      ckpt::remove_tree(path);
      ts.push_back(measure([&] {
        Sample s;
        auto t = Clock::now();
        torch::save(all, path);
        s.blocked = since(t);
        fsync_file(path);
        s.durable = since(t);
        return s;
      }));
    }
    double tsave = row("torch::save (sync)", ts, "-", 0);

    std::vector<Sample> ps;
    for (int r = 0; r < runs; ++r) {
      std::string path = dir + "/pickle_save.pt";
      ckpt::remove_tree(path);
      ps.push_back(measure([&] {
        Sample s;
        auto t = Clock::now();
        c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
        for (size_t i = 0; i < all.size(); ++i) d.insert(std::to_string(i), all[i]);
        std::vector<char> bytes = torch::pickle_save(d);
        ckpt::UniqueFd fd = ckpt::open_for_create(path);
        ckpt::write_all(fd.get(), bytes.data(), bytes.size(), path);
        s.blocked = since(t);
        ckpt::fsync_fd(fd.get(), path);
        s.durable = since(t);
        return s;
      }));
    }
    row("torch::pickle_save (sync)", ps, "-", tsave);

    // The floor for any save() that snapshots CPU tensors: one parallel
    // memcpy of the state into memory that is already faulted in.
    {
      std::vector<uint8_t> dst(static_cast<size_t>(total), 1);
      std::vector<Sample> fs;
      for (int r = 0; r < runs; ++r) {
        Sample s;
        auto t = Clock::now();
        std::vector<std::thread> pool;
        for (int w = 0; w < threads; ++w) {
          pool.emplace_back([&, w] {
            size_t at = 0;
            const size_t lo = size_t(total) * w / threads, hi = size_t(total) * (w + 1) / threads;
            for (auto& x : all) {
              const size_t n = x.numel() * x.element_size();
              const size_t a = std::max(lo, at), b = std::min(hi, at + n);
              if (a < b) std::memcpy(dst.data() + a, static_cast<const uint8_t*>(x.data_ptr()) + (a - at), b - a);
              at += n;
            }
          });
        }
        for (auto& th : pool) th.join();
        s.blocked = s.durable = since(t);
        fs.push_back(s);
      }
      row("memcpy floor (" + std::to_string(threads) + " threads)", fs, "-", tsave);
    }

    for (bool async : {false, true}) {
      for (const auto& budget : budgets) {
        if (!async && budget != "unlimited") continue;
        ckpt::CheckpointerOptions o;
        o.async = async;
        o.staging_budget = parse_mb(budget);
        o.log = [](const std::string&) {};
        std::string root = dir + "/ckpt_" + (async ? "async_" : "sync_") + budget;
        ckpt::remove_tree(root);
        std::vector<Sample> cs;
        const long before = status_kb("VmRSS:");  // the staging arena counts as extra
        {
          ckpt::Checkpointer ck(model, root, {{"optimizer", opt_state}}, o);
          for (int r = 0; r < runs + 1; ++r) {  // first run allocates the arena
            Sample s = measure([&] {
              Sample s;
              auto t = Clock::now();
              ckpt::SaveHandle h = ck.save("model_" + std::to_string(r));
              s.blocked = since(t);
              h.wait();
              s.durable = since(t);
              return s;
            }, before);
            if (r > 0 || runs == 1) cs.push_back(s);
            ckpt::remove_tree(root + "/model_" + std::to_string(r));
          }
        }
        row(std::string("ckpt ") + (async ? "async" : "sync") + (budget == "unlimited" ? "" : " budget=" + budget + "M"),
            cs, async ? (budget == "unlimited" ? "state" : budget) : "0", tsave);
      }
    }
    ckpt::remove_tree(dir + "/torch_save.pt");
    ckpt::remove_tree(dir + "/pickle_save.pt");
  } catch (const c10::Error& e) {
    std::cerr << "ckpt-bench: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ckpt-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
