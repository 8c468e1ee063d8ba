// The FP32 clamp of every Relu and Clip in int8rt: the standalone layers, the
// epilogues fused into FP32 / BF16 convolutions and GEMMs (NCHW, NHWC and
// channel-blocked, reference and x86), the float chains. One rule, so a fused
// graph gives the unfused graph's bits and every tier the reference's:
//
//   clip_f32(x, lo, hi): v = x < lo ? lo : x, then hi < v ? hi : v
//   relu_f32(x) = clip_f32(x, 0, +inf) = x < 0 ? 0 : x
//
// which gives what ONNX Runtime gives (std::max(x, lo) then std::min(., hi)
// do the same): a NaN x passes through (both comparisons fail), -0 stays -0
// against lo = 0, +-inf clamp to the bounds.
// The vector twin is _mm*_min_ps(hi, _mm*_max_ps(lo, x)) (kernels/x86/
// clip_lanes.h): MAXPS / MINPS return their second operand on a NaN or a
// tie, so the bounds go first. (The opposite order, max_ps(x, lo), turns a
// NaN into lo: Relu(NaN) = 0, which ONNX Runtime does not give.)
// `static inline` (internal linkage) so that ISA translation units that
// include it keep their own copies (STYLE.md, "ISA code is fenced").
#pragma once

namespace int8rt {
namespace kernels {
namespace ref {

static inline float clip_f32(float x, float lo, float hi) {
  const float v = x < lo ? lo : x;
  return hi < v ? hi : v;
}

static inline float relu_f32(float x) { return x < 0.f ? 0.f : x; }

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
