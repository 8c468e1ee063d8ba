// transpose_f32_avx512 (abi/transpose_x32.h): 16 x 16 blocks of 32-bit
// elements in registers. Block: 16 rows of x (b, ldx apart; 16 values of a
// each, masked past A, zero rows past B) -> unpacklo/hi_ps (pairs of rows),
// shuffle_ps (quads of rows: each 128-bit lane holds one a of four rows),
// two rounds of shuffle_f32x4 (the four lanes of a gathered from the four
// quads) -> 16 vectors, one per a, stored to y rows (masked past B).
// Moves only: bits are kept (no float arithmetic touches the values).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/transpose_x32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

__mmask16 first(int64_t n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }

void block(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t na, int64_t nb) {
  const __mmask16 ma = first(na), mb = first(nb);
  __m512 r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = i < nb ? _mm512_maskz_loadu_ps(ma, x + i * ldx) : _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // r[4g + c], lane L: column 4L + c of rows 4g .. 4g+3.
#pragma GCC unroll 4
  for (int g = 0; g < 16; g += 4) {
    r[g] = _mm512_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 v1 = _mm512_shuffle_f32x4(r[c], r[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 w0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 w1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    t[c] = _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(2, 0, 2, 0));       // a = c
    t[4 + c] = _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(3, 1, 3, 1));   // a = 4 + c
    t[8 + c] = _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(2, 0, 2, 0));   // a = 8 + c
    t[12 + c] = _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(3, 1, 3, 1));  // a = 12 + c
  }
#pragma GCC unroll 16
  for (int a = 0; a < 16; ++a) {
    if (a < na) _mm512_mask_storeu_ps(y + a * ldy, mb, t[a]);
  }
}

}  // namespace

void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy) {
  const float* xf = reinterpret_cast<const float*>(x);
  float* yf = reinterpret_cast<float*>(y);
  for (int64_t a = 0; a < A; a += 16) {
    for (int64_t b = 0; b < B; b += 16) block(xf + b * ldx + a, ldx, yf + a * ldy + b, ldy, A - a, B - b);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
