// Pack file format constants. The byte grammar is in docs/pack_format.md.
//
//   pack    := pack_header record* [footer]
//   header  := magic "CKPTPACK" (8) | version u32 | pack_id u32 | created_ns u64 | crc32c u32 of the previous fields
//   record  := rec_header payload
//   rec_header := magic u32 "CKRC" | codec u8 | reserved[3] | chunk_id[16] | raw_len u32 |
//                 stored_len u32 | payload_crc32c u32 | header_crc32c u32 (over the preceding 36 bytes)
//   payload := stored_len bytes, encoded by codec (compressor.h)
//   footer  := index_entry* | trailer
//   index_entry := chunk_id[16] | record_offset u64 | raw_len u32 | stored_len u32 | codec u8 | reserved[3]
//   trailer := entry_count u32 | index_crc32c u32 (over the entries) | index_offset u64 |
//              magic "CKPTFOOT" (8); index_offset + 36 * entry_count + 24 == file size
//
// All integers little-endian. A pack without a valid trailer is unsealed (or
// torn by a crash); its records are found by a sequential scan that stops at
// the first record that fails its checks.
#pragma once

#include <cstdint>

namespace ckptfs::pack {

inline constexpr char kPackMagic[8] = {'C', 'K', 'P', 'T', 'P', 'A', 'C', 'K'};
inline constexpr char kFooterMagic[8] = {'C', 'K', 'P', 'T', 'F', 'O', 'O', 'T'};
inline constexpr uint32_t kRecordMagic = 0x4352'4B43;  // "CKRC" little-endian
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kPackHeaderSize = 28;
inline constexpr uint32_t kRecordHeaderSize = 40;
inline constexpr uint32_t kIndexEntrySize = 36;
inline constexpr uint32_t kTrailerSize = 24;
inline constexpr uint64_t kTargetPackSize = 64ull << 20;
// Upper bound of raw_len and stored_len (ChunkerParams allows max_size up to
// 16 MiB, and a payload is never larger than its raw bytes). Readers reject
// larger lengths before allocating for them.
inline constexpr uint32_t kMaxChunkSize = 16u << 20;

}  // namespace ckptfs::pack
