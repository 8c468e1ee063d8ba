// The FP32 depthwise-convolution microkernel boundary (the dwconv_f32
// family, kernels/dwconv_f32.h): output planes [first, first + count) of
// the N * C planes (plane t is channel t % C), each
//   v[oy][ox] = bias + sum over (ky, kx) in row-major order of
//               w[ky][kx] * x[oy * sh - ph + ky * dh][ox * sw - pw + kx * dw]
// where taps that fall outside the image are skipped (zero padding); then
//   y = clip(v + residual)   (residual when given, clip when asked:
//                             clip_f32 of kernels/ref/clip_f32.h: NaN stays NaN)
// The reference rounds each product and then adds (no FMA); a vector tier
// may fuse each multiply-add (one rounding per tap) in the same tap order,
// so it differs from the reference by at most (kh * kw + 1) * 2^-23 *
// (|bias| + sum |w x|) before the residual, which tests/test_dwconv_f32.py
// bounds; and where the reference skips a tap outside the image, a vector
// tier may add w * 0 instead (the same sum but for the sign of a zero
// result and for a non-finite w). The residual and clip are exact
// operations after the sum. Plain
// structs and declarations, so ISA translation units may include it
// (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

struct DwConvF32Plane {
  const float* x = nullptr;     // input planes [N * C][H][W]
  const float* w = nullptr;     // taps [C][kh][kw]
  const float* bias = nullptr;  // [C], or nullptr for 0
  float* y = nullptr;           // output planes [N * C][oh][ow]
  const float* residual = nullptr;  // added to y, laid out as y; or nullptr
  bool clip = false;                // then clamp to [lo, hi]
  float lo = 0.f, hi = 0.f;
  int64_t C = 1, first = 0, count = 1;
  int64_t H = 0, W = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
};
using DwConvF32Fn = void (*)(const DwConvF32Plane&);

namespace ref {
void dwconv_f32_plane(const DwConvF32Plane& p);  // ref/dwconv_f32.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512 {
// AVX-512F, 16 outputs per vector, FMA (x86/avx512/dwconv_f32_16.cc).
void dwconv_f32_plane(const DwConvF32Plane& p);
// Its channel-blocked walk (x86/avx512/dwconv_f32_c16.cc): the 16 planes
// t .. t + 15 of `p`, which must be channels c0 .. c0 + 15 of one image
// (c0 = t % C a multiple of 16, C >= c0 + 16); the same bits as the row walk.
void dwconv_f32_c16(const DwConvF32Plane& p, int64_t t);
// Its shift walk (x86/avx512/dwconv_f32_shift.cc): each plane read in place,
// for the geometries dwconv_f32_shift_takes accepts (3x3 / 5x5, pads k / 2,
// stride 1 or 2, no dilation); the same sums as the other walks.
bool dwconv_f32_shift_takes(const DwConvF32Plane& p);
void dwconv_f32_shift(const DwConvF32Plane& p);
}  // namespace avx512
namespace avx2 {
// AVX2+FMA: runs of 8 planes that are channels c0 .. c0 + 7 of one image
// (c0 a multiple of 8) channel-blocked, 8 channels per ymm, FMA; any other
// plane alone, 8 output pixels per ymm, its rows split into stride phases
// (x86/avx2/dwconv_f32_phases8.cc), or the reference loop where its rows
// are under 8 pixels (x86/avx2/dwconv_f32_c8.cc).
void dwconv_f32_plane(const DwConvF32Plane& p);
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
