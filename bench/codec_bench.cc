// codec-bench: compression ratios and codec throughput on real weights.
//
//   codec-bench [--size-mib N] [--runs N] FILE...
//
// Concatenates the FILEs (fp32 weights, e.g. from bench/fetch_weights.sh),
// tiles them to --size-mib, and for the fp32 bytes and their bf16 truncation
// prints stored/logical ratios of ckptfs (levels 1 and 3) next to plain zstd
// -1 and -3 on the same chunks, then chunk/hash/compress/decompress and
// whole put-path throughput per core: bytes over thread CPU time, median of
// --runs.
#include <zstd.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "codec/chunk_hasher.h"
#include "codec/chunker.h"
#include "codec/compressor.h"

namespace ckptfs {
namespace {

using Bytes = std::vector<std::byte>;
struct Span {
  size_t offset, length;
};

std::vector<Span> ChunkAll(const Chunker& chunker, const Bytes& data) {
  std::vector<Span> out;
  for (size_t off = 0; off < data.size();) {
    size_t len = chunker.FindBoundary(std::span(data).subspan(off));
    if (len == 0) len = data.size() - off;
    out.push_back({off, len});
    off += len;
  }
  return out;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Runs `fn` `runs` times; the median of its thread CPU time in seconds.
// CPU time, not wall time: the 2-core machines are shared, and what the
// write path budget needs is the cost per core.
double MedianSeconds(int runs, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    double t0 = ThreadCpuSeconds();
    fn();
    t.push_back(ThreadCpuSeconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

size_t PlainZstd(const Bytes& data, const std::vector<Span>& chunks, int level) {
  size_t total = 0;
  Bytes buf;
  for (auto c : chunks) {
    buf.resize(ZSTD_compressBound(c.length));
    total += ZSTD_compress(buf.data(), buf.size(), data.data() + c.offset, c.length, level);
  }
  return total;
}

void Report(const char* name, const Bytes& data, int runs) {
  const double mb = data.size() / 1e6;
  Chunker chunker(ChunkerParams{});
  auto chunks = ChunkAll(chunker, data);
  auto hasher = ChunkHasher::Create(ChunkHasher::GenerateSecret()).value();

  std::printf("\n== %s: %.1f MB, %zu chunks (avg %.0f KiB)\n", name, mb, chunks.size(),
              data.size() / 1024.0 / chunks.size());
  std::printf("%-22s %8s\n", "codec", "ratio");
  for (int level : {1, 3})
    std::printf("plain zstd -%d          %8.3f\n", level,
                double(data.size()) / PlainZstd(data, chunks, level));
  std::vector<std::vector<CompressedChunk>> encoded(2);
  for (int li = 0; li < 2; ++li) {
    int level = li == 0 ? 1 : 3;
    Compressor comp(CompressionOptions{level, true});
    size_t stored = 0, by_codec[4] = {};
    for (auto c : chunks) {
      encoded[li].push_back(comp.Compress(std::span(data).subspan(c.offset, c.length)));
      stored += encoded[li].back().payload.size();
      by_codec[static_cast<int>(encoded[li].back().codec)] += c.length;
    }
    std::printf("ckptfs level %d         %8.3f   (chunks by codec, MB: raw %.1f zstd %.1f "
                "planes2 %.1f planes4 %.1f)\n",
                level, double(data.size()) / stored, by_codec[0] / 1e6, by_codec[1] / 1e6,
                by_codec[2] / 1e6, by_codec[3] / 1e6);
  }

  std::printf("%-22s %8s\n", "stage", "MB/s per core (CPU time)");
  double t_chunk = MedianSeconds(runs, [&] { ChunkAll(chunker, data); });
  std::printf("chunk (FastCDC)        %8.0f\n", mb / t_chunk);
  double t_hash = MedianSeconds(runs, [&] {
    for (auto c : chunks) hasher.Hash(std::span(data).subspan(c.offset, c.length));
  });
  std::printf("hash (XXH3-128 keyed)  %8.0f\n", mb / t_hash);
  for (int li = 0; li < 2; ++li) {
    int level = li == 0 ? 1 : 3;
    Compressor comp(CompressionOptions{level, true});
    double t_comp = MedianSeconds(runs, [&] {
      for (auto c : chunks) comp.Compress(std::span(data).subspan(c.offset, c.length));
    });
    Bytes out;
    bool ok = true;
    double t_dec = MedianSeconds(runs, [&] {
      for (size_t i = 0; i < chunks.size(); ++i) {
        out.resize(chunks[i].length);
        ok &= Compressor::Decompress(encoded[li][i].codec, encoded[li][i].payload, out).ok();
      }
    });
    double t_put = MedianSeconds(runs, [&] {
      for (size_t off = 0; off < data.size();) {
        auto rest = std::span(data).subspan(off);
        size_t len = chunker.FindBoundary(rest);
        if (len == 0) len = rest.size();
        auto raw = rest.first(len);
        hasher.Hash(raw);
        comp.Compress(raw);
        off += len;
      }
    });
    std::printf("compress level %d       %8.0f\n", level, mb / t_comp);
    std::printf("decompress level %d     %8.0f%s\n", level, mb / t_dec, ok ? "" : "  (ERRORS)");
    std::printf("put path level %d       %8.0f   (chunk + hash + compress)\n", level, mb / t_put);
  }
}

int Main(int argc, char** argv) {
  size_t size_mib = 64;
  int runs = 3;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--size-mib" || a == "--runs") && i + 1 < argc) {
      long v = std::strtol(argv[++i], nullptr, 10);
      if (v <= 0) {
        std::fprintf(stderr, "codec-bench: %s needs a positive number\n", a.c_str());
        return 2;
      }
      if (a == "--runs") runs = static_cast<int>(v);
      else size_mib = static_cast<size_t>(v);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "usage: codec-bench [--size-mib N] [--runs N] FILE...\n");
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr,
                 "usage: codec-bench [--size-mib N] [--runs N] FILE...\n"
                 "  (bench/fetch_weights.sh downloads real fp32 weights into bench/data/)\n");
    return 2;
  }
  Bytes src;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "codec-bench: cannot open %s: %s\n", f.c_str(), std::strerror(errno));
      return 1;
    }
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t at = src.size();
    src.resize(at + c.size());
    std::memcpy(src.data() + at, c.data(), c.size());
  }
  src.resize(src.size() / 4 * 4);
  if (src.empty()) {
    std::fprintf(stderr, "codec-bench: input files are empty\n");
    return 1;
  }
  Bytes fp32(size_mib << 20);
  for (size_t off = 0; off < fp32.size(); off += src.size())
    std::memcpy(fp32.data() + off, src.data(), std::min(src.size(), fp32.size() - off));
  std::printf("input: %zu file(s), %.1f MB of weights, tiled to %zu MiB; runs=%d\n",
              files.size(), src.size() / 1e6, size_mib, runs);
  Report("fp32", fp32, runs);
  Bytes bf16(fp32.size() / 2);
  for (size_t i = 0; i < fp32.size() / 4; ++i) {
    bf16[2 * i] = fp32[4 * i + 2];
    bf16[2 * i + 1] = fp32[4 * i + 3];
  }
  Report("bf16 (fp32 truncated to its top 2 bytes)", bf16, runs);
  return 0;
}

}  // namespace
}  // namespace ckptfs

int main(int argc, char** argv) { return ckptfs::Main(argc, argv); }
