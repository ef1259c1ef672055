// Streaming writer for PyTorch's zip serialization format (what torch.save
// and torch::pickle_save produce), so that Python's torch.load reads it.
//
// Archive layout, in write order (the same order Python's torch.save uses):
//   archive/data.pkl        pickle (protocol 2) of the value; each tensor is
//                           a persistent id ('storage', torch.<T>Storage,
//                           key, 'cpu', numel) rebuilt by _rebuild_tensor_v2
//   archive/data/<key>      raw little-endian bytes of storage <key>
//   archive/version         written by writeEndOfFile, then the central dir
//
// The writer appends to a POSIX fd and never seeks, never buffers a record,
// and never holds a serialized copy of the state: each record is handed to
// miniz straight from the caller's memory (the staging buffer).
#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace caffe2::serialize {
class PyTorchStreamWriter;
}

namespace ckpt {

// The pickled part of an archive. Every tensor of the value is described
// by a compact contiguous CPU "placeholder" in the pickle; record "data/<i>"
// must hold the bytes of sources[i] (same dtype, shape, C-contiguous).
struct PickledValue {
  std::vector<char> pickle;
  std::vector<at::Tensor> sources;  // the original tensors, in key order
};

// Pickles `value` (dicts, lists, tuples, strings, numbers, bools, None and
// tensors). The same tensor object appearing twice is stored once. Tensors
// are not read: only their metadata goes into the pickle.
PickledValue pickle_value(const c10::IValue& value);

// Writes one archive to `fd`. The writer stays broken after the first failed
// write: later records are discarded and finish() throws CheckpointError
// naming `path` and the errno text. (Errors are not reported through miniz,
// whose error path would throw again from PyTorchStreamWriter's destructor.)
// REQUIRES: fd outlives the writer; records are written before finish().
class TorchZipWriter {
 public:
  TorchZipWriter(int fd, std::string path);
  ~TorchZipWriter();
  TorchZipWriter(const TorchZipWriter&) = delete;
  TorchZipWriter& operator=(const TorchZipWriter&) = delete;

  void write_record(const std::string& name, const void* data, size_t size);
  void write_pickle(const std::vector<char>& pickle) {
    write_record("data.pkl", pickle.data(), pickle.size());
  }
  void write_tensor(size_t key, const at::Tensor& contiguous_cpu);
  // Writes the central directory; throws if any write failed.
  void finish();

  uint64_t bytes_written() const { return bytes_; }

 private:
  size_t sink(const void* data, size_t n);
  void throw_if_failed() const;

  int fd_;
  std::string path_;
  int errno_ = 0;
  uint64_t bytes_ = 0;
  std::unique_ptr<caffe2::serialize::PyTorchStreamWriter> zip_;
};

// Convenience: synchronously writes `value` to a new file at `path`
// (O_EXCL), fsyncs it. Tensors may live on any device; they are copied to
// CPU one at a time when not already contiguous CPU tensors.
void save_torch_zip(const c10::IValue& value, const std::string& path);

}  // namespace ckpt
