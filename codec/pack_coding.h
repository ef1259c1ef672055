// Encoding and decoding of the fixed-size structures of a pack file
// (pack_format.h). Decoders check only what a structure can tell about
// itself (magic, its own CRC); checks against the file or the caller's
// expectations are left to PackReader, which knows the path and offset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "base/crc32c.h"
#include "codec/pack_format.h"
#include "codec/pack_writer.h"

namespace ckptfs::pack {

inline void Put32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline void Put64(std::byte* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline uint32_t Get32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t Get64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

inline bool KnownCodec(uint8_t c) { return c <= static_cast<uint8_t>(Codec::kZstdPlanes4); }

struct PackHeader {
  uint32_t version = kFormatVersion;
  uint32_t pack_id = 0;
  uint64_t created_ns = 0;
};

inline std::array<std::byte, kPackHeaderSize> EncodePackHeader(const PackHeader& h) {
  std::array<std::byte, kPackHeaderSize> b{};
  std::memcpy(b.data(), kPackMagic, 8);
  Put32(&b[8], h.version);
  Put32(&b[12], h.pack_id);
  Put64(&b[16], h.created_ns);
  Put32(&b[24], crc32c::Value(b.data(), 24));
  return b;
}

// False if the magic or CRC does not match. The version is returned as is.
inline bool DecodePackHeader(std::span<const std::byte, kPackHeaderSize> b, PackHeader* h) {
  if (std::memcmp(b.data(), kPackMagic, 8) != 0) return false;
  if (Get32(&b[24]) != crc32c::Value(b.data(), 24)) return false;
  h->version = Get32(&b[8]);
  h->pack_id = Get32(&b[12]);
  h->created_ns = Get64(&b[16]);
  return true;
}

// A record header describes its payload with the same fields as an index
// entry, plus the payload CRC; `offset` is not stored in it.
struct RecordHeader {
  PackEntry entry;
  uint32_t payload_crc = 0;
};

inline std::array<std::byte, kRecordHeaderSize> EncodeRecordHeader(const RecordHeader& r) {
  std::array<std::byte, kRecordHeaderSize> b{};
  Put32(&b[0], kRecordMagic);
  b[4] = static_cast<std::byte>(r.entry.codec);
  std::memcpy(&b[8], r.entry.id.bytes.data(), 16);
  Put32(&b[24], r.entry.raw_len);
  Put32(&b[28], r.entry.stored_len);
  Put32(&b[32], r.payload_crc);
  Put32(&b[36], crc32c::Value(b.data(), 36));
  return b;
}

enum class RecordCheck { kOk, kBadMagic, kBadCrc, kBadFields };

// Decodes a record header; entry.offset is left as is.
inline RecordCheck DecodeRecordHeader(std::span<const std::byte, kRecordHeaderSize> b,
                                      RecordHeader* r) {
  if (Get32(&b[0]) != kRecordMagic) return RecordCheck::kBadMagic;
  if (Get32(&b[36]) != crc32c::Value(b.data(), 36)) return RecordCheck::kBadCrc;
  const auto codec = static_cast<uint8_t>(b[4]);
  r->entry.codec = static_cast<Codec>(codec);
  std::memcpy(r->entry.id.bytes.data(), &b[8], 16);
  r->entry.raw_len = Get32(&b[24]);
  r->entry.stored_len = Get32(&b[28]);
  r->payload_crc = Get32(&b[32]);
  if (!KnownCodec(codec) || r->entry.raw_len > kMaxChunkSize ||
      r->entry.stored_len > kMaxChunkSize)
    return RecordCheck::kBadFields;
  return RecordCheck::kOk;
}

inline void EncodeIndexEntry(const PackEntry& e, std::byte* b) {
  std::memcpy(b, e.id.bytes.data(), 16);
  Put64(b + 16, e.offset);
  Put32(b + 24, e.raw_len);
  Put32(b + 28, e.stored_len);
  b[32] = static_cast<std::byte>(e.codec);
  b[33] = b[34] = b[35] = std::byte{0};
}

inline PackEntry DecodeIndexEntry(const std::byte* b) {
  PackEntry e;
  std::memcpy(e.id.bytes.data(), b, 16);
  e.offset = Get64(b + 16);
  e.raw_len = Get32(b + 24);
  e.stored_len = Get32(b + 28);
  e.codec = static_cast<Codec>(b[32]);
  return e;
}

struct Trailer {
  uint32_t entry_count = 0;
  uint32_t index_crc = 0;
  uint64_t index_offset = 0;
};

inline std::array<std::byte, kTrailerSize> EncodeTrailer(const Trailer& t) {
  std::array<std::byte, kTrailerSize> b{};
  Put32(&b[0], t.entry_count);
  Put32(&b[4], t.index_crc);
  Put64(&b[8], t.index_offset);
  std::memcpy(&b[16], kFooterMagic, 8);
  return b;
}

// False if the magic does not match (the pack is not sealed).
inline bool DecodeTrailer(std::span<const std::byte, kTrailerSize> b, Trailer* t) {
  if (std::memcmp(&b[16], kFooterMagic, 8) != 0) return false;
  t->entry_count = Get32(&b[0]);
  t->index_crc = Get32(&b[4]);
  t->index_offset = Get64(&b[8]);
  return true;
}

}  // namespace ckptfs::pack
