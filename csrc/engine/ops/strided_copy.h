// The one strided gather of the data-movement layers (Transpose, Slice,
// Expand): y, dense and in order with shape `odims` (rank >= 1), takes
// y[i0, ..., ik] = x[i0 * istride[0] + ... + ik * istride[k]], strides in
// elements (0 repeats a broadcast dim; a negative step reads backwards).
// One parallel task per block of output rows, the inner loop over the last
// dim with a fixed input stride. Elements are 1, 4 or 8 bytes (the engine's
// dtypes); the copy never converts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "engine/value.h"

namespace int8rt {
namespace engine {

template <typename T>
void strided_copy(const T* x, T* y, const Shape& odims, const std::vector<int64_t>& istride) {
  const size_t nd = odims.size();
  const int64_t inner = odims.back(), is = istride.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < nd; ++d) rows *= odims[d];
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t off = 0, t = r;
      for (size_t d = nd - 1; d-- > 0;) {
        off += (t % odims[d]) * istride[d];
        t /= odims[d];
      }
      const T* s = x + off;
      T* dst = y + r * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = s[i * is];
    }
  });
}

// strided_copy on elements of `bytes` (dtype_size of the tensor's dtype).
inline void strided_copy(size_t bytes, const void* x, void* y, const Shape& odims,
                         const std::vector<int64_t>& istride) {
  if (bytes == 8) {
    strided_copy(static_cast<const int64_t*>(x), static_cast<int64_t*>(y), odims, istride);
  } else if (bytes == 4) {
    strided_copy(static_cast<const int32_t*>(x), static_cast<int32_t*>(y), odims, istride);
  } else {
    strided_copy(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), odims, istride);
  }
}

}  // namespace engine
}  // namespace int8rt
