// transpose_f32_avx2 (abi/transpose_x32.h): 8 x 8 blocks of 32-bit
// elements in registers, the AVX2 port of avx512/transpose_16x16.cc for the
// avx2 and avxvnni caps (before it they ran the scalar reference). Block:
// 8 rows of x (b, ldx apart; 8 values of a each, masked loads past A, zero
// rows past B) -> transpose8_regs.h -> 8 vectors, one per a, stored to y rows
// (whole rows with plain stores, rows under 8 values masked: on Zen 3 the
// masked stores of whole blocks cost RegNetY's grouped NHWC convs up to
// 1.8x; RESULTS.md section 62).
// transpose_x32 moves only: bits are kept. transpose_add_f32 (the AVX2 port
// of avx512's) loads each block as transpose_x32, then adds the residual's
// row to each column vector and clips it with clip_lanes (lane by lane the
// reference's clip_f32, kernels/x86/clip_lanes.h) before the
// store: plain loads and stores for rows of 8, masked under 8.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/transpose_x32.h"
#include "kernels/x86/clip_lanes.h"
#include "kernels/x86/transpose_add_walk.h"
#include "kernels/x86/avx2/transpose8_regs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// Lanes [0, n) set (all for n >= 8), for maskload / maskstore.
__m256i first(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n >= 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void block(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t na, int64_t nb) {
  __m256 r[8], t[8];
  if (na >= 8 && nb >= 8) {  // a whole block: plain loads and stores
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + i * ldx);
    transpose8_regs(r, t);
#pragma GCC unroll 8
    for (int a = 0; a < 8; ++a) _mm256_storeu_ps(y + a * ldy, t[a]);
    return;
  }
  const __m256i ma = first(na);
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = i < nb ? _mm256_maskload_ps(x + i * ldx, ma) : _mm256_setzero_ps();
  transpose8_regs(r, t);
  if (nb >= 8) {
#pragma GCC unroll 8
    for (int a = 0; a < 8; ++a) {
      if (a < na) _mm256_storeu_ps(y + a * ldy, t[a]);
    }
    return;
  }
  // Rows under 8 values (the NHWC conv's copy of an RGB image: 3): masked
  // stores, measured faster here than element-by-element moves or a stack
  // copy (RESULTS.md section 62).
  const __m256i mb = first(nb);
#pragma GCC unroll 8
  for (int a = 0; a < 8; ++a) {
    if (a < na) _mm256_maskstore_ps(y + a * ldy, mb, t[a]);
  }
}

template <bool kClip>
void add_block(const float* x, int64_t ldx, const float* r, float* y, int64_t ldy, int64_t na, int64_t nb,
               const float* clip) {
  __m256 rows[8], t[8];
  const __m256i ma = first(na), mb = first(nb);
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    rows[i] = i >= nb ? _mm256_setzero_ps() : na >= 8 ? _mm256_loadu_ps(x + i * ldx) : _mm256_maskload_ps(x + i * ldx, ma);
  }
  transpose8_regs(rows, t);
#pragma GCC unroll 8
  for (int a = 0; a < 8; ++a) {
    if (a >= na) break;
    const float* ra = r + a * ldy;
    float* ya = y + a * ldy;
    __m256 v = _mm256_add_ps(t[a], nb >= 8 ? _mm256_loadu_ps(ra) : _mm256_maskload_ps(ra, mb));
    if (kClip) v = clip_lanes(v, _mm256_set1_ps(clip[0]), _mm256_set1_ps(clip[1]));
    if (nb >= 8) {
      _mm256_storeu_ps(ya, v);
    } else {
      _mm256_maskstore_ps(ya, mb, v);
    }
  }
}

}  // namespace

void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy) {
  const float* xf = reinterpret_cast<const float*>(x);
  float* yf = reinterpret_cast<float*>(y);
  for (int64_t a = 0; a < A; a += 8) {
    for (int64_t b = 0; b < B; b += 8) block(xf + b * ldx + a, ldx, yf + a * ldy + b, ldy, A - a, B - b);
  }
}

void transpose_add_f32(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y, int64_t ldy,
                       const float* clip) {
  transpose_add_walk<8>(A, B, x, ldx, r, y, ldy, clip != nullptr, [&](auto kClip, const float* xb, const float* rb,
                                                                      float* yb, int64_t na, int64_t nb) {
    add_block<decltype(kClip)::value>(xb, ldx, rb, yb, ldy, na, nb, clip);
  });
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
