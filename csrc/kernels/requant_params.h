// Builds the per-channel epilogue arrays and the rescale multipliers from
// quantization scales. Part of the numerics spec: the engine computes these
// once per layer at build/load time with exactly the float32 operations
// written below, and every kernel consumes the results (ref/requantize.h).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel_types.h"

namespace int8rt {
namespace kernels {

// A fused activation that is a clamp in float units.
enum class Activation {
  kNone,   // no clamp (int8 output: [-128, 127])
  kRelu,   // max(x, 0)
  kRelu6,  // min(max(x, 0), 6)
  kClip,   // min(max(x, clip_min), clip_max)
};

// Owning storage for an Epilogue's arrays (one concept, the requantization
// epilogue, under three types: EpilogueStorage owns the per-channel arrays a
// layer keeps; Epilogue (kernel_types.h) is the non-owning view a kernel's
// run() takes; x86::TileEpilogue (abi/conv_gemm_s8.h) is that view moved to
// one microkernel tile. ref::requantize (ref/requantize.h) is their arithmetic.)
struct EpilogueStorage {
  std::vector<float> scale;
  std::vector<float> bias;
  float clamp_lo = 0.0f;
  float clamp_hi = 0.0f;
  OutputType out_type = OutputType::kInt8;
  std::vector<float> slope;  // a fused PReLU's slopes (Epilogue::slope), or empty

  // A view over this object's arrays; valid while *this lives unchanged.
  Epilogue epilogue(const int8_t* residual = nullptr, float residual_scale = 0.0f) const;
};

// An activation's scale as an epilogue reads it: one for the whole tensor
// (count 1) or one per channel (count = the layer's channels K), the form
// of a pre-quantized model's QuantizeLinear with axis 1
// (engine/lower_int8_qdq.cc). A non-owning view.
struct ChannelScales {
  const float* values = nullptr;
  int64_t count = 0;
  float operator[](int64_t k) const { return values[count == 1 ? 0 : k]; }
  bool per_channel() const { return count != 1; }
};

// Per output channel k of a layer with input scale s_in, weight scales
// s_w[k] (per channel), float bias b[k] (may be null = 0) and output scale
// s_out (int8 output only; ignored for float output):
//   int8 out:    scale[k] = (s_in * s_w[k]) / s_out     (multiply, then divide)
//                bias[k]  = b[k] / s_out
//                lo = max(act_lo / s_out, -128), hi = min(act_hi / s_out, 127)
//   float out:   scale[k] = s_in * s_w[k];  bias[k] = b[k];  lo = act_lo, hi = act_hi
// where [act_lo, act_hi] is the activation's range in float units: None
// (-inf, inf), Relu [0, inf), Relu6 [0, 6], Clip [clip_min, clip_max]
// (x / s_out of an infinite bound stays infinite and is then clipped).
// Throws InvalidArgument on a non-positive or non-finite scale, a
// non-finite bias, or an empty clamp range.
EpilogueStorage make_epilogue(float s_in, const float* s_w, int64_t K, const float* bias, float s_out,
                     OutputType out_type, Activation act = Activation::kNone,
                     float clip_min = 0.0f, float clip_max = 6.0f);

// The same with per-channel activation scales: s_in[k] is the scale of the
// input channel output channel k reads alone (a depthwise conv), s_out[k]
// output channel k's scale (int8 output only); each is one value or K.
// Every formula above with s_in[k] and s_out[k] in place of s_in and s_out,
// the same operations (one value each: make_epilogue's results, bit for
// bit). The clamp is one per epilogue, so the channels' bounds
// lo[k] = max(act_lo / s_out[k], -128), hi[k] = min(act_hi / s_out[k], 127)
// must give the same int8 results: common_int8_clamp. Throws as above, and
// InvalidArgument when the channels' clamps differ or a float output has
// per-channel output scales.
EpilogueStorage make_epilogue(ChannelScales s_in, const float* s_w, int64_t K, const float* bias, ChannelScales s_out,
                              OutputType out_type, Activation act = Activation::kNone, float clip_min = 0.0f,
                              float clip_max = 6.0f);

// One int8 clamp standing for the per-channel bounds lo[k] <= hi[k] (int8
// units, within [-128, 127], K >= 1) of an int8 output: each bound side's
// values all equal (that value), or all lie strictly within 0.5 of one
// integer n (then n: a value clamped to any of them rounds half to even to
// n, as one clamped to n does, so round(min(max(t, lo[k]), hi[k])) is the
// same for every t, NaN included). False when a side has no such bound.
bool common_int8_clamp(const float* lo, const float* hi, int64_t K, float* lo_out, float* hi_out);

// The int8 clamp bounds of channel k for an output scale s_out and zero
// point z_out (float units [act_lo, act_hi] from `act`, clip_min, clip_max):
// lo = max(act_lo / s_out + z_out, -128), hi = min(act_hi / s_out + z_out, 127).
void int8_clamp_bounds(Activation act, float clip_min, float clip_max, float s_out, int32_t z_out, float* lo,
                       float* hi);

// Zero points of asymmetric int8 activations (a pre-quantized model's
// QuantizeLinear; the input x real = (q - z_in) * s_in, the output
// q = sat(rne(real / s_out) + z_out)), folded into an epilogue made above
// with the same scales and activation range [act_lo, act_hi] (float units;
// s_in and s_out per tensor or per channel as there, s_in[k] and s_out[k]
// below). With w_sum[k] = sum of channel k's int8 weights, exact in int64:
//   int8 out:   bias[k] = (b[k] - (float)(z_in * w_sum[k]) * (s_in[k] * s_w[k])) / s_out[k] + (float)z_out
//               lo = max(act_lo / s_out + z_out, -128), hi = min(act_hi / s_out + z_out, 127)
//                 (per channel: common_int8_clamp of the channels' bounds)
//   float out:  bias[k] = b[k] - (float)(z_in * w_sum[k]) * (s_in[k] * s_w[k])
// so acc * scale[k] + bias[k] is the epilogue of the accumulator of the
// centred input (q - z_in) shifted by z_out, to float rounding of the
// constant terms. Both zero points 0: rq is left as make_epilogue made it.
void apply_zero_points(EpilogueStorage& rq, ChannelScales s_in, const float* s_w, const int64_t* w_sum,
                       const float* bias, ChannelScales s_out, Activation act, float clip_min, float clip_max,
                       int32_t z_in, int32_t z_out);

// A fused residual r with zero point z_r adds (r - z_r) * residual_scale:
//   bias[k] = bias[k] - (float)z_r * residual_scale   (z_r = 0: unchanged).
void apply_residual_zero_point(EpilogueStorage& rq, float residual_scale, int32_t z_r);

// residual_scale of an Epilogue for a residual of scale s_res: s_res / s_out.
float residual_multiplier(float s_res, float s_out);

// Quantized add y = a + b (elementwise, same shape), see ref add_s8:
//   a_mult = s_a / s_y, b_mult = s_b / s_y; lo = relu ? 0 : -128; hi = 127.
// With zero points (a pre-quantized model's asymmetric activations):
//   offset = (float)z_y - (float)z_a * a_mult - (float)z_b * b_mult (in that
//   order), added after the two products; lo = relu ? max(z_y, -128) : -128.
struct AddParams {
  float a_mult = 1.0f;
  float b_mult = 1.0f;
  float clamp_lo = -128.0f;
  float clamp_hi = 127.0f;
  float offset = 0.0f;  // zero points only; 0 adds nothing
};
AddParams make_add_params(float s_a, float s_b, float s_y, bool relu, int32_t z_a = 0, int32_t z_b = 0,
                          int32_t z_y = 0);

// Concat / requantize multiplier of an input with scale s_in into an output
// with scale s_out: s_in / s_out (exactly 1.0f when the scales are equal).
float rescale_multiplier(float s_in, float s_out);

}  // namespace kernels
}  // namespace int8rt
