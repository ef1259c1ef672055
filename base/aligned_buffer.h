// AlignedBuffer: a growable byte buffer aligned for direct I/O.
//
// Contents are not initialized (growing discards them): it is scratch space
// for reads that fill it, so no time goes to zeroing bytes about to be
// overwritten.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace ckptfs {

class AlignedBuffer {
 public:
  static constexpr size_t kAlign = 4096;

  std::byte* data() const { return p_.get(); }
  size_t capacity() const { return cap_; }
  // Ensures capacity() >= n; false when memory is exhausted.
  bool Reserve(size_t n) {
    if (n <= cap_) return true;
    const size_t want = (n + kAlign - 1) / kAlign * kAlign;
    auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlign, want));
    if (!p) return false;
    p_.reset(p);
    cap_ = want;
    return true;
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> p_;
  size_t cap_ = 0;
};

}  // namespace ckptfs
