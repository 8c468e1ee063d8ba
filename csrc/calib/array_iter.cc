// Canonicalisation and block iteration of strided arrays (see array_iter.h),
// plus ArrayView's own small methods.
#include "calib/array_iter.h"

#include <algorithm>
#include <cstring>

#include "core/checked_math.h"
#include "core/half.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {

int64_t ArrayView::size() const { return checked_numel(shape, "array view"); }

ArrayView ArrayView::contiguous(const float* data, int64_t n) {
  ArrayView v;
  v.data = data;
  v.dtype = DType::kFloat32;
  v.shape = {n};
  v.strides = {static_cast<int64_t>(sizeof(float))};
  return v;
}

namespace detail {

FlatView flatten(const ArrayView& x, const std::string& what) {
  if (x.shape.size() != x.strides.size()) {
    throw InvalidArgument(what + ": array view has " + std::to_string(x.shape.size()) +
                          " dimensions but " + std::to_string(x.strides.size()) + " strides");
  }
  FlatView v;
  v.dtype = x.dtype;
  v.itemsize = x.dtype == DType::kFloat32 ? 4 : 2;
  v.size = checked_numel(x.shape, what + ": array shape");
  if (v.size > 0 && x.data == nullptr) throw InvalidArgument(what + ": array data is null");
  v.base = static_cast<const char*>(x.data);
  if (v.size == 0) return v;

  struct Dim {
    int64_t extent, stride;
  };
  std::vector<Dim> dims;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    int64_t extent = x.shape[d], stride = x.strides[d];
    if (extent == 1) continue;
    if (stride < 0) {  // walk it forwards from its lowest address instead
      v.base += stride * (extent - 1);
      stride = -stride;
    }
    dims.push_back({extent, stride});
  }
  // Largest stride outermost; broadcast (zero-stride) dimensions outermost of all.
  auto key = [](const Dim& d) { return d.stride == 0 ? INT64_MAX : d.stride; };
  std::stable_sort(dims.begin(), dims.end(),
                   [&](const Dim& a, const Dim& b) { return key(a) > key(b); });
  std::vector<Dim> fused;
  for (const Dim& d : dims) {
    if (!fused.empty() && fused.back().stride == d.stride * d.extent) {
      fused.back() = {fused.back().extent * d.extent, d.stride};
    } else {
      fused.push_back(d);
    }
  }
  if (fused.empty()) fused.push_back({1, v.itemsize});
  for (const Dim& d : fused) {
    v.shape.push_back(d.extent);
    v.strides.push_back(d.stride);
  }
  return v;
}

namespace {

// Collects values into a buffer of kBlock floats and passes full buffers on.
class Gatherer {
 public:
  Gatherer(DType dtype, const BlockFn& fn)
      : dtype_(dtype), itemsize_(dtype == DType::kFloat32 ? 4 : 2), fn_(fn) {}

  // Appends n items starting at p, `stride` bytes apart.
  void add(const char* p, int64_t n, int64_t stride) {
    while (n > 0) {
      int64_t take = std::min(n, kBlock - fill_);
      if (stride == itemsize_) {  // a contiguous run (float16, or unaligned float32)
        std::memcpy(dtype_ == DType::kFloat32 ? static_cast<void*>(&values_[fill_])
                                              : static_cast<void*>(&halves_[fill_]),
                    p, static_cast<size_t>(take * stride));
      } else if (dtype_ == DType::kFloat32) {
        for (int64_t j = 0; j < take; ++j) std::memcpy(&values_[fill_ + j], p + j * stride, 4);
      } else {
        for (int64_t j = 0; j < take; ++j) std::memcpy(&halves_[fill_ + j], p + j * stride, 2);
      }
      fill_ += take;
      p += take * stride;
      n -= take;
      if (fill_ == kBlock) flush();
    }
  }

  void flush() {
    if (fill_ == 0) return;
    if (dtype_ == DType::kFloat16) half_bits_to_float(halves_, values_, fill_);
    fn_(values_, fill_);
    fill_ = 0;
  }

 private:
  DType dtype_;
  int64_t itemsize_;
  const BlockFn& fn_;
  int64_t fill_ = 0;
  float values_[kBlock];
  uint16_t halves_[kBlock];
};

// Runs of at least this many aligned contiguous float32 values skip the buffer.
constexpr int64_t kDirectRun = 256;

bool direct(const FlatView& v, const char* p, int64_t stride, int64_t run) {
  return v.dtype == DType::kFloat32 && stride == 4 && run >= kDirectRun &&
         reinterpret_cast<uintptr_t>(p) % alignof(float) == 0;
}

}  // namespace

void for_each_block(const FlatView& v, int64_t begin, int64_t end, const BlockFn& fn) {
  begin = std::max<int64_t>(begin, 0);
  end = std::min(end, v.size);
  if (begin >= end) return;
  Gatherer gather(v.dtype, fn);
  const int64_t nd = static_cast<int64_t>(v.shape.size());
  const int64_t inner_extent = v.shape[nd - 1], inner_stride = v.strides[nd - 1];
  std::vector<int64_t> index(nd);
  int64_t rest = begin;
  for (int64_t d = nd - 1; d >= 0; --d) {
    index[d] = rest % v.shape[d];
    rest /= v.shape[d];
  }
  int64_t remaining = end - begin;
  while (remaining > 0) {
    int64_t offset = 0;
    for (int64_t d = 0; d < nd; ++d) offset += index[d] * v.strides[d];
    const char* p = v.base + offset;
    int64_t run = std::min(inner_extent - index[nd - 1], remaining);
    if (direct(v, p, inner_stride, run)) {
      gather.flush();
      fn(reinterpret_cast<const float*>(p), run);
    } else {
      gather.add(p, run, inner_stride);
    }
    remaining -= run;
    index[nd - 1] += run;
    for (int64_t d = nd - 1; d > 0 && index[d] == v.shape[d]; --d) {
      index[d] = 0;
      ++index[d - 1];
    }
  }
  gather.flush();
}

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
