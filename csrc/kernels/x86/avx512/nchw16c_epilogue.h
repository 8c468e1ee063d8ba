// What the AVX-512 nchw16c_f32 kernels share (nchw16c_f32.cc,
// conv_nchw16c_f32.cc; contract: kernels/abi/nchw16c_f32.h): the epilogue
// (+ bias, + residual, clip: the reference's finish() in its order) and the
// output columns whose taps all fall inside the image. Included only by
// translation units of this ISA folder (compiled with AVX-512 flags).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

struct Finish {
  bool clip;
  __m512 lo, hi;
  __m512 apply(__m512 a, __m512 bias, const float* residual) const {
    __m512 v = _mm512_add_ps(a, bias);
    if (residual) v = _mm512_add_ps(v, _mm512_loadu_ps(residual));
    if (clip) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    return v;
  }
};

// Output columns whose taps all fall inside a row of width W: [left, right).
inline void inner_columns(int64_t ow, int64_t sw, int64_t pw, int64_t kw, int64_t dw, int64_t W, int64_t* left,
                          int64_t* right) {
  int64_t l = 0;
  while (l < ow && l * sw - pw < 0) ++l;
  int64_t r = ow;
  while (r > l && (r - 1) * sw - pw + (kw - 1) * dw >= W) --r;
  *left = l;
  *right = r;
}

}  // namespace
}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
