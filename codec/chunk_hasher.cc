#include "codec/chunk_hasher.h"

#include <sys/random.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ckptfs {

static_assert(ChunkHasher::kSecretSize >= XXH3_SECRET_SIZE_MIN);

Result<ChunkHasher> ChunkHasher::Create(std::vector<uint8_t> secret) {
  if (secret.size() < XXH3_SECRET_SIZE_MIN)
    return Status::InvalidArgument("chunk hash secret is " + std::to_string(secret.size()) +
                                   " bytes, needs at least " +
                                   std::to_string(XXH3_SECRET_SIZE_MIN));
  return ChunkHasher(std::move(secret));
}

std::vector<uint8_t> ChunkHasher::GenerateSecret() {
  std::vector<uint8_t> secret(kSecretSize);
  size_t got = 0;
  while (got < secret.size()) {
    ssize_t r = getrandom(secret.data() + got, secret.size() - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      // Without kernel entropy a store would get a guessable key; there is no
      // safe fallback, and getrandom() only fails on kernels older than 3.17.
      std::abort();
    }
    got += static_cast<size_t>(r);
  }
  // Raw getrandom() bytes already satisfy XXH3's secret requirements (high
  // entropy, no long runs of one value), so no XXH3_generateSecret step.
  return secret;
}

ChunkId ChunkHasher::Hash(std::span<const std::byte> data) const {
  XXH128_hash_t h = XXH3_128bits_withSecret(data.data(), data.size(), secret_.data(), secret_.size());
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);  // big-endian: the id's bytes do not depend on the host
  ChunkId id;
  static_assert(sizeof(c.digest) == sizeof(id.bytes));
  std::memcpy(id.bytes.data(), c.digest, sizeof(c.digest));
  return id;
}

}  // namespace ckptfs
