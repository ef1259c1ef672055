// Codec choice and framing. Payload formats (see docs/pack_format.md):
//   kRaw:         the raw bytes.
//   kZstd:        one zstd frame of the raw bytes, at the configured level.
//   kZstdPlanesW: W concatenated zstd frames; frame j holds plane W-1-j of the
//                 grouped buffer (byte_planes.h), the last frame also the
//                 tail. Concatenated frames decode as one stream, so the
//                 decoder needs no per-plane lengths.
#include "codec/compressor.h"

// For ZSTD_c_literalCompressionMode, an experimental (but, since 1.5.0,
// stable) parameter. Only the parameter's value is used; no static-only
// struct or function, so this is safe against the shared libzstd.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "codec/byte_planes.h"

namespace ckptfs {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// Per-thread contexts: creating one costs more than compressing a small
// chunk, and a context must not be shared between threads.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}
ByteBuffer& ThreadScratch() {
  thread_local ByteBuffer buf;
  return buf;
}
// Called after each use: a scratch grown past the default chunk sizes (a
// store of multi-megabyte chunks) is freed, not kept by every thread that
// ever (de)compressed one.
void TrimThreadScratch() {
  constexpr size_t kKeep = 4u << 20;
  ByteBuffer& buf = ThreadScratch();
  if (buf.capacity() > kKeep) ByteBuffer().swap(buf);
}

// Plane frames are coded "entropy first", close to Huffman-only: a plane
// of exponent bytes has low order-0 entropy but few long repeats, so short
// matches cost more than the Huffman-coded literals they replace. The fast
// strategy with the longest minimum match and a high acceleration
// (targetLength) skips most match search; literal compression must then be
// forced on, since zstd turns it off for accelerated fast mode. Measured on
// real fp32 weights (exponent plane ratio, speed on plane bytes):
//   level 3: 2.46x; level 1: 2.64x; level 1 + minMatch 7: 2.81x, ~170 MB/s;
//   this setting: 2.97x, ~320 MB/s (on a loaded core).
// Planes ignore the configured level: higher levels were measured worse.
struct FrameParams {
  int level;
  bool entropy_first;
};

void ApplyEntropyFirst(ZSTD_CCtx* cctx) {
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, 7);
  // Without forced literal compression, acceleration would store literals
  // raw; so accelerate only if the library accepts the mode.
  if (!ZSTD_isError(
          ZSTD_CCtx_setParameter(cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_enable)))
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_targetLength, 64);
}

// Appends one zstd frame of `src` to *out. False if zstd failed (it does not
// on valid parameters; the caller then falls back to raw).
bool AppendFrame(std::span<const std::byte> src, FrameParams params, ByteBuffer* out) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, params.level);
  if (params.entropy_first) ApplyEntropyFirst(cctx);
  // The pack record's CRC32C and the chunk id already cover the payload, and
  // the raw length is in the record header.
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
  const size_t at = out->size();
  out->resize(at + ZSTD_compressBound(src.size()));
  size_t r = ZSTD_compress2(cctx, out->data() + at, out->size() - at, src.data(), src.size());
  if (ZSTD_isError(r)) {
    out->resize(at);
    return false;
  }
  out->resize(at + r);
  return true;
}

// Appends a zstd frame made of raw blocks (RFC 8878: single segment, 4-byte
// content size, blocks of at most 128 KiB). A plane of mantissa bytes is
// close to random: running zstd over it costs most of the compression time
// and saves under 3%, so such planes are framed as they are. Any zstd
// decoder reads these frames, so the payload format does not change.
void AppendRawFrame(std::span<const std::byte> src, ByteBuffer* out) {
  constexpr size_t kBlock = 128 * 1024;
  auto put = [out](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out->push_back(static_cast<std::byte>(v >> (8 * i)));
  };
  put(0xFD2FB528u, 4);  // magic
  put(0xA0, 1);         // descriptor: 4-byte content size, single segment
  put(src.size(), 4);
  size_t pos = 0;
  do {
    const size_t n = std::min(kBlock, src.size() - pos);
    const bool last = pos + n == src.size();
    put((uint32_t{last} | (0u << 1) | (static_cast<uint32_t>(n) << 3)), 3);  // raw block
    // resize + memcpy: insert() through ByteBuffer's allocator would copy
    // byte by byte.
    const size_t at = out->size();
    out->resize(at + n);
    std::memcpy(out->data() + at, src.data() + pos, n);
    pos += n;
  } while (pos < src.size());
}

size_t PlaneWidth(Codec c) { return c == Codec::kZstdPlanes2 ? 2 : 4; }

// Encodes `raw` with `codec` (not kRaw) into *out; false on zstd failure.
// Plane frame j is stored as raw blocks when bit j of `raw_planes` is set.
// `plane_ratio`, if given, receives each plane frame's size / plane size.
bool Encode(Codec codec, std::span<const std::byte> raw, int level, ByteBuffer* out,
            uint32_t raw_planes = 0, std::vector<double>* plane_ratio = nullptr) {
  out->clear();
  // Every frame appends within this bound, so *out never reallocates (and
  // copies) halfway: a bound per frame plus raw-frame headers.
  out->reserve(ZSTD_compressBound(raw.size()) + 4 * (ZSTD_compressBound(0) + 64));
  if (codec == Codec::kZstd) return AppendFrame(raw, {level, false}, out);
  const size_t w = PlaneWidth(codec), m = raw.size() / w;
  ByteBuffer& grouped = ThreadScratch();
  grouped.resize(raw.size());
  planes::Split(raw, w, grouped);
  if (plane_ratio) plane_ratio->assign(w, 1.0);
  for (size_t j = 0; j < w; ++j) {
    const size_t begin = j * m, end = j + 1 == w ? raw.size() : begin + m;
    const size_t at = out->size();
    auto plane = std::span(grouped).subspan(begin, end - begin);
    if (raw_planes & (1u << j)) {
      AppendRawFrame(plane, out);
    } else if (!AppendFrame(plane, {1, true}, out)) {
      return false;
    }
    if (plane_ratio && !plane.empty())
      (*plane_ratio)[j] = static_cast<double>(out->size() - at) / plane.size();
  }
  TrimThreadScratch();
  return true;
}

// Predictor: a sample from the middle of a large chunk, encoded with each
// candidate codec at level 1. The sample's winner is close to the winner on
// the whole chunk (checkpoint tensors are long runs of one dtype) at a
// fraction of the cost of trying every codec on every byte. 8 KiB rather
// than 16: the same codec and plane choices on real fp32 and bf16 weights
// (1.198x, 1.495x), and 12% less compression CPU (64 MiB of fp32 in 256 KiB
// chunks: 0.042-0.043 s at 16 KiB, 0.037-0.039 s at 8 KiB). At 4 KiB the
// planes of the sample are 1 KiB, too few bytes to judge a plane by.
constexpr size_t kSampleSize = 8 * 1024;
// A chunk whose best sample does not shrink below this fraction is stored
// raw without compressing the rest (already-compressed or random data).
constexpr double kIncompressible = 0.98;
// A plane whose sample frame keeps more than this fraction is framed raw.
constexpr double kPlaneIncompressible = 0.97;

}  // namespace

CompressedChunk Compressor::Compress(std::span<const std::byte> raw) const {
  CompressedChunk result;
  const Codec candidates[] = {Codec::kZstd, Codec::kZstdPlanes2, Codec::kZstdPlanes4};
  const size_t num_candidates = options_.byte_grouping ? 3 : 1;
  ByteBuffer trial;

  if (!raw.empty() && raw.size() <= 2 * kSampleSize) {
    // Small chunk: trying every candidate costs about one sample run.
    for (size_t c = 0; c < num_candidates; ++c) {
      if (Encode(candidates[c], raw, options_.zstd_level, &trial) &&
          trial.size() < (result.codec == Codec::kRaw ? raw.size() : result.payload.size())) {
        result.codec = candidates[c];
        result.payload.swap(trial);
      }
    }
  } else if (!raw.empty()) {
    // Aligned to 4 so the sample's planes line up with the chunk's words.
    const size_t start = (raw.size() / 2 - kSampleSize / 2) & ~size_t{3};
    const auto sample = raw.subspan(start, kSampleSize);
    Codec best = Codec::kRaw;
    size_t best_size = static_cast<size_t>(kSampleSize * kIncompressible);
    uint32_t raw_planes = 0;
    std::vector<double> ratios;
    for (size_t c = 0; c < num_candidates; ++c) {
      // A later (wider) candidate must win by 1%: bf16 data fits 2 and 4
      // planes about equally, and the narrower transform is the truer one.
      const size_t bar = best == Codec::kRaw ? best_size : best_size - best_size / 100;
      if (Encode(candidates[c], sample, 1, &trial, 0, &ratios) && trial.size() < bar) {
        best = candidates[c];
        best_size = trial.size();
        raw_planes = 0;
        for (size_t j = 0; j < ratios.size(); ++j)
          if (ratios[j] > kPlaneIncompressible) raw_planes |= 1u << j;
      }
    }
    if (best != Codec::kRaw && Encode(best, raw, options_.zstd_level, &trial, raw_planes) &&
        trial.size() < raw.size()) {
      result.codec = best;
      result.payload.swap(trial);
    }
  }
  if (result.codec == Codec::kRaw) {
    result.payload.resize(raw.size());
    if (!raw.empty()) std::memcpy(result.payload.data(), raw.data(), raw.size());
  }
  return result;
}

Status Compressor::Decompress(Codec codec, std::span<const std::byte> payload,
                              std::span<std::byte> out) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption(std::string(CodecName(codec)) + " payload of " +
                              std::to_string(payload.size()) + " bytes: " + what);
  };
  switch (codec) {
    case Codec::kRaw:
      if (payload.size() != out.size())
        return corrupt("raw length differs from expected " + std::to_string(out.size()));
      if (!out.empty()) std::copy(payload.begin(), payload.end(), out.begin());
      return Status::OK();
    case Codec::kZstd:
    case Codec::kZstdPlanes2:
    case Codec::kZstdPlanes4: {
      ByteBuffer& grouped = ThreadScratch();
      std::span<std::byte> dst = out;
      if (codec != Codec::kZstd) {
        grouped.resize(out.size());
        dst = grouped;
      }
      // zstd never writes past dst.size(): a frame that decodes to more
      // fails with dstSize_tooSmall, which is reported as corruption.
      size_t r = ZSTD_decompressDCtx(ThreadDCtx(), dst.data(), dst.size(), payload.data(),
                                     payload.size());
      if (ZSTD_isError(r)) return corrupt(ZSTD_getErrorName(r));
      if (r != out.size())
        return corrupt("decodes to " + std::to_string(r) + " bytes, expected " +
                       std::to_string(out.size()));
      if (codec != Codec::kZstd) {
        planes::Merge(grouped, PlaneWidth(codec), out);
        TrimThreadScratch();
      }
      return Status::OK();
    }
  }
  return corrupt("unknown codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace ckptfs
