// Compressor: zstd with a float-aware byte-grouping transform.
//
// Trained weights compress poorly as a byte stream because every float's
// exponent byte sits between noisy mantissa bytes. Grouping byte k of every
// 2- or 4-byte word into plane k puts the exponents together, where zstd
// finds them highly repetitive. The codec is chosen per chunk: small chunks
// try every codec; larger ones pick by encoding a 32 KiB sample with each.
// A chunk that does not shrink is stored raw. Payload layouts are in
// docs/pack_format.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "codec/byte_buffer.h"
#include "codec/chunk_id.h"

namespace ckptfs {

struct CompressionOptions {
  // Level of kZstd frames. Plane frames use fixed, nearly Huffman-only
  // parameters (compressor.cc explains why), so floats compress the same at
  // every level.
  int zstd_level = 3;
  bool byte_grouping = true;  // try kZstdPlanes2 / kZstdPlanes4
};

struct CompressedChunk {
  Codec codec = Codec::kRaw;
  ByteBuffer payload;
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
