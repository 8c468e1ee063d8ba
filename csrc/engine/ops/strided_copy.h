// The one strided gather of the data-movement layers (Transpose, Slice,
// Expand): y, dense and in order with shape `odims` (rank >= 1), takes
// y[i0, ..., ik] = x[i0 * istride[0] + ... + ik * istride[k]], strides in
// elements (0 repeats a broadcast dim; a negative step reads backwards).
// One parallel task per block of output rows, the inner loop over the last
// dim with a fixed input stride. Where that stride is not 1 but the dim
// before the last reads with stride 1 (a 2-D transpose: NCHW <-> NHWC, the
// INT8 engine's layout changes), the last two dims are copied in square tiles
// instead, so each cache line read serves a whole tile row rather than one
// element; for 4-byte elements a caller may pass the transpose_f32 kernel
// it chose (kernels/transpose_x32.h: 16 x 16 register blocks on AVX-512) to
// copy those tiles. A last dim read with stride 0 (Expand of a per-channel
// [N, C, 1, 1] gate to [N, C, H, W]: ECA / SE modules' expand_as) is a fill of
// each row with one value, never the tile path. Elements are 1, 2, 4 or 8
// bytes (the engine's dtypes); the copy never converts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "engine/value.h"
#include "kernels/abi/transpose_x32.h"

namespace int8rt {
namespace engine {

// y[o][a][b] = x[off(o) + a + b * is] for the last two output dims (A, B):
// tiles of kTile x kTile, one parallel task per (o, tile row); with `tile32`
// (4-byte T only) each task's kTile x B block in one call of it.
template <typename T>
void transpose_tiles(const T* x, T* y, const Shape& odims, const std::vector<int64_t>& istride,
                     kernels::TransposeX32Fn tile32 = nullptr) {
  constexpr int64_t kTile = 32;
  const size_t nd = odims.size();
  const int64_t A = odims[nd - 2], B = odims[nd - 1], is = istride[nd - 1];
  const int64_t tiles = (A + kTile - 1) / kTile;
  int64_t outer = 1;
  for (size_t d = 0; d + 2 < nd; ++d) outer *= odims[d];
  parallel_for(outer * tiles, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, kTile * B)), [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t o = task / tiles, a0 = (task % tiles) * kTile, a1 = std::min(A, a0 + kTile);
      int64_t off = 0, t = o;
      for (size_t d = nd - 2; d-- > 0;) {
        off += (t % odims[d]) * istride[d];
        t /= odims[d];
      }
      const T* s = x + off;
      T* dst = y + o * A * B;
      if (sizeof(T) == 4 && tile32) {
        tile32(a1 - a0, B, reinterpret_cast<const uint32_t*>(s + a0), is, reinterpret_cast<uint32_t*>(dst + a0 * B), B);
        continue;
      }
      for (int64_t b0 = 0; b0 < B; b0 += kTile) {
        const int64_t b1 = std::min(B, b0 + kTile);
        if (b1 - b0 >= 8) {
          for (int64_t a = a0; a < a1; ++a) {
            for (int64_t b = b0; b < b1; ++b) dst[a * B + b] = s[a + b * is];
          }
        } else {  // a short last dim (a channel shuffle's groups): the long loop inside
          for (int64_t b = b0; b < b1; ++b) {
            for (int64_t a = a0; a < a1; ++a) dst[a * B + b] = s[a + b * is];
          }
        }
      }
    }
  });
}

// odims / istride with size-1 dims dropped and neighbours that read as one
// dim merged (istride[d] == istride[d + 1] * odims[d + 1]): the same copy
// over fewer, longer rows. A slice that keeps whole trailing dims, or one
// whose last dim is 1 (magika's [N, 512, 256, 1]: 131072 rows of one
// element before), becomes a few long memcpy rows.
inline void coalesce_dims(const Shape& odims, const std::vector<int64_t>& istride, Shape* od,
                          std::vector<int64_t>* is) {
  od->clear();
  is->clear();
  for (size_t d = 0; d < odims.size(); ++d) {
    if (odims[d] == 1) continue;
    if (!od->empty() && is->back() == istride[d] * odims[d]) {
      od->back() *= odims[d];
      is->back() = istride[d];
      continue;
    }
    od->push_back(odims[d]);
    is->push_back(istride[d]);
  }
  if (od->empty()) {  // one element
    od->push_back(1);
    is->push_back(1);
  }
}

template <typename T>
void strided_copy(const T* x, T* y, const Shape& full_odims, const std::vector<int64_t>& full_istride,
                  kernels::TransposeX32Fn tile32 = nullptr) {
  // Per thread, grown, never shrunk: a layer copying run after run allocates nothing once
  // sized. The references are what the parallel_for below captures, so its helpers read this
  // thread's dims (a thread_local named in a lambda would be the helper's own) while this
  // thread waits for them; nothing here calls strided_copy again before it returns.
  thread_local Shape odims_here;
  thread_local std::vector<int64_t> istride_here;
  Shape& odims = odims_here;
  std::vector<int64_t>& istride = istride_here;
  coalesce_dims(full_odims, full_istride, &odims, &istride);
  const size_t nd = odims.size();
  const int64_t inner = odims.back(), is = istride.back();
  if (nd >= 2 && is != 1 && is != 0 && istride[nd - 2] == 1 && odims[nd - 2] >= 8) {
    transpose_tiles(x, y, odims, istride, tile32);
    return;
  }
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < nd; ++d) rows *= odims[d];
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)), [&](int64_t b, int64_t e) {
    // The row index as digits over the outer dims (one division per dim for
    // the task's first row), then advanced like an odometer: a head split's
    // 64-byte rows cost two divisions each otherwise.
    int64_t digit_here[16] = {};
    std::vector<int64_t> digit_heap(nd > 16 ? nd : 0);  // ONNX ranks are unbounded
    int64_t* const digit = nd > 16 ? digit_heap.data() : digit_here;
    int64_t off = 0;
    for (size_t d = nd - 1, t = static_cast<size_t>(b); d-- > 0;) {
      digit[d] = static_cast<int64_t>(t % static_cast<size_t>(odims[d]));
      t /= static_cast<size_t>(odims[d]);
      off += digit[d] * istride[d];
    }
    for (int64_t r = b; r < e; ++r) {
      const T* s = x + off;
      T* dst = y + r * inner;
      if (is == 1 && inner * sizeof(T) == 64) {
        std::memcpy(dst, s, 64);  // a head's 64 int8 values (BERT's heads split and joined): inlined moves
      } else if (is == 1 && inner * sizeof(T) == 32) {
        std::memcpy(dst, s, 32);  // MiniLM's 32-value heads: a call per row cost 4% of its engine at batch 8
      } else if (is == 1) {
        std::memcpy(dst, s, static_cast<size_t>(inner) * sizeof(T));
      } else if (is == 0) {  // a broadcast row: element by element through the tiles cost ECA-ResNet-26t 8% in BF16
        std::fill(dst, dst + inner, *s);
      } else {
        for (int64_t i = 0; i < inner; ++i) dst[i] = s[i * is];
      }
      for (size_t d = nd - 1; d-- > 0;) {  // the next row: carry through the outer dims
        off += istride[d];
        if (++digit[d] < odims[d]) break;
        off -= digit[d] * istride[d];
        digit[d] = 0;
      }
    }
  });
}

// strided_copy on elements of `bytes` (dtype_size of the tensor's dtype).
inline void strided_copy(size_t bytes, const void* x, void* y, const Shape& odims,
                         const std::vector<int64_t>& istride, kernels::TransposeX32Fn tile32 = nullptr) {
  if (bytes == 8) {
    strided_copy(static_cast<const int64_t*>(x), static_cast<int64_t*>(y), odims, istride);
  } else if (bytes == 4) {
    strided_copy(static_cast<const int32_t*>(x), static_cast<int32_t*>(y), odims, istride, tile32);
  } else if (bytes == 2) {
    strided_copy(static_cast<const int16_t*>(x), static_cast<int16_t*>(y), odims, istride);
  } else {  // 1
    strided_copy(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), odims, istride);
  }
}

}  // namespace engine
}  // namespace int8rt
