// StoreConfig: the contents of STORE/ckptfs.json.
//
// Written once by `ckptfs init` (atomically: temp, sync, rename) and read at
// every open. A store whose format_version is newer than this build is
// refused, so an old binary never writes a format it does not understand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/env.h"
#include "codec/chunker.h"
#include "codec/compressor.h"

namespace ckptfs {

inline constexpr uint32_t kStoreFormatVersion = 1;
inline constexpr const char* kStoreMagic = "ckptfs-store";

struct StoreConfig {
  uint32_t format_version = kStoreFormatVersion;
  std::string uuid;
  ChunkerParams chunker;
  CompressionOptions compression;
  std::vector<uint8_t> hash_secret;
  uint64_t pack_target_size = 64ull << 20;

  std::string ToJson() const;
  // Parses and validates; Corruption for malformed JSON or missing fields,
  // Version for a newer format.
  static Result<StoreConfig> FromJson(const std::string& json, const std::string& path);
  // A fresh config with a new uuid and secret.
  static StoreConfig New(const ChunkerParams& chunker, const CompressionOptions& compression);
};

}  // namespace ckptfs
