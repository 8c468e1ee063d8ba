// The 8 x 8 transpose of 32-bit lanes in AVX2 registers, shared by the
// transpose kernel (transpose_8x8.cc) and the channel-blocked FP32
// depthwise walk (dwconv_f32_c8.cc): r[i] (row i, 8 values) -> t[a]
// (column a). unpacklo/hi_ps over pairs of rows, shuffle_ps over quads
// (each 128-bit lane then holds one column of four rows), permute2f128
// (the two quads of one column). Moves only: bits are kept. For
// translation units built with AVX2.
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

inline void transpose8_regs(const __m256* r, __m256* t) {
  __m256 u[8], q[8];
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // q[4g + c]: rows 4g .. 4g+3 of column c (low lane) and c + 4 (high lane).
#pragma GCC unroll 2
  for (int g = 0; g < 8; g += 4) {
    q[g] = _mm256_shuffle_ps(u[g], u[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    q[g + 1] = _mm256_shuffle_ps(u[g], u[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    q[g + 2] = _mm256_shuffle_ps(u[g + 1], u[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    q[g + 3] = _mm256_shuffle_ps(u[g + 1], u[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm256_permute2f128_ps(q[c], q[4 + c], 0x20);      // column c
    t[4 + c] = _mm256_permute2f128_ps(q[c], q[4 + c], 0x31);  // column c + 4
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
