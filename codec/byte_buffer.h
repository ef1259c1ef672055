// ByteBuffer: a byte vector whose resize() does not zero the new bytes.
//
// Codec output buffers are sized to a bound (ZSTD_compressBound) and then
// overwritten; value-initializing them first would memset every chunk once
// more for nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace ckptfs {

template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<std::byte, DefaultInitAllocator<std::byte>>;

}  // namespace ckptfs
