#include "ckpt/torch_zip_writer.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <algorithm>
#include <unordered_map>

#include "ckpt/posix_file.h"

namespace ckpt {

namespace {

// A CPU tensor with `like`'s dtype and shape, C-contiguous, whose storage
// has exactly the tensor's byte size but no memory. The pickler reads only
// metadata (dtype, sizes, strides, storage byte size and identity), so this
// lets data.pkl be produced before the bytes exist (staging may happen in
// rounds, after the pickle is written).
at::Tensor placeholder_like(const at::Tensor& like) {
  const size_t nbytes = static_cast<size_t>(like.numel()) * like.element_size();
  c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes,
                       c10::DataPtr(nullptr, c10::Device(c10::kCPU)), /*allocator=*/nullptr,
                       /*resizable=*/false);
  std::vector<int64_t> strides(like.dim());
  int64_t stride = 1;
  for (int64_t d = like.dim() - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= std::max<int64_t>(like.size(d), 1);
  }
  return at::empty({0}, at::TensorOptions().dtype(like.scalar_type()))
      .set_(storage, 0, like.sizes(), strides);
}

class PlaceholderBuilder {
 public:
  c10::IValue rewrite(const c10::IValue& v) {
    if (v.isTensor()) return placeholder_for(v.toTensor());
    if (v.isGenericDict()) {
      auto in = v.toGenericDict();
      c10::impl::GenericDict out(c10::AnyType::get(), c10::AnyType::get());
      out.reserve(in.size());
      for (const auto& kv : in) out.insert(kv.key(), rewrite(kv.value()));
      return out;
    }
    if (v.isList()) {
      // Typed lists (IntList, TensorList...) become generic lists: the
      // pickler would otherwise emit torch.jit._pickle.build_* globals,
      // which plain-pickle readers do not know.
      c10::impl::GenericList out(c10::AnyType::get());
      for (const auto& e : v.toListRef()) out.push_back(rewrite(e));
      return out;
    }
    if (v.isTuple()) {
      std::vector<c10::IValue> elems;
      for (const auto& e : v.toTupleRef().elements()) elems.push_back(rewrite(e));
      return c10::ivalue::Tuple::create(std::move(elems));
    }
    if (v.isNone() || v.isInt() || v.isDouble() || v.isBool() || v.isString()) return v;
    throw std::invalid_argument("ckpt: cannot serialize a value of type " + v.tagKind());
  }

  std::unordered_map<const c10::TensorImpl*, at::Tensor> placeholder_to_source;

 private:
  at::Tensor placeholder_for(const at::Tensor& t) {
    if (!t.defined()) throw std::invalid_argument("ckpt: cannot serialize an undefined tensor");
    if (t.is_sparse() || t.is_quantized())
      throw std::invalid_argument("ckpt: sparse and quantized tensors are not supported");
    auto it = by_source_.find(t.unsafeGetTensorImpl());
    if (it != by_source_.end()) return it->second;
    at::Tensor p = placeholder_like(t);
    by_source_.emplace(t.unsafeGetTensorImpl(), p);
    placeholder_to_source.emplace(p.unsafeGetTensorImpl(), t);
    return p;
  }
  std::unordered_map<const c10::TensorImpl*, at::Tensor> by_source_;
};

}  // namespace

PickledValue pickle_value(const c10::IValue& value) {
  PlaceholderBuilder builder;
  c10::IValue rewritten = builder.rewrite(value);
  PickledValue out;
  // tag_aggregates=false: plain dict/list opcodes, no
  // torch.jit._pickle.restore_type_tag wrappers, so any unpickler that knows
  // torch's tensor globals can read the file.
  torch::jit::Pickler pickler(
      [&](const char* data, size_t n) { out.pickle.insert(out.pickle.end(), data, data + n); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(rewritten);
  pickler.stop();
  // Storage keys are assigned "0", "1", ... in tensorData() order.
  for (const auto& p : pickler.tensorData())
    out.sources.push_back(builder.placeholder_to_source.at(p.unsafeGetTensorImpl()));
  return out;
}

TorchZipWriter::TorchZipWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
  zip_ = std::make_unique<caffe2::serialize::PyTorchStreamWriter>(
      [this](const void* data, size_t n) { return sink(data, n); });
}

TorchZipWriter::~TorchZipWriter() = default;

size_t TorchZipWriter::sink(const void* data, size_t n) {
  // Always claim success to miniz: after a failure we only discard bytes and
  // report the saved errno from finish()/write_record().
  if (errno_ == 0) {
    errno_ = write_all_noexcept(fd_, data, n);
    if (errno_ == 0) bytes_ += n;
  }
  return n;
}

void TorchZipWriter::throw_if_failed() const {
  if (errno_ != 0) throw CheckpointError(path_, "write failed", errno_);
}

void TorchZipWriter::write_record(const std::string& name, const void* data, size_t size) {
  throw_if_failed();
  try {
    zip_->writeRecord(name, data, size);
  } catch (const c10::Error& e) {
    throw CheckpointError(path_, std::string("zip writer: ") + e.what_without_backtrace());
  }
  throw_if_failed();
}

void TorchZipWriter::write_tensor(size_t key, const at::Tensor& t) {
  TORCH_CHECK(t.device().is_cpu() && t.is_contiguous(), "write_tensor needs contiguous CPU");
  write_record("data/" + std::to_string(key), t.data_ptr(),
               static_cast<size_t>(t.numel()) * t.element_size());
}

void TorchZipWriter::finish() {
  throw_if_failed();
  try {
    zip_->writeEndOfFile();
  } catch (const c10::Error& e) {
    throw CheckpointError(path_, std::string("zip writer: ") + e.what_without_backtrace());
  }
  throw_if_failed();
}

void save_torch_zip(const c10::IValue& value, const std::string& path) {
  PickledValue pickled = pickle_value(value);
  UniqueFd fd = open_for_create(path);
  TorchZipWriter writer(fd.get(), path);
  writer.write_pickle(pickled.pickle);
  for (size_t i = 0; i < pickled.sources.size(); ++i)
    writer.write_tensor(i, pickled.sources[i].to(c10::kCPU).contiguous());
  writer.finish();
  fsync_fd(fd.get(), path);
  fd.close_or_throw(path);
}

}  // namespace ckpt
