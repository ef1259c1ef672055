// Reader for PyTorch zip archives written by Python's torch.save (protocol 2
// pickles, OrderedDict state_dicts with _metadata, optimizer states) and by
// TorchZipWriter.
//
// libtorch's own Unpickler only understands pickles produced by its C++
// Pickler (it rejects APPEND and OrderedDict), so this file carries a small
// restricted unpickler: it knows the opcodes Python's pickler emits for
// state_dicts and a fixed set of globals (tensor rebuild functions, storage
// types, OrderedDict); any other global is an error, never code execution.
// Tensors are loaded on CPU whatever location the file names.
#pragma once

#include <ATen/core/ivalue.h>

#include <string>

namespace ckpt {

// Loads the value stored at `path`. Dicts come back as GenericDict (key type
// Any), lists as GenericList, tuples as Tuple. Throws CheckpointError naming
// `path` and the cause (missing file, truncated archive, CRC mismatch,
// malformed pickle, unsupported global, out-of-bounds tensor).
c10::IValue load_torch_zip(const std::string& path);

}  // namespace ckpt
