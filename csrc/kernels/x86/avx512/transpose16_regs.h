// The 16 x 16 transpose of 32-bit lanes in AVX-512 registers, shared by the
// transpose kernel (transpose_16x16.cc) and the channel-blocked FP32
// depthwise walk (dwconv_f32_c16.cc): r[i] (row i, 16 values) -> t[a]
// (column a). unpacklo/hi_ps over pairs of rows, shuffle_ps over quads
// (each 128-bit lane then holds one column of four rows), two rounds of
// shuffle_f32x4 (the four lanes of a column gathered from the four quads).
// Moves only: bits are kept. For translation units built with AVX-512F.
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

inline void transpose16_regs(const __m512* r, __m512* t) {
  __m512 u[16], q[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    u[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    u[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // q[4g + c], lane L: column 4L + c of rows 4g .. 4g+3.
#pragma GCC unroll 4
  for (int g = 0; g < 16; g += 4) {
    q[g] = _mm512_shuffle_ps(u[g], u[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    q[g + 1] = _mm512_shuffle_ps(u[g], u[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    q[g + 2] = _mm512_shuffle_ps(u[g + 1], u[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    q[g + 3] = _mm512_shuffle_ps(u[g + 1], u[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_shuffle_f32x4(q[c], q[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 v1 = _mm512_shuffle_f32x4(q[c], q[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 w0 = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 w1 = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    t[c] = _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(2, 0, 2, 0));       // column c
    t[4 + c] = _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(3, 1, 3, 1));   // column 4 + c
    t[8 + c] = _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(2, 0, 2, 0));   // column 8 + c
    t[12 + c] = _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(3, 1, 3, 1));  // column 12 + c
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
