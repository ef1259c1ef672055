// PackWriter: appends chunk records to one pack file, then seals it with a
// footer index.
//
// Invariants:
//   1. the writer stays broken after its first error (every later call
//      returns it), so a torn record is never followed by a good one;
//   2. a record can be read back through another descriptor only after
//      Flush() or Sync() (the file may buffer appends: Env::NewDirectWritableFile);
//      durability needs Sync();
//   3. Seal() writes the footer, syncs, and re-reads the footer to verify it
//      before reporting success. A sealed pack is never written again.
// Not thread-safe: one owner (fs/chunk_store serializes appends).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "codec/chunk_id.h"

namespace ckptfs {

struct PackEntry {
  ChunkId id;
  uint64_t offset = 0;  // of the record header within the pack
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;
  Codec codec = Codec::kRaw;
};

class PackWriter {
 public:
  // Creates a new pack file (fails if it exists) and writes its header.
  static Result<std::unique_ptr<PackWriter>> Create(Env* env, const std::string& path,
                                                    uint32_t pack_id);
  // Appends a record; returns where it went.
  Result<PackEntry> Add(const ChunkId& id, Codec codec, uint32_t raw_len,
                        std::span<const std::byte> payload);
  // Same, with the payload's CRC32C computed by the caller (outside
  // whatever lock serializes Adds).
  Result<PackEntry> Add(const ChunkId& id, Codec codec, uint32_t raw_len,
                        std::span<const std::byte> payload, uint32_t payload_crc);
  // Makes every added record readable by a PackReader.
  Status Flush();
  Status Sync();
  Status Seal();
  uint64_t size() const;
  uint32_t pack_id() const { return pack_id_; }
  const std::string& path() const { return path_; }
  const std::vector<PackEntry>& entries() const { return entries_; }

 private:
  PackWriter(Env* env, std::string path, uint32_t pack_id, std::unique_ptr<WritableFile> file);
  Env* env_;
  std::string path_;
  uint32_t pack_id_;
  std::unique_ptr<WritableFile> file_;
  std::vector<PackEntry> entries_;
  Status error_;
  bool sealed_ = false;
};

}  // namespace ckptfs
