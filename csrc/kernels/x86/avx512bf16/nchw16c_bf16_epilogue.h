// What the AVX512-BF16 nchw16c_bf16 kernels share (nchw16c_bf16.cc,
// conv_nchw16c_bf16.cc; contract: kernels/abi/nchw16c_bf16.h): 16 BF16
// lanes widened (exact), the epilogue after the bias (+ BF16 residual, clip,
// padded lanes +0, VCVTNEPS2BF16 store: the reference's finish() in its
// order) and the mask of a block's real lanes. Included only by translation
// units of this ISA folder, after kernels/x86/emulation/avx512.h (so the
// same text serves the native build and the emulated twin). A fused float
// activation (abi's Bf16x16cAct: Swish, HardSwish, a chain) runs on a
// tile's finished FP32 vectors before finish(): one call over all of them
// (a call clobbers every zmm, so one per tile, not one per vector), from a
// buffer the tile stores them to (a tile's accumulator array whose address
// is taken is kept in memory through the dot loop: MobileNetV2 ran 5 %
// slower so, RESULTS.md section 255).
#pragma once

#include <cstdint>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

inline __m512 widen(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }
inline __m512 load16(const uint16_t* p) { return widen(_mm256_maskz_loadu_epi16(0xFFFF, p)); }

// Residual, clip, padded lanes to +0 (keep), BF16 store of 16 channels.
inline void finish(__m512 v, const uint16_t* residual, bool clip, __m512 lo, __m512 hi, __mmask16 keep,
                   uint16_t* y) {
  if (residual) v = _mm512_add_ps(v, load16(residual));
  // The bounds first: VMAXPS / VMINPS return their second operand on a NaN
  // or a tie, so NaN stays NaN and -0 stays -0 (kernels/ref/clip_f32.h;
  // kernels/x86/clip_lanes.h, which the emulated twin cannot include).
  if (clip) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
  if (keep != 0xFFFF) v = _mm512_mask_blend_ps(keep, _mm512_setzero_ps(), v);
  _mm256_mask_storeu_epi16(y, 0xFFFF, (__m256i)_mm512_cvtneps_pbh(v));
}

// act on the first n of v's vectors, in place (n <= N).
template <int N>
inline void activate(const Bf16x16cAct& act, __m512 (&v)[N], int n = N) {
  float buf[N * 16];
  for (int i = 0; i < n; ++i) _mm512_storeu_ps(buf + i * 16, v[i]);
  act.fn(act.ctx, buf, n * 16);
  for (int i = 0; i < n; ++i) v[i] = _mm512_loadu_ps(buf + i * 16);
}

inline __mmask16 lanes_kept(int64_t real) {
  return real >= 16 ? 0xFFFF : real <= 0 ? 0 : static_cast<__mmask16>((1u << real) - 1);
}

}  // namespace
}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
