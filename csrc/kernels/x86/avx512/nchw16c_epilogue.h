// What the AVX-512 nchw16c_f32 kernels share (nchw16c_f32.cc,
// conv_nchw16c_f32.cc; contract: kernels/abi/nchw16c_f32.h): the register
// tile's shape, the epilogue
// (+ bias, + residual, clip: the reference's finish() in its order) and the
// output columns whose taps all fall inside the image. Included only by
// translation units of this ISA folder (compiled with AVX-512 flags).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// The pointwise and conv register tile: up to kPixels pixels x kBlocks
// output blocks (24 zmm accumulators); their reductions run in slices of
// kSlice steps, a 4-block weight panel of kSlice x 256 bytes (32 KiB) in L1.
constexpr int kPixels = 6, kBlocks = 4;
constexpr int64_t kSlice = 128;

struct Finish {
  bool clip;
  __m512 lo, hi;
  __m512 apply(__m512 a, __m512 bias, const float* residual) const {
    __m512 v = _mm512_add_ps(a, bias);
    if (residual) v = _mm512_add_ps(v, _mm512_loadu_ps(residual));
    if (clip) v = clip_lanes(v, lo, hi);
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
