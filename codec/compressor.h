// Compressor: zstd with a float-aware byte-grouping transform.
//
// Trained weights compress poorly as a byte stream because every float's
// exponent byte sits between noisy mantissa bytes. Grouping byte k of every
// 2- or 4-byte word into plane k puts the exponents together, where zstd
// finds them highly repetitive. The codec is chosen per chunk (whichever is
// smallest, or by a cheap predictor), and a chunk that does not shrink is
// stored raw.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "codec/chunk_id.h"

namespace ckptfs {

struct CompressionOptions {
  int zstd_level = 3;
  bool byte_grouping = true;  // try kZstdPlanes2 / kZstdPlanes4
};

struct CompressedChunk {
  Codec codec = Codec::kRaw;
  std::vector<std::byte> payload;
};

class Compressor {
 public:
  explicit Compressor(const CompressionOptions& options) : options_(options) {}

  // Thread-safe (per-thread zstd contexts).
  CompressedChunk Compress(std::span<const std::byte> raw) const;

  // Decodes `payload` into exactly out.size() (= the raw length) bytes.
  // Corruption if the payload is malformed or decodes to another length.
  static Status Decompress(Codec codec, std::span<const std::byte> payload,
                           std::span<std::byte> out);

  const CompressionOptions& options() const { return options_; }

 private:
  CompressionOptions options_;
};

}  // namespace ckptfs
