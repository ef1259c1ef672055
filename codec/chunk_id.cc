#include "codec/chunk_id.h"

namespace ckptfs {

std::string ChunkId::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return s;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool ChunkId::FromHex(const std::string& hex, ChunkId* out) {
  ChunkId id;
  if (hex.size() != id.bytes.size() * 2) return false;
  for (size_t i = 0; i < id.bytes.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  *out = id;  // only on success, so a failed parse leaves *out untouched
  return true;
}

const char* CodecName(Codec c) {
  switch (c) {
    case Codec::kRaw: return "raw";
    case Codec::kZstd: return "zstd";
    case Codec::kZstdPlanes2: return "zstd-planes2";
    case Codec::kZstdPlanes4: return "zstd-planes4";
  }
  return "unknown";
}

}  // namespace ckptfs
