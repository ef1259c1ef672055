// PackReader: reads and verifies records of one pack file.
//
// Thread-safe (pread). Every record read is checked: header magic and CRC,
// chunk id matching the caller's expectation, and payload CRC32C (unless the
// caller verifies the content itself, see PayloadCheck). Any mismatch is
// Corruption naming the pack path and offset.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/env.h"
#include "codec/pack_writer.h"

namespace ckptfs {

// Whether a read checks the payload's CRC32C. Readers that decode the
// payload and compare the result with its keyed 128-bit chunk id (every
// chunk read: ChunkStore::Decode) skip it: the id check is strictly
// stronger, and the CRC pass was the first touch of each freshly read
// (direct I/O) record, about a tenth of a cold read's CPU. Readers that
// copy payloads without decoding them (gc compaction, fsck's record scan)
// keep it.
enum class PayloadCheck { kCrc, kContentVerifiedByCaller };

class PackReader {
 public:
  static Result<std::unique_ptr<PackReader>> Open(Env* env, const std::string& path);

  // Reads the record described by `entry` into `scratch` (grown as needed,
  // reused across calls), verifying framing, id and CRC, and returns its
  // payload as a view into `scratch`. Reads are aligned to the file's
  // alignment(), so a direct-I/O file reads straight into `scratch`.
  Result<ByteSpan> ReadPayload(const PackEntry& entry, AlignedBuffer* scratch,
                               PayloadCheck check = PayloadCheck::kCrc) const;
  // The same, copied into *payload.
  Status ReadPayload(const PackEntry& entry, std::vector<std::byte>* payload) const;
  // Reads the records of `entries` - sorted by offset, each starting where
  // the previous one ends - with one read, and returns each payload (or its
  // own Corruption) as a view into `scratch`, checked as by ReadPayload. A
  // failed read fails every entry. Readahead uses it: one large read instead
  // of one per chunk keeps a slow disk's queue short.
  std::vector<Result<ByteSpan>> ReadPayloads(std::span<const PackEntry> entries,
                                             AlignedBuffer* scratch,
                                             PayloadCheck check = PayloadCheck::kCrc) const;

  // The footer index of a sealed pack; NotFound if the pack has no valid
  // footer (unsealed or torn), Corruption if the footer is damaged.
  Result<std::vector<PackEntry>> ReadFooter() const;
  // Walks records from the start and returns every complete, valid one; stops
  // at the first invalid or incomplete record (a torn tail) or at the footer.
  // *valid_end is set to the end of the last good record.
  Result<std::vector<PackEntry>> Scan(uint64_t* valid_end) const;

  uint32_t pack_id() const { return pack_id_; }
  const std::string& path() const { return file_->path(); }

 private:
  explicit PackReader(std::unique_ptr<RandomAccessFile> file) : file_(std::move(file)) {}
  // Checks the record of `entry` whose bytes (header + payload) are `rec`.
  Result<ByteSpan> CheckRecord(const PackEntry& entry, ByteSpan rec, PayloadCheck check) const;
  std::unique_ptr<RandomAccessFile> file_;
  uint32_t pack_id_ = 0;
};

}  // namespace ckptfs
