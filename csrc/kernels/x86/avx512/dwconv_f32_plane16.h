// Pieces the AVX-512 FP32 depthwise walks share (dwconv_f32_16.cc,
// dwconv_f32_shift.cc): lane masks, one plane's pointers, and the
// contract's finish (residual, then clip, then the masked store). For
// translation units built with AVX-512F only (STYLE.md, "ISA code is
// fenced"): everything here is internal to the avx512 namespace.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/dwconv_f32.h"
#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace dw16 {

// Bits [lo, hi) of a lane mask, hi <= 64.
inline uint64_t lane_bits(int64_t lo, int64_t hi) {
  if (hi <= lo) return 0;
  const uint64_t upto = hi >= 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return upto & ~((uint64_t{1} << lo) - 1);
}

// The lanes of a 16-wide vector at column col of a row n columns long.
inline __mmask16 row_mask(int64_t col, int64_t n) {
  return static_cast<__mmask16>(lane_bits(0, n - col < 16 ? n - col : 16));
}

// The residual and clip of the contract, then the store of the lanes in m.
struct Finish {
  bool clip;
  __m512 lo, hi;
  explicit Finish(const DwConvF32Plane& p)
      : clip(p.clip), lo(_mm512_set1_ps(p.lo)), hi(_mm512_set1_ps(p.hi)) {}
  inline void store(__m512 v, const float* r, float* y, __mmask16 m) const {
    if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r));
    if (clip) v = clip_lanes(v, lo, hi);  // NaN stays NaN, as the reference
    _mm512_mask_storeu_ps(y, m, v);
  }
};

// One plane's data: input, taps, bias, residual (or null), output.
struct PlaneData {
  const float* x;
  const float* w;
  float bias;
  const float* r;
  float* y;
};

inline PlaneData plane_data(const DwConvF32Plane& p, int64_t t) {
  const int64_t c = t % p.C, n = p.oh * p.ow;
  return {p.x + t * p.H * p.W, p.w + c * p.kh * p.kw, p.bias ? p.bias[c] : 0.f,
          p.residual ? p.residual + t * n : nullptr, p.y + t * n};
}

}  // namespace dw16
}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
