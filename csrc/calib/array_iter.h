// Strided N-d iteration for reductions whose result does not depend on the
// order of the elements (histograms, max |x|).
//
// flatten() rewrites an ArrayView into a canonical form: size-1 dimensions
// dropped, negative strides flipped (the base moved to the lowest address),
// dimensions sorted by decreasing stride and adjacent dimensions fused where
// they are contiguous in memory. Every element is still visited exactly once,
// in an order that walks memory forwards, so a transposed or reversed
// contiguous array becomes one contiguous run. (NumPy's nditer does the same
// "K order" canonicalisation.)
//
// for_each_block() hands the values of a range of elements to a callback as
// float32: contiguous float32 data in place (no copy), anything else (float16,
// strided, unaligned) gathered into a small buffer of at most kBlock values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace detail {

struct FlatView {
  const char* base = nullptr;
  DType dtype = DType::kFloat32;
  int64_t itemsize = 4;
  std::vector<int64_t> shape;    // outermost first; every extent > 1 unless size <= 1
  std::vector<int64_t> strides;  // bytes, >= 0; zero strides (broadcasts) outermost
  int64_t size = 0;

  // One forward run of `size` adjacent items.
  bool contiguous() const { return shape.size() == 1 && strides[0] == itemsize; }
};

// Validates x (matching shape/stride ranks, extents >= 0, data present when
// non-empty) and canonicalises it; errors are InvalidArgument starting with `what`.
FlatView flatten(const ArrayView& x, const std::string& what);

constexpr int64_t kBlock = 1024;
using BlockFn = std::function<void(const float* values, int64_t n)>;

// Calls fn on the float32 values of elements [begin, end) of v's canonical
// order, split in pieces that together cover the range exactly once.
void for_each_block(const FlatView& v, int64_t begin, int64_t end, const BlockFn& fn);

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
