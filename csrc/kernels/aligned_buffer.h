// AlignedBuffer: a zero-initialized, 64-byte aligned array of a fixed size,
// for packed weights and kernel scratch that tile / vector loads read whole
// cache lines of (one line of slack past the end, so a full-line read of the
// last elements stays inside the allocation). Portable C++: the x86 packers
// (x86/packing.h) and the portable BF16 GEMM driver (gemm_bf16.cc) share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace int8rt {
namespace kernels {

// A zero-initialized, 64-byte aligned array (packed weights, scratch).
template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(int64_t n) : size_(n) {
    const size_t bytes = bytes_for(n);
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    data_.reset(static_cast<T*>(p));
  }
  // Sets every element (and the slack past them) to zero again; nothing when empty.
  void zero() {
    if (data_) std::memset(data_.get(), 0, bytes_for(size_));
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  // n elements rounded up to whole 64-byte lines, and one line of slack.
  static size_t bytes_for(int64_t n) { return ((static_cast<size_t>(n) * sizeof(T) + 63) / 64) * 64 + 64; }
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  int64_t size_ = 0;
};

}  // namespace kernels
}  // namespace int8rt
