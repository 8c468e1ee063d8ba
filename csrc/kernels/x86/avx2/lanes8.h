// 8-lane helpers shared by this folder's float32 kernels (AVX2 flags only,
// this ISA's namespace): the mask of the first n lanes for maskload /
// maskstore, and the float32 depthwise kernels' output epilogue, one vector
// of 8 outputs at a time: + residual, the clip (clip_lanes: NaN stays NaN,
// as the reference), stored whole or, for a row's last partial vector, in
// the mask's lanes only.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

// Lanes [0, n) set (n in 0..8).
inline __m256i lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// v's 8 outputs into y: + res (nullptr: none), then the clip where `clip`;
// `part`: only the lanes of m are read from res and written to y.
inline void store_output8(__m256 v, const float* res, bool clip, __m256 lo, __m256 hi, bool part, __m256i m,
                          float* y) {
  if (res) v = _mm256_add_ps(v, part ? _mm256_maskload_ps(res, m) : _mm256_loadu_ps(res));
  if (clip) v = clip_lanes(v, lo, hi);
  if (part) {
    _mm256_maskstore_ps(y, m, v);
  } else {
    _mm256_storeu_ps(y, v);
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
