// transpose_f32_avx512 (abi/transpose_x32.h): 16 x 16 blocks of 32-bit
// elements in registers. Block: 16 rows of x (b, ldx apart; 16 values of a
// each, masked past A, zero rows past B) -> transpose16_regs.h's network ->
// 16 vectors, one per a, stored to y rows (masked past B).
// Moves only: bits are kept (no float arithmetic touches the values).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/transpose_x32.h"
#include "kernels/x86/avx512/transpose16_regs.h"

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
  transpose16_regs(r, t);
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
