#include "fs/chunk_cache.h"

namespace ckptfs {

ChunkBytes ChunkCache::Get(const ChunkId& id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void ChunkCache::Put(const ChunkId& id, ChunkBytes bytes) {
  if (!bytes || budget_ == 0 || bytes->size() > budget_) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(id);
  if (it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  used_ += bytes->size();
  lru_.emplace_front(id, std::move(bytes));
  map_[id] = lru_.begin();
  while (used_ > budget_ && !lru_.empty()) {
    auto& back = lru_.back();
    used_ -= back.second->size();
    map_.erase(back.first);
    lru_.pop_back();
  }
}

void ChunkCache::Erase(const ChunkId& id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) return;
  used_ -= it->second->second->size();
  lru_.erase(it->second);
  map_.erase(it);
}

uint64_t ChunkCache::used_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return used_;
}

}  // namespace ckptfs
