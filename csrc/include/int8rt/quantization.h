// int8rt's quantization numerics, in one place (DESIGN.md, "Numerics"):
// the TensorRT scale of a threshold, symmetric per-channel weight
// quantization, and the scale's spelling in a calibration cache. The
// calibrator, the cache reader and writer, the lowering and the Python
// package (int8rt._core, bind_quantization.cc) all use these; none spells
// 127 or the hex encoding again.
//
// Units: amax is a clipping threshold in the tensor's float units; a scale is
// float units per int8 step. Every function is pure and thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace int8rt {
namespace quant {

// The largest int8 magnitude of symmetric quantization (TensorRT's 8 bits).
constexpr float kInt8Max = 127.0f;

// Activation scale of a threshold: amax / 127 in float32 (TensorRT's
// convention, so its calibration cache is meaningful). amax 0 gives scale 0
// (TensorRT writes that for a tensor it saw as all zeros); +inf gives +inf;
// NaN stays NaN. Refusing such scales is the cache writer's and the
// lowering's job (calibration.h, write_cache; lower_int8.cc, has_scale).
inline float scale_from_amax(float amax) { return amax / kInt8Max; }

// The threshold a scale stands for: scale * 127 in float32 (a calibration
// cache holds scales only).
inline float amax_from_scale(float scale) { return scale * kInt8Max; }

// Unsigned activations (BuilderConfig::unsigned_activations; docs/numerics.md):
// a tensor that is never negative may be held with 256 levels over
// [0, amax] instead of 128: real x = scale * (q - zero_point) with
// q = sat(rne(x / scale) + zero_point) in int8, zero point -128 (so q + 128
// is the uint8 code the VNNI kernels form anyway) and scale = amax / 255,
// amax being the threshold the symmetric scale stands for (the calibration
// cache keeps that symmetric scale; this is derived from it, in float32).
constexpr float kUint8Max = 255.0f;
constexpr int32_t kUnsignedZeroPoint = -128;
inline float unsigned_scale_from_scale(float scale) { return amax_from_scale(scale) / kUint8Max; }

// Lower-bounded activations (BuilderConfig::asymmetric_activations;
// docs/numerics.md): a tensor proven to lie in [lo, amax] with
// -amax < lo <= 0 (a table's output: lo is the least of its 256 float
// values, e.g. SiLU's -0.278) gets 256 levels over [lo', amax]:
//   unit = amax / 1024,  lo' = -(ceil(-lo / unit) * unit)   (lo rounded down
//     to a multiple of unit, so that an ulp of difference between the float
//     layers of two ISA tiers does not move the grid)
//   scale = (amax - lo') / 255,  zero_point = -128 - rne(lo' / scale)
// each step in float32, amax = amax_from_scale(symmetric scale). The zero
// point is an integer, so 0.0 is exactly code zero_point (as ONNX's
// QuantizeLinear and ONNX Runtime require); lo itself maps to -128 within
// half a step. lo = 0 is the unsigned rule above, bit for bit (scale
// amax / 255, zero point -128). ok is false (keep the tensor symmetric)
// when lo' is not in (-amax, 0] or the scale is not finite and > 0: the
// grid would gain nothing over the symmetric one.
constexpr float kLowerBoundSteps = 1024.0f;
struct AffineGrid {
  bool ok = false;
  float scale = 0.f;
  int32_t zero_point = 0;
};
AffineGrid lower_bounded_grid(float scale, float lo);
// A tensor whose every reader is flat below `flat` < 0 (a HardSwish table
// reads nothing below -3: f(x) = f(flat) for x <= flat; lower_int8_zero_points.cc)
// may be clipped at `flat`: the grid lower_bounded_grid(scale, flat) makes,
// its zero point one higher where code -128's level ((-128 - z) * scale,
// float32) would lie above `flat`, so no value above `flat` is clipped and
// the readers compute exactly what they would from the unclipped value.
AffineGrid flat_below_grid(float scale, float flat);

// Symmetric per-output-channel int8 weights: for channel k with
// amax_k = max |w_k| (NaN values are passed over),
//   s_k = amax_k / 127 (float32),  q = clamp(nearbyint(w / s_k), -127, 127)
// with w / s_k divided in float32 and rounded half to even (the default
// rounding mode); a NaN quotient clamps to -127. A channel of all zeros, or
// one whose amax_k / 127 is below float32's smallest normal (zero or
// subnormal), gets s_k = 1 (its weights quantize to 0, so the scale never
// matters, and no consumer divides by zero or by a subnormal scale). Per-tensor quantization is channels = 1.
struct QuantizedWeights {
  std::vector<int8_t> values;  // same layout as the float weights
  std::vector<float> scales;   // one per output channel
};

// w holds `channels` rows of `per_channel` values each (OIHW or [N][K]).
QuantizedWeights quantize_weights_per_channel(const float* w, int64_t channels, int64_t per_channel);

// A scale as a calibration cache writes it: the float32's bit pattern in
// lowercase hexadecimal without leading zeros ("0" for 0.0f, "3c010204" for
// 1/127, "7f800000" for +inf).
std::string scale_to_hex(float scale);
// The inverse: false (and *scale untouched) unless hex is 1 to 8 hexadecimal
// digits, either case. Any bit pattern is returned, NaN and negative ones
// included; the cache reader refuses those itself, naming the line.
bool scale_from_hex(const std::string& hex, float* scale);

}  // namespace quant
}  // namespace int8rt
