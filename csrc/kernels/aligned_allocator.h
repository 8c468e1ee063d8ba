// AlignedAllocator: a std::allocator twin whose blocks start on a 64-byte
// line, for growable float buffers that vector loads read whole lines of
// (the SGEMM's packed A / B panels and its per-thread packing scratch).
// glibc's malloc hands out 16-byte aligned blocks, and the large ones it
// maps (128 KiB and up) start 16 bytes past a page, so with std::vector
// every 64-byte load of such a panel straddles two cache lines (RESULTS.md
// section 200). Fixed-size arrays use AlignedBuffer (aligned_buffer.h).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace int8rt {
namespace kernels {

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}  // NOLINT(runtime/explicit): rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const AlignedAllocator<U>&) const noexcept { return false; }
};

// A growable float array whose data() is 64-byte aligned.
using AlignedFloats = std::vector<float, AlignedAllocator<float>>;

}  // namespace kernels
}  // namespace int8rt
