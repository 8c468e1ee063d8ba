// transpose_f32_avx512 (abi/transpose_x32.h): 16 x 16 blocks of 32-bit
// elements in registers. Block: 16 rows of x (b, ldx apart; 16 values of a
// each, masked past A, zero rows past B) -> transpose16_regs.h's network ->
// 16 vectors, one per a, stored to y rows (masked past B).
// transpose_x32 moves only: bits are kept. transpose_add_f32 adds the
// residual's row to each vector before its store, then clips it with
// clip_lanes (kernels/x86/clip_lanes.h: lane by lane the reference's
// clip_f32, NaN and signed zeros included), so its bits. Each residual
// row is prefetched 48 floats (3 blocks) ahead: the blocks walk 16 rows of
// r at once, 64 bytes a step, which the hardware prefetchers did not follow
// (ResNet-50's 256->1024 @14 + residual, batch 8: 1.055x the two-pass path
// without the prefetch, 0.950x with it; RESULTS.md section 92).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/transpose_x32.h"
#include "kernels/x86/clip_lanes.h"
#include "kernels/x86/transpose_add_walk.h"
#include "kernels/x86/avx512/transpose16_regs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

__mmask16 first(int64_t n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }

// One block; store(a, mask, v) writes column a's vector to y's row a.
template <class Store>
void block(const float* x, int64_t ldx, int64_t na, int64_t nb, Store store) {
  const __mmask16 ma = first(na), mb = first(nb);
  __m512 r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = i < nb ? _mm512_maskz_loadu_ps(ma, x + i * ldx) : _mm512_setzero_ps();
  transpose16_regs(r, t);
#pragma GCC unroll 16
  for (int a = 0; a < 16; ++a) {
    if (a < na) store(a, mb, t[a]);
  }
}

void block(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t na, int64_t nb) {
  block(x, ldx, na, nb, [&](int a, __mmask16 m, __m512 v) { _mm512_mask_storeu_ps(y + a * ldy, m, v); });
}

template <bool kClip>
void add_block(const float* x, int64_t ldx, const float* r, float* y, int64_t ldy, int64_t na, int64_t nb,
               const float* clip) {
  block(x, ldx, na, nb, [&](int a, __mmask16 m, __m512 v) {
    _mm_prefetch(reinterpret_cast<const char*>(r + a * ldy + 48), _MM_HINT_T0);
    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r + a * ldy));
    if (kClip) v = clip_lanes(v, _mm512_set1_ps(clip[0]), _mm512_set1_ps(clip[1]));
    _mm512_mask_storeu_ps(y + a * ldy, m, v);
  });
}

}  // namespace

void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy) {
  const float* xf = reinterpret_cast<const float*>(x);
  float* yf = reinterpret_cast<float*>(y);
  for (int64_t a = 0; a < A; a += 16) {
    for (int64_t b = 0; b < B; b += 16) block(xf + b * ldx + a, ldx, yf + a * ldy + b, ldy, A - a, B - b);
  }
}

void transpose_add_f32(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y, int64_t ldy,
                       const float* clip) {
  transpose_add_walk<16>(A, B, x, ldx, r, y, ldy, clip != nullptr, [&](auto kClip, const float* xb, const float* rb,
                                                                      float* yb, int64_t na, int64_t nb) {
    add_block<decltype(kClip)::value>(xb, ldx, rb, yb, ldy, na, nb, clip);
  });
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
