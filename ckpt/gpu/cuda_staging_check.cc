// CUDA staging check (run by run_cuda_check.sh on a machine with a GPU).
//
// For each staging configuration (one round / many rounds; save() waiting
// for the D2H copies / only ordering the compute stream after them):
//   1. train a CUDA model with Adam for a few steps;
//   2. clone the expected state to the CPU;
//   3. save() asynchronously, then immediately queue in-place updates of
//      every parameter and Adam buffer on the compute stream (what the next
//      optimizer step does), without any synchronization by the caller;
//   4. wait(), load the files with the ckpt reader, compare bit for bit with
//      the clones of step 2.
// Also checks the staged files record location "cpu" and that Python-side
// expectations (dtype/shape) hold, and prints save() stall times.
#include <torch/torch.h>

#include <chrono>
#include <iostream>

#include "ckpt/checkpointer.h"
#include "ckpt/optimizer_state.h"
#include "ckpt/posix_file.h"
#include "ckpt/torch_zip_reader.h"

namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::cerr << "FAIL: " << what << std::endl;
  }
}

void run(size_t budget, bool wait_for_copies) {
  const std::string dir = ckpt::make_temp_directory("/tmp", "ckpt_cuda-");
  torch::Device cuda(torch::kCUDA, 0);
  torch::manual_seed(0);
  auto model = std::make_shared<torch::nn::SequentialImpl>(
      torch::nn::Linear(1024, 4096), torch::nn::ReLU(), torch::nn::Linear(4096, 1024));
  model->to(cuda);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  for (int i = 0; i < 3; ++i) {
    auto loss = model->forward(torch::randn({64, 1024}, cuda)).pow(2).mean();
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  std::map<std::string, at::Tensor> expected;
  for (const auto& kv : model->named_parameters()) expected[kv.key()] = kv.value().detach().cpu();
  std::vector<at::Tensor> exp_avg;
  for (const auto& p : model->parameters())
    exp_avg.push_back(static_cast<torch::optim::AdamParamState&>(
                          *adam.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())))
                          .exp_avg()
                          .cpu());

  ckpt::CheckpointerOptions o;
  o.staging_budget = budget;
  o.wait_for_device_copies = wait_for_copies;
  ckpt::Checkpointer ck(model, dir, {{"optimizer", std::make_shared<ckpt::OptimizerCheckpointable>(adam)}}, o);
  auto t0 = std::chrono::steady_clock::now();
  ckpt::SaveHandle h = ck.save("model_0000002");
  double blocked = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    // Mutate right away, many times, on the compute stream.
    torch::NoGradGuard ng;
    for (int k = 0; k < 50; ++k)
      for (auto& p : model->parameters()) p.mul_(1.0001).add_(1.0);
    for (auto& [key, st] : adam.state())
      static_cast<torch::optim::AdamParamState&>(*st).exp_avg().add_(7.0);
  }
  h.wait();
  auto sd = ckpt::load_torch_zip(dir + "/model_0000002/model").toGenericDict();
  for (const auto& [k, v] : expected) {
    auto got = sd.at(k).toTensor();
    check(got.device().is_cpu(), k + " not loaded on CPU");
    check(torch::equal(got, v), "model " + k + " differs from the snapshot (budget " +
                                    std::to_string(budget) + ", wait " + std::to_string(wait_for_copies) + ")");
  }
  auto opt = ckpt::load_torch_zip(dir + "/model_0000002/optimizer").toGenericDict();
  auto state = opt.at("state").toGenericDict();
  for (size_t i = 0; i < exp_avg.size(); ++i)
    check(torch::equal(state.at(static_cast<int64_t>(i)).toGenericDict().at("exp_avg").toTensor(), exp_avg[i]),
          "exp_avg " + std::to_string(i) + " differs from the snapshot");
  std::cout << "budget=" << (budget == ckpt::kUnlimitedBudget ? std::string("unlimited") : std::to_string(budget))
            << " wait_for_device_copies=" << wait_for_copies << " rounds=" << h.stats().rounds
            << " blocked=" << blocked * 1e3 << "ms bytes=" << h.stats().bytes << std::endl;
  ckpt::remove_tree(dir);
}

}  // namespace

int main() {
  try {
    if (!torch::cuda::is_available()) {
      std::cerr << "FAIL: no CUDA device available to libtorch" << std::endl;
      return 1;
    }
    for (bool wait : {true, false})
      for (size_t budget : {ckpt::kUnlimitedBudget, size_t{8} << 20}) run(budget, wait);
  } catch (const std::exception& e) {
    std::cerr << "FAIL: " << e.what() << std::endl;
    return 1;
  }
  std::cout << (failures ? "FAILED" : "PASSED") << std::endl;
  return failures ? 1 : 0;
}
