// THE definition of int8rt's requantization, quantization and rescaling
// arithmetic (DESIGN.md, "Numerics"). Every reference kernel calls these
// functions and every optimized kernel must reproduce them bit for bit:
// the same float32 operations, one rounding each, in the order written here
// (no FMA: the library builds with -ffp-contract=off; a vector kernel uses a
// separate multiply and add, never a fused one).
//
// Rounding is round-half-to-even (nearbyintf under the default rounding mode,
// which int8rt never changes; cvtps2dq under the default MXCSR rounds alike).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/kernel_types.h"

namespace int8rt {
namespace kernels {
namespace ref {

// clamp written as two selects: NaN compares false and takes the bound on the
// lower side (x >= lo fails), which is also what _mm*_max_ps(x, lo) returns.
inline float clamp_lower(float x, float lo) { return x >= lo ? x : lo; }
inline float clamp_upper(float x, float hi) { return x <= hi ? x : hi; }

// Round half to even to int8. The caller guarantees t in [-128, 127].
// Written as nearbyintf under the default rounding mode computes it, without
// the libm call (baseline x86-64 has no roundss): t + 1.5 * 2^23 lies in
// [2^23, 2^24), where floats are the integers, so the addition rounds t half
// to even and the subtraction is exact. (-ffp-contract=off and no
// -ffast-math keep both operations.)
inline int8_t round_to_s8(float t) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  return static_cast<int8_t>((t + kRound) - kRound);
}

// PReLU of one value: t < 0 ? t * slope : t (NaN passes unchanged).
inline float prelu_value(float t, float slope) { return t < 0.0f ? t * slope : t; }

// The epilogue's last steps for channel k, from the float t of the
// accumulator, bias and residual (requantize below):
//   t = prelu_value(t, slope[k])              (only when ep.slope is set)
//   t = max(t, clamp_lo); t = min(t, clamp_hi)
// A layer whose kernel does not apply ep.slope (PackedConv::applies_slope)
// has the kernel write t as float32 (no slope, no clamp) and finishes each
// value with finish_output, so both forms give the same bits.
inline float activate(float t, int k, const Epilogue& ep) {
  if (ep.slope) t = prelu_value(t, ep.slope[k]);
  t = clamp_lower(t, ep.clamp_lo);
  t = clamp_upper(t, ep.clamp_hi);
  return t;
}

// Epilogue for one accumulator of output channel k (`residual` is the int8
// value at the same output position, ignored when ep.residual is null):
//   t = (float)acc * scale[k]
//   t = t + bias[k]                           (bias null: t + 0.0f)
//   t = t + (float)residual * residual_scale  (only when ep.residual is set)
//   t = activate(t, k, ep)                    (PReLU with a slope, the clamp)
// The result is the float t; int8 outputs store round_to_s8(t).
inline float requantize(int32_t acc, int k, const Epilogue& ep, int8_t residual) {
  float t = static_cast<float>(acc) * ep.scale[k];
  t = t + (ep.bias ? ep.bias[k] : 0.0f);
  if (ep.residual) {
    float r = static_cast<float>(residual) * ep.residual_scale;
    t = t + r;
  }
  return activate(t, k, ep);
}

// The int8 output of a float t that a kernel wrote with its epilogue's
// slope and clamp left out (out_type float32, clamp [-inf, inf]): what
// store_output stores for the same accumulator (ep: the int8 epilogue).
inline int8_t finish_output(float t, int k, const Epilogue& ep) { return round_to_s8(activate(t, k, ep)); }
// The same for an epilogue with a slope, its fields given as values
// (slope = ep.slope[k], lo = ep.clamp_lo, hi = ep.clamp_hi), and an output
// zero point z added after the slope (a folded PRelu whose output is held on
// a lower-bounded grid, engine/lower_int8_zero_points.cc; the bias is then
// centred: PReLU does not commute with a shift):
//   v = prelu_value(t, slope); v = v + z; clamp to [lo, hi]; round.
// z = 0 gives the epilogue without a zero point, bit for bit (v + 0.0f only
// turns -0.0 into +0.0, which rounds alike). Such a layer runs every tier,
// the reference included, as a float32-output conv finished by this
// function (engine/ops/int8/qconv_prelu.cc). No branch, so a loop of it
// vectorizes.
inline int8_t finish_output(float t, float slope, float z, float lo, float hi) {
  float v = prelu_value(t, slope);
  v = v + z;
  return round_to_s8(clamp_upper(clamp_lower(v, lo), hi));
}

// Stores the epilogue result for flat output index i (channel k) into y,
// an int8_t or float array according to ep.out_type.
inline void store_output(int32_t acc, int k, int64_t i, const Epilogue& ep, void* y) {
  int8_t r = ep.residual ? ep.residual[i] : int8_t{0};
  float t = requantize(acc, k, ep, r);
  if (ep.out_type == OutputType::kInt8) {
    static_cast<int8_t*>(y)[i] = round_to_s8(t);
  } else {
    static_cast<float*>(y)[i] = t;
  }
}

// float -> int8 with inv_scale = 1.0f / scale computed once by the caller:
//   q = rne(min(max(x * inv_scale, -128), 127));  NaN -> -128.
inline int8_t quantize_value(float x, float inv_scale) {
  float v = x * inv_scale;
  v = clamp_lower(v, -128.0f);
  v = clamp_upper(v, 127.0f);
  return round_to_s8(v);
}

// float -> int8 with a zero point z (an asymmetric activation of a
// pre-quantized model; z = 0 is quantize_value's arithmetic):
//   q = rne(min(max(x * inv_scale + z, -128), 127));  NaN -> -128.
inline int8_t quantize_value(float x, float inv_scale, float zero_point) {
  float v = x * inv_scale;
  v = v + zero_point;
  v = clamp_lower(v, -128.0f);
  v = clamp_upper(v, 127.0f);
  return round_to_s8(v);
}

// int8 -> float with a zero point z: x = (float)(q - z) * scale.
inline float dequantize_value(int8_t q, float scale, int32_t zero_point) {
  return static_cast<float>(static_cast<int32_t>(q) - zero_point) * scale;
}

// int8 -> float: x = (float)q * scale.
inline float dequantize_value(int8_t q, float scale) { return static_cast<float>(q) * scale; }

// Rescale of an int8 value by a precomputed multiplier m (concat, and the
// two terms of add):  q' = rne(min(max((float)q * m, lo), hi)).
inline int8_t rescale_value(int8_t q, float m, float lo, float hi) {
  float t = static_cast<float>(q) * m;
  return round_to_s8(clamp_upper(clamp_lower(t, lo), hi));
}

// rescale_value between tensors with zero points (int8 range):
//   t = (float)(q - z_in) * m + (float)z_out, then as rescale_value.
inline int8_t rescale_value_zp(int8_t q, float m, int32_t z_in, int32_t z_out, float lo, float hi) {
  float t = static_cast<float>(static_cast<int32_t>(q) - z_in) * m;
  t = t + static_cast<float>(z_out);
  return round_to_s8(clamp_upper(clamp_lower(t, lo), hi));
}

// Average pooling's multiplier for a window of `count` values:
//   m(count) = s_in / (s_out * (float)count)   (multiply, then divide).
inline float avgpool_multiplier(float s_in, float s_out, int64_t count) {
  float denom = s_out * static_cast<float>(count);
  return s_in / denom;
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
