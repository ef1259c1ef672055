#include "fs/store_config.h"

#include <sys/random.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "codec/chunk_hasher.h"

namespace ckptfs {
namespace {

std::string Hex(const std::vector<uint8_t>& v) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t b : v) {
    s.push_back(d[b >> 4]);
    s.push_back(d[b & 15]);
  }
  return s;
}

bool Unhex(const std::string& s, std::vector<uint8_t>* out) {
  if (s.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

std::string NewUuid() {
  uint8_t b[16];
  if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
    for (auto& x : b) x = static_cast<uint8_t>(std::rand());
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char s[37];
  std::snprintf(s, sizeof(s), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return s;
}

}  // namespace

std::string StoreConfig::ToJson() const {
  nlohmann::json j;
  j["magic"] = kStoreMagic;
  j["format_version"] = format_version;
  j["uuid"] = uuid;
  j["chunker"] = {{"algorithm", "fastcdc"},
                  {"min_size", chunker.min_size},
                  {"avg_size", chunker.avg_size},
                  {"max_size", chunker.max_size}};
  j["hash"] = {{"algorithm", "xxh3-128-keyed"}, {"secret", Hex(hash_secret)}};
  j["compression"] = {{"algorithm", "zstd"},
                      {"level", compression.zstd_level},
                      {"byte_grouping", compression.byte_grouping}};
  j["pack_target_size"] = pack_target_size;
  return j.dump(2) + "\n";
}

Result<StoreConfig> StoreConfig::FromJson(const std::string& text, const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(path + ": not valid JSON; the store config is damaged");
  try {
    if (j.value("magic", "") != kStoreMagic)
      return Status::Corruption(path + ": not a ckptfs store config (magic missing)");
    StoreConfig c;
    c.format_version = j.at("format_version").get<uint32_t>();
    if (c.format_version > kStoreFormatVersion)
      return Status::Version(path + ": store format version " + std::to_string(c.format_version) +
                             " is newer than this ckptfs supports (" +
                             std::to_string(kStoreFormatVersion) + "); upgrade ckptfs");
    c.uuid = j.at("uuid").get<std::string>();
    c.chunker.min_size = j.at("chunker").at("min_size").get<uint32_t>();
    c.chunker.avg_size = j.at("chunker").at("avg_size").get<uint32_t>();
    c.chunker.max_size = j.at("chunker").at("max_size").get<uint32_t>();
    if (!c.chunker.Valid()) return Status::Corruption(path + ": invalid chunker parameters");
    if (!Unhex(j.at("hash").at("secret").get<std::string>(), &c.hash_secret) ||
        c.hash_secret.size() < 136)
      return Status::Corruption(path + ": invalid hash secret");
    c.compression.zstd_level = j.at("compression").at("level").get<int>();
    c.compression.byte_grouping = j.at("compression").value("byte_grouping", true);
    c.pack_target_size = j.value("pack_target_size", uint64_t{64} << 20);
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(path + ": " + e.what());
  }
}

StoreConfig StoreConfig::New(const ChunkerParams& chunker, const CompressionOptions& compression) {
  StoreConfig c;
  c.uuid = NewUuid();
  c.chunker = chunker;
  c.compression = compression;
  c.hash_secret = ChunkHasher::GenerateSecret();
  return c;
}

}  // namespace ckptfs
