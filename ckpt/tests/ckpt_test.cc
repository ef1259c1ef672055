// Unit and interop tests of ckpt/. Python interop runs Debian's python3
// (CKPT_PYTHON) on tests/python/ckpt_interop_helper.py.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ckpt/best_checkpointer.h"
#include "ckpt/checkpoint_dir.h"
#include "ckpt/checkpointer.h"
#include "ckpt/lr_scheduler.h"
#include "ckpt/optimizer_state.h"
#include "ckpt/periodic_checkpointer.h"
#include "ckpt/posix_file.h"
#include "ckpt/torch_zip_reader.h"
#include "ckpt/torch_zip_writer.h"

namespace ckpt {
namespace {

using Dict = c10::impl::GenericDict;

Dict new_dict() { return Dict(c10::AnyType::get(), c10::AnyType::get()); }

class TempDir {
 public:
  TempDir() { path_ = make_temp_directory("/tmp", "ckpt_test-"); }
  ~TempDir() { remove_tree(path_); }
  std::string operator/(const std::string& n) const { return join_path(path_, n); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int run(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string python(const std::string& args) {
  return std::string(CKPT_PYTHON) + " " + CKPT_SOURCE_DIR + "/tests/python/ckpt_interop_helper.py " + args;
}

std::shared_ptr<torch::nn::Sequential> make_model() {
  return std::make_shared<torch::nn::Sequential>(torch::nn::Linear(3, 4),
                                                 torch::nn::BatchNorm1d(4), torch::nn::Linear(4, 2));
}

void train_steps(torch::nn::Module& m, torch::nn::Sequential& seq, torch::optim::Optimizer& opt,
                 int n, int seed) {
  torch::manual_seed(seed);
  for (int i = 0; i < n; ++i) {
    auto loss = seq->forward(torch::randn({5, 3})).pow(2).sum();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

// Deep equality of two values (tensors: same dtype, shape, bits).
void expect_same(const c10::IValue& a, const c10::IValue& b, const std::string& where) {
  if (a.isTensor() || b.isTensor()) {
    ASSERT_TRUE(a.isTensor() && b.isTensor()) << where;
    const auto& x = a.toTensor();
    const auto& y = b.toTensor();
    ASSERT_EQ(x.scalar_type(), y.scalar_type()) << where;
    ASSERT_EQ(x.sizes(), y.sizes()) << where;
    EXPECT_TRUE(torch::equal(x.cpu(), y.cpu())) << where;
  } else if (a.isGenericDict()) {
    ASSERT_TRUE(b.isGenericDict()) << where;
    auto da = a.toGenericDict(), db = b.toGenericDict();
    ASSERT_EQ(da.size(), db.size()) << where;
    for (const auto& kv : da) {
      auto it = db.find(kv.key());
      ASSERT_TRUE(it != db.end()) << where << " missing key " << kv.key();
      expect_same(kv.value(), it->value(), where + "/" + c10::str(kv.key()));
    }
  } else if (a.isList() || a.isTuple()) {
    auto va = a.isList() ? a.toListRef().vec() : a.toTupleRef().elements().vec();
    ASSERT_TRUE(b.isList() || b.isTuple()) << where;
    auto vb = b.isList() ? b.toListRef().vec() : b.toTupleRef().elements().vec();
    ASSERT_EQ(va.size(), vb.size()) << where;
    for (size_t i = 0; i < va.size(); ++i) expect_same(va[i], vb[i], where + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_EQ(a, b) << where << ": " << a << " vs " << b;
  }
}

std::string json_values(const at::Tensor& t) {
  std::ostringstream o;
  o << "[";
  auto d = t.detach().reshape({-1}).to(at::kDouble).contiguous();
  for (int64_t i = 0; i < d.numel(); ++i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", d.data_ptr<double>()[i]);
    o << (i ? "," : "") << buf;
  }
  o << "]";
  return o.str();
}

std::string json_state_dict(const Dict& d) {
  std::ostringstream o;
  o << "{";
  bool first = true;
  for (const auto& kv : d) {
    o << (first ? "" : ",") << "\"" << kv.key().toStringRef() << "\":" << json_values(kv.value().toTensor());
    first = false;
  }
  o << "}";
  return o.str();
}

// ---------------------------------------------------------------- format

TEST(TorchZip, RoundTripsEveryValueKind) {
  TempDir dir;
  Dict d = new_dict();
  auto base = torch::arange(12, torch::kFloat).reshape({3, 4});
  d.insert("float", base);
  d.insert("transposed", base.t());  // non-contiguous: stored compact
  d.insert("double", torch::randn({2, 2}, torch::kDouble));
  d.insert("half", torch::randn({3}).to(torch::kHalf));
  d.insert("bf16", torch::randn({3}).to(torch::kBFloat16));
  d.insert("long", torch::tensor({1, -2, 3}, torch::kLong));
  d.insert("bool", torch::tensor({true, false}));
  d.insert("scalar", torch::scalar_tensor(5.5));
  d.insert("empty", torch::empty({0, 3}));
  d.insert("int", int64_t{-12345678901});
  d.insert("str", std::string("héllo"));
  d.insert("none", c10::IValue());
  c10::impl::GenericList l(c10::AnyType::get());
  l.push_back(1);
  l.push_back(std::string("x"));
  d.insert("list", l);
  d.insert("tuple", c10::ivalue::Tuple::create({0.5, true}));
  Dict inner(c10::AnyType::get(), c10::AnyType::get());
  inner.insert(int64_t{3}, torch::ones({2}));
  d.insert("nested", inner);
  save_torch_zip(d, dir / "f");
  c10::IValue back = load_torch_zip(dir / "f");
  expect_same(d, back, "root");
}

TEST(TorchZip, PythonLoadsAndResavesIdentically) {
  TempDir dir;
  Dict d = new_dict();
  d.insert("w", torch::randn({17, 5}));
  d.insert("h", torch::randn({4}).to(torch::kHalf));
  d.insert("i", torch::arange(10));
  d.insert("meta", c10::ivalue::Tuple::create({int64_t{1}, 2.5, std::string("s")}));
  save_torch_zip(d, dir / "cpp");
  ASSERT_EQ(run(python("resave " + (dir / "cpp") + " " + (dir / "py"))), 0);
  expect_same(load_torch_zip(dir / "cpp"), load_torch_zip(dir / "py"), "resaved");
}

TEST(TorchZip, WriterNeverSeeksAndStreamsToAPipe) {
  // A pipe cannot seek: if the writer tried, write() would fail with ESPIPE.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(r.get(), buf, sizeof buf)) > 0) got.append(buf, n);
  });
  auto t = torch::randn({1000});
  PickledValue p = pickle_value(t);
  {
    TorchZipWriter zw(w.get(), "pipe");
    zw.write_pickle(p.pickle);
    zw.write_tensor(0, t);
    zw.finish();
  }
  w.close_or_throw("pipe");
  reader.join();
  TempDir dir;
  UniqueFd out = open_for_create(dir / "f");
  write_all(out.get(), got.data(), got.size(), dir / "f");
  out.close_or_throw(dir / "f");
  EXPECT_TRUE(torch::equal(load_torch_zip(dir / "f").toTensor(), t));
}

TEST(TorchZip, WriteErrorNamesFileAndErrno) {
  int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  UniqueFd owner(fd);
  auto t = torch::randn({100000});
  PickledValue p = pickle_value(t);
  TorchZipWriter zw(fd, "/dev/full");
  try {
    zw.write_pickle(p.pickle);
    zw.write_tensor(0, t);
    zw.finish();
    FAIL() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.error_code(), ENOSPC);
    EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
}

TEST(TorchZip, TruncatedAndCorruptFilesAreErrors) {
  TempDir dir;
  save_torch_zip(module_state_dict(**make_model()), dir / "good");
  std::string bytes = read_small_file(dir / "good");
  auto write = [&](const std::string& name, const std::string& data) {
    UniqueFd fd = open_for_create(dir / name);
    write_all(fd.get(), data.data(), data.size(), name);
  };
  write("truncated", bytes.substr(0, bytes.size() / 2));
  // Flip a byte in the middle of a tensor record: the CRC check catches it.
  save_torch_zip(torch::randn({4096}), dir / "big");
  std::string flipped = read_small_file(dir / "big");
  flipped[flipped.size() / 2] ^= 0x5a;
  write("flipped", flipped);
  write("empty", "");
  for (const char* name : {"truncated", "flipped", "empty", "missing"}) {
    try {
      load_torch_zip(dir / name);
      ADD_FAILURE() << name << " loaded";
    } catch (const CheckpointError& e) {
      EXPECT_EQ(e.path(), dir / name);
      EXPECT_NE(std::string(e.what()).find(dir / name), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------- python -> C++

TEST(Interop, CppLoadsPythonStateDicts) {
  TempDir dir;
  ASSERT_EQ(run(python("make_python_state " + dir.path())), 0);
  auto seq = make_model();
  auto keys = load_module_state_dict(**seq, load_torch_zip(dir / "model.pt"));
  EXPECT_TRUE(keys.empty()) << keys.describe();
  auto ddp = make_model();
  keys = load_module_state_dict(**ddp, load_torch_zip(dir / "model_ddp.pt"));  // module. prefix
  EXPECT_TRUE(keys.empty()) << keys.describe();

  // Expected values as Python printed them, parsed without our reader.
  std::string exp = read_small_file(dir / "expected.json");
  auto sd = module_state_dict(**seq);
  for (const auto& kv : sd) {
    std::string json = "\"" + kv.key().toStringRef() + "\": ";
    auto at = exp.find(json);
    ASSERT_NE(at, std::string::npos) << kv.key();
    std::string mine = json_values(kv.value().toTensor());
    // Compare number by number (Python prints with repr, we with %.17g).
    std::istringstream a(exp.substr(at + json.size() + 1)), b(mine.substr(1));
    for (int64_t i = 0; i < kv.value().toTensor().numel(); ++i) {
      double x, y;
      char sep;
      a >> x >> sep;
      b >> y >> sep;
      EXPECT_EQ(x, y) << kv.key() << "[" << i << "]";
    }
  }
  EXPECT_TRUE(torch::equal(sd.at("1.num_batches_tracked").toTensor(), torch::tensor(3)));

  torch::optim::Adam adam((*seq)->parameters());
  OptimizerCheckpointable(adam).load_state_dict(load_torch_zip(dir / "adam.pt"));
  const auto& ao = static_cast<const torch::optim::AdamOptions&>(adam.param_groups()[0].options());
  EXPECT_EQ(ao.lr(), 0.01);
  EXPECT_EQ(std::get<0>(ao.betas()), 0.8);
  EXPECT_TRUE(ao.amsgrad());
  EXPECT_EQ(adam.state().size(), 6u);
  for (const auto& [key, st] : adam.state()) {
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*st);
    EXPECT_EQ(s.step(), 3);
    EXPECT_TRUE(s.max_exp_avg_sq().defined());
  }
  torch::optim::SGD sgd((*seq)->parameters(), 1.0);
  OptimizerCheckpointable(sgd).load_state_dict(load_torch_zip(dir / "sgd.pt"));
  EXPECT_TRUE(static_cast<const torch::optim::SGDOptions&>(sgd.param_groups()[0].options()).nesterov());
  train_steps(**seq, *seq, adam, 1, 1);  // the loaded state is usable

  try {
    load_torch_zip(dir / "legacy.pt");
    FAIL() << "legacy format loaded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("legacy"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- C++ -> python

TEST(Interop, PythonLoadsCheckpointerFiles) {
  TempDir dir;
  torch::manual_seed(3);
  auto seq = make_model();
  torch::optim::Adam adam((*seq)->parameters(),
                          torch::optim::AdamOptions(0.02).betas({0.8, 0.9}).amsgrad(true));
  train_steps(**seq, *seq, adam, 4, 5);
  auto model2 = make_model();
  torch::optim::SGD sgd((*model2)->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
  train_steps(**model2, *model2, sgd, 2, 6);
  auto sched = std::make_shared<StepLR>(adam, 3, 0.5);
  for (int i = 0; i < 4; ++i) sched->step();

  auto extra = std::make_shared<DictCheckpointable>();
  Dict& e = extra->dict();
  e.insert("name", std::string("hello"));
  e.insert("pi", 3.25);
  e.insert("n", int64_t{-7});
  e.insert("flag", true);
  e.insert("none", c10::IValue());
  e.insert("tuple", c10::ivalue::Tuple::create({int64_t{1}, std::string("a")}));
  c10::impl::GenericList l(c10::AnyType::get());
  l.push_back(int64_t{1});
  l.push_back(2.5);
  l.push_back(std::string("x"));
  e.insert("list", l);
  Dict tensors = new_dict();
  auto shared = torch::randn({3});
  tensors.insert("shared_a", shared);
  tensors.insert("shared_b", shared);
  tensors.insert("bf16", torch::randn({2, 3}).to(torch::kBFloat16));
  tensors.insert("int32", torch::tensor({1, 2, 3}, torch::kInt));
  tensors.insert("uint8", torch::tensor({255, 0}, torch::kByte));
  tensors.insert("strided", torch::randn({4, 6}).slice(1, 1, 5, 2));
  e.insert("tensors", tensors);

  Checkpointer ck(seq->ptr(), dir / "ckpt_root",
                  {{"optimizer", std::make_shared<OptimizerCheckpointable>(adam)},
                   {"sgd", std::make_shared<OptimizerCheckpointable>(sgd)},
                   {"lr_scheduler", sched},
                   {"extra", extra}});
  ck.save("model_0000004").wait();
  rename_path(dir / "ckpt_root/model_0000004", dir / "ckpt");

  std::ostringstream j;
  j << "{\"model\":" << json_state_dict(module_state_dict(**seq)) << ",\"optimizer\":{";
  int idx = 0;
  for (const auto& p : (*seq)->parameters()) {
    const auto& s = static_cast<const torch::optim::AdamParamState&>(
        *adam.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())));
    j << (idx ? "," : "") << "\"" << idx << "\":{\"exp_avg\":" << json_values(s.exp_avg())
      << ",\"exp_avg_sq\":" << json_values(s.exp_avg_sq())
      << ",\"max_exp_avg_sq\":" << json_values(s.max_exp_avg_sq())
      << ",\"step\":[" << s.step() << "]}";
    ++idx;
  }
  j << "},\"lr\":" << sched->last_lr()[0] << ",\"last_epoch\":" << sched->last_epoch()
    << ",\"extra_tensors\":{";
  bool first = true;
  for (const auto& kv : tensors) {
    auto t = kv.value().toTensor();
    j << (first ? "" : ",") << "\"" << kv.key().toStringRef() << "\":{\"dtype\":\"torch."
      << (t.scalar_type() == at::kBFloat16 ? "bfloat16"
          : t.scalar_type() == at::kInt    ? "int32"
          : t.scalar_type() == at::kByte   ? "uint8"
                                           : "float32")
      << "\",\"shape\":" << c10::str(t.sizes()) << ",\"values\":" << json_values(t) << "}";
    first = false;
  }
  j << "}}";
  std::string js = j.str();
  {
    UniqueFd fd = open_for_create(dir / "expected.json");
    write_all(fd.get(), js.data(), js.size(), "expected.json");
  }
  ASSERT_EQ(run(python("check_cpp_state " + dir.path())), 0);
}

// ---------------------------------------------------------------- state dicts

TEST(ModelState, ReportsMissingUnexpectedAndShapeMismatch) {
  auto seq = make_model();
  Dict sd = new_dict();
  for (const auto& kv : module_state_dict(**seq)) sd.insert("module." + kv.key().toStringRef(), kv.value().toTensor().clone());
  sd.erase("module.0.bias");
  sd.insert_or_assign("module.2.weight", torch::ones({7, 7}));
  sd.insert("module.extra", torch::ones({1}));
  auto before = (*seq)[2]->as<torch::nn::Linear>()->weight.clone();
  auto keys = load_module_state_dict(**seq, sd);
  EXPECT_EQ(keys.missing, std::vector<std::string>{"0.bias"});
  EXPECT_EQ(keys.unexpected, std::vector<std::string>{"extra"});
  ASSERT_EQ(keys.shape_mismatched.size(), 1u);
  EXPECT_EQ(keys.shape_mismatched[0].key, "2.weight");
  EXPECT_TRUE(torch::equal(before, (*seq)[2]->as<torch::nn::Linear>()->weight));
}

template <typename Opt, typename Options>
void optimizer_round_trip(Options options) {
  TempDir dir;
  torch::manual_seed(1);
  auto a = make_model();
  Opt opt_a((*a)->parameters(), options);
  train_steps(**a, *a, opt_a, 3, 10);
  save_torch_zip(OptimizerCheckpointable(opt_a).state_dict(), dir / "opt");
  save_torch_zip(module_state_dict(**a), dir / "model");

  torch::manual_seed(99);
  auto b = make_model();
  Opt opt_b((*b)->parameters(), options);
  load_module_state_dict(**b, load_torch_zip(dir / "model"));
  OptimizerCheckpointable(opt_b).load_state_dict(load_torch_zip(dir / "opt"));
  train_steps(**a, *a, opt_a, 2, 20);
  train_steps(**b, *b, opt_b, 2, 20);
  expect_same(module_state_dict(**a), module_state_dict(**b), "after resume");
}

TEST(OptimizerState, AdamResumesExactly) {
  optimizer_round_trip<torch::optim::Adam>(torch::optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.1));
}
TEST(OptimizerState, AdamWResumesExactly) {
  optimizer_round_trip<torch::optim::AdamW>(torch::optim::AdamWOptions(0.01));
}
TEST(OptimizerState, SGDResumesExactly) {
  optimizer_round_trip<torch::optim::SGD>(torch::optim::SGDOptions(0.05).momentum(0.9).dampening(0.1));
}

TEST(OptimizerState, MissingKeyAndWrongShapeAreErrorsAndChangeNothing) {
  auto seq = make_model();
  torch::optim::Adam adam((*seq)->parameters());
  train_steps(**seq, *seq, adam, 1, 1);
  OptimizerCheckpointable oc(adam);
  auto good = oc.state_dict().toGenericDict();
  auto no_groups = good.copy();
  no_groups.erase("param_groups");
  EXPECT_THROW(oc.load_state_dict(no_groups), std::invalid_argument);
  auto bad_state = good.copy();
  auto state0 = bad_state.at("state").toGenericDict().at(int64_t{0}).toGenericDict();
  state0.insert_or_assign("exp_avg", torch::ones({9}));
  try {
    oc.load_state_dict(bad_state);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("exp_avg"), std::string::npos);
  }
  EXPECT_EQ(adam.state().size(), 6u);
}

TEST(LRScheduler, StepAndWarmupCosineFollowTheirFormulasAndRestore) {
  auto seq = make_model();
  torch::optim::SGD opt((*seq)->parameters(), 0.1);
  StepLR step(opt, 2, 0.5);
  std::vector<double> seen;
  for (int i = 0; i < 5; ++i) {
    seen.push_back(step.last_lr()[0]);
    step.step();
  }
  EXPECT_EQ(seen, (std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025}));

  torch::optim::SGD opt2((*seq)->parameters(), 1.0);
  WarmupCosineLR cos(opt2, 10, 0.1, 2, 0.0);
  EXPECT_DOUBLE_EQ(cos.last_lr()[0], 0.1);  // epoch 0: warmup_factor
  for (int i = 0; i < 5; ++i) cos.step();
  EXPECT_NEAR(cos.last_lr()[0], 0.5, 1e-12);  // half way through the cosine
  auto state = cos.state_dict();
  torch::optim::SGD opt3((*seq)->parameters(), 1.0);
  WarmupCosineLR restored(opt3, 99, 0.5, 7, 0.3);
  restored.load_state_dict(state);
  cos.step();
  restored.step();
  EXPECT_EQ(restored.last_epoch(), 6);
  EXPECT_EQ(restored.last_lr(), cos.last_lr());
  auto broken = state.toGenericDict().copy();
  broken.erase("last_epoch");
  EXPECT_THROW(restored.load_state_dict(broken), std::invalid_argument);
}

// ---------------------------------------------------------------- checkpointer

struct Fixture {
  TempDir dir;
  std::shared_ptr<torch::nn::Sequential> seq = make_model();
  torch::optim::Adam adam{(*seq)->parameters(), torch::optim::AdamOptions(0.01)};
  std::shared_ptr<StepLR> sched = std::make_shared<StepLR>(adam, 2);
  std::map<std::string, std::shared_ptr<Checkpointable>> parts() {
    return {{"optimizer", std::make_shared<OptimizerCheckpointable>(adam)}, {"lr_scheduler", sched}};
  }
};

TEST(Checkpointer, SavesLayoutTagsLastAndLoads) {
  Fixture f;
  train_steps(**f.seq, *f.seq, f.adam, 2, 1);
  Checkpointer ck(f.seq->ptr(), f.dir / "out", f.parts());
  EXPECT_FALSE(ck.has_checkpoint());
  EXPECT_EQ(ck.get_checkpoint_file(), "");
  c10::impl::GenericList hist(c10::AnyType::get());
  hist.push_back(1.5);
  ck.save("model_0000009", {{"iteration", int64_t{9}}, {"history", hist}}).wait();
  EXPECT_EQ(list_directory(f.dir / "out/model_0000009"),
            (std::vector<std::string>{"history", "lr_scheduler", "model", "optimizer"}));
  EXPECT_EQ(read_small_file(f.dir / "out/last_checkpoint"), "model_0000009");
  auto saved = module_state_dict(**f.seq);
  std::vector<at::Tensor> copies;
  for (const auto& kv : saved) copies.push_back(kv.value().toTensor().clone());

  ck.save("model_best").wait();  // never tagged as last
  EXPECT_EQ(read_small_file(f.dir / "out/last_checkpoint"), "model_0000009");
  EXPECT_EQ(ck.get_all_checkpoint_files(),
            (std::vector<std::string>{f.dir / "out/model_0000009", f.dir / "out/model_best"}));
  ck.save("model_best").wait();  // replacing an existing checkpoint works

  train_steps(**f.seq, *f.seq, f.adam, 2, 2);
  f.sched->step();
  LoadResult r = ck.resume_or_load("", /*resume=*/true);
  EXPECT_TRUE(r.incompatible.empty());
  EXPECT_EQ(r.extra.at("iteration").toInt(), 9);
  ASSERT_TRUE(r.extra.count("history"));
  EXPECT_EQ(r.extra.at("history").toListRef()[0].toDouble(), 1.5);
  size_t i = 0;
  for (const auto& kv : module_state_dict(**f.seq)) EXPECT_TRUE(torch::equal(kv.value().toTensor(), copies[i++]));
  EXPECT_EQ(f.sched->last_epoch(), 0);

  // Not resuming: model only, from the given path.
  LoadResult r2 = ck.resume_or_load(f.dir / "out/model_best", /*resume=*/false);
  EXPECT_TRUE(r2.extra.count("optimizer"));  // not consumed
}

TEST(Checkpointer, CleansStaleTemporariesOnConstruction) {
  TempDir dir;
  auto seq = make_model();
  make_directories(dir / "out/.model_0000001.tmp-abc123");
  make_directories(dir / "out/.model_best.old-xyz");
  { UniqueFd fd = open_for_create(dir / "out/.last_checkpoint.tmp-q1w2e3"); }
  make_directories(dir / "out/model_0000000");
  Checkpointer ck(seq->ptr(), dir / "out");
  EXPECT_EQ(list_directory(dir / "out"), std::vector<std::string>{"model_0000000"});
}

TEST(Checkpointer, AsyncSaveWritesTheSnapshotNotLaterUpdates) {
  for (size_t budget : {kUnlimitedBudget, size_t{64}}) {  // 64 B: one round per tensor
    Fixture f;
    train_steps(**f.seq, *f.seq, f.adam, 2, 1);
    CheckpointerOptions o;
    o.staging_budget = budget;
    Checkpointer ck(f.seq->ptr(), f.dir / "out", f.parts(), o);
    std::vector<at::Tensor> before;
    for (const auto& p : (*f.seq)->parameters()) before.push_back(p.detach().clone());
    SaveHandle h = ck.save("model_0000001");
    {
      torch::NoGradGuard ng;
      for (auto& p : (*f.seq)->parameters()) p.add_(1);  // training goes on at once
    }
    h.wait();
    EXPECT_TRUE(h.done());
    if (budget != kUnlimitedBudget) EXPECT_GT(h.stats().rounds, 4u);
    else EXPECT_EQ(h.stats().rounds, 1u);
    auto sd = load_torch_zip(f.dir / "out/model_0000001/model").toGenericDict();
    size_t i = 0;
    for (const auto& kv : (*f.seq)->named_parameters())
      EXPECT_TRUE(torch::equal(sd.at(kv.key()).toTensor(), before[i++])) << kv.key();
  }
}

// LiBai's graph file holds the model state again: the same tensors are
// staged once (the stall and the arena are one copy), and both files still
// hold the snapshot, in every round layout.
TEST(Checkpointer, TensorsSavedTwiceAreStagedOnce) {
  for (size_t budget : {kUnlimitedBudget, size_t{64}}) {
    Fixture f;
    train_steps(**f.seq, *f.seq, f.adam, 2, 1);
    CheckpointerOptions o;
    o.staging_budget = budget;
    Checkpointer ck(f.seq->ptr(), f.dir / "out",
                    {{"graph", std::make_shared<ModuleCheckpointable>(f.seq->ptr())}}, o);
    std::vector<at::Tensor> before;
    uint64_t model_bytes = 0;
    for (const auto& p : (*f.seq)->parameters()) {
      before.push_back(p.detach().clone());
      model_bytes += p.numel() * p.element_size();
    }
    SaveHandle h = ck.save("model_0000001");
    {
      torch::NoGradGuard ng;
      for (auto& p : (*f.seq)->parameters()) p.add_(1);
    }
    h.wait();
    if (budget == kUnlimitedBudget) {
      // One copy of the parameters (plus alignment), not two.
      EXPECT_LT(h.stats().staged_peak_bytes, model_bytes + 64 * 2 * before.size());
      EXPECT_GE(h.stats().staged_peak_bytes, model_bytes);
    }
    for (const char* file : {"model", "graph"}) {
      auto sd = load_torch_zip(f.dir / (std::string("out/model_0000001/") + file)).toGenericDict();
      size_t i = 0;
      for (const auto& kv : (*f.seq)->named_parameters())
        EXPECT_TRUE(torch::equal(sd.at(kv.key()).toTensor(), before[i++])) << file << " " << kv.key();
    }
  }
}

TEST(Checkpointer, SyncModeCommitsBeforeReturning) {
  Fixture f;
  CheckpointerOptions o;
  o.async = false;
  Checkpointer ck(f.seq->ptr(), f.dir / "out", f.parts(), o);
  SaveHandle h = ck.save("model_0000000");
  EXPECT_TRUE(h.done());
  EXPECT_TRUE(is_directory(f.dir / "out/model_0000000"));
  EXPECT_EQ(read_small_file(f.dir / "out/last_checkpoint"), "model_0000000");
}

TEST(Checkpointer, UnwritableSaveDirIsAnErrorNamingThePath) {
  TempDir dir;
  { UniqueFd fd = open_for_create(dir / "file"); }
  auto seq = make_model();
  Checkpointer ck(seq->ptr(), dir / "file/out");
  try {
    ck.save("model_0000000");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "file"), std::string::npos) << e.what();
    EXPECT_EQ(e.error_code(), ENOTDIR) << e.what();
  }
}

TEST(Checkpointer, WriteErrorSurfacesOnWaitAndNextSaveAndKeepsPrevious) {
  Fixture f;
  Checkpointer ck(f.seq->ptr(), f.dir / "out", f.parts());
  ck.save("model_0000000").wait();
  // Files may not grow beyond 1 KiB: the writer thread gets EFBIG.
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  SaveHandle h1 = ck.save("model_0000001");
  while (!h1.done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  try {
    h1.wait();
    FAIL() << "no error on wait()";
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.error_code(), EFBIG) << e.what();
    EXPECT_NE(std::string(e.what()).find("model_0000001"), std::string::npos) << e.what();
  }
  // Reported once: the next save works.
  ck.save("model_0000002").wait();

  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  SaveHandle h3 = ck.save("model_0000003");
  while (!h3.done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  EXPECT_THROW(ck.save("model_0000004"), CheckpointError);  // not waited: next save throws
  EXPECT_EQ(read_small_file(f.dir / "out/last_checkpoint"), "model_0000002");
  EXPECT_EQ(list_directory(f.dir / "out"),
            (std::vector<std::string>{"last_checkpoint", "model_0000000", "model_0000002"}));
  ck.load(ck.get_checkpoint_file());
}

TEST(Checkpointer, BadCheckpointsFailLoadWithFileAndCauseAndChangeNothing) {
  Fixture f;
  Checkpointer ck(f.seq->ptr(), f.dir / "out", f.parts());
  ck.save("model_0000000").wait();
  auto weight = (*f.seq)->parameters()[0].detach().clone();
  {
    torch::NoGradGuard ng;
    (*f.seq)->parameters()[0].add_(1);
  }
  // Truncated optimizer file.
  std::string opt = read_small_file(f.dir / "out/model_0000000/optimizer");
  remove_tree(f.dir / "out/model_0000000/optimizer");
  {
    UniqueFd fd = open_for_create(f.dir / "out/model_0000000/optimizer");
    write_all(fd.get(), opt.data(), opt.size() - 30, "x");
  }
  try {
    ck.load(f.dir / "out/model_0000000");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.path(), f.dir / "out/model_0000000/optimizer");
  }
  EXPECT_FALSE(torch::equal(weight, (*f.seq)->parameters()[0]));  // model untouched
  // A state dict with a missing key.
  Dict bad = f.sched->state_dict().toGenericDict();
  bad.erase("base_lrs");
  remove_tree(f.dir / "out/model_0000000/optimizer");
  remove_tree(f.dir / "out/model_0000000/lr_scheduler");
  save_torch_zip(bad, f.dir / "out/model_0000000/lr_scheduler");
  try {
    ck.load(f.dir / "out/model_0000000");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.path(), f.dir / "out/model_0000000/lr_scheduler");
    EXPECT_NE(std::string(e.what()).find("base_lrs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ck.load(f.dir / "out/nonexistent"), CheckpointError);
}

// ---------------------------------------------------------------- policies

TEST(PeriodicCheckpointer, FollowsLiBaiScheduleAndMaxToKeepAcrossRestart) {
  TempDir dir;
  auto seq = make_model();
  {
    Checkpointer ck(seq->ptr(), dir / "out");
    PeriodicCheckpointer p(ck, 2, 9, 2);
    for (int64_t it = 0; it < 6; ++it) p.step(it);  // saves 1, 3, 5
    ck.wait();
    // Until model_0000005 is committed, 1 and 3 are kept; the next step
    // sees it committed and trims to max_to_keep.
    p.step(6);
    EXPECT_EQ(ck.get_all_checkpoint_files(),
              (std::vector<std::string>{dir / "out/model_0000003", dir / "out/model_0000005"}));
  }
  Checkpointer ck(seq->ptr(), dir / "out");  // restart
  PeriodicCheckpointer p(ck, 2, 9, 2);
  EXPECT_EQ(p.recent().size(), 2u);
  ck.save("model_best").wait();
  for (int64_t it = 6; it < 9; ++it) p.step(it);
  ck.wait();
  p.step(8);  // idempotent re-save of the final iteration, trims
  ck.wait();
  EXPECT_EQ(ck.get_all_checkpoint_files(),
            (std::vector<std::string>{dir / "out/model_0000005", dir / "out/model_0000007",
                                      dir / "out/model_best", dir / "out/model_final"}));
  EXPECT_EQ(read_small_file(dir / "out/last_checkpoint"), "model_final");
}

TEST(BestCheckpointer, SavesOnlyOnImprovement) {
  TempDir dir;
  auto seq = make_model();
  Checkpointer ck(seq->ptr(), dir / "out");
  ck.save("model_0000000").wait();
  BestCheckpointer best(5, ck, "acc", BestCheckpointer::Mode::kMax);
  EXPECT_TRUE(best.is_eval_iteration(4));
  EXPECT_FALSE(best.is_eval_iteration(5));
  EXPECT_TRUE(best.is_eval_iteration(6, 7));
  EXPECT_TRUE(best.step(4, 0.5));
  EXPECT_FALSE(best.step(9, 0.4));
  EXPECT_TRUE(best.step(14, 0.7));
  ck.wait();
  EXPECT_EQ(*best.best_iteration(), 14);
  EXPECT_TRUE(is_directory(dir / "out/model_best"));
  EXPECT_EQ(read_small_file(dir / "out/last_checkpoint"), "model_0000000");
  BestCheckpointer low(1, ck, "loss", BestCheckpointer::Mode::kMin);
  EXPECT_TRUE(low.step(0, 2.0));
  EXPECT_TRUE(low.step(1, 1.0));
  EXPECT_FALSE(low.step(2, 1.5));
  ck.wait();
}

}  // namespace
}  // namespace ckpt
