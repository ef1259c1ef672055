// CRC32C (Castagnoli), used to frame pack records and footers. None of the
// project's dependencies exports it; it uses the SSE4.2 instruction when the
// CPU has it (three interleaved streams on long inputs) and a table
// otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckptfs::crc32c {

// Extends `crc` (the CRC32C of earlier bytes, 0 to start) over data[0..n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
// The table-driven version Extend falls back to; tests check Extend against it.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace ckptfs::crc32c
