// Resize's coordinate arithmetic (ONNX Resize / Upsample), one home for the
// FP32 layer (resize_f32.cc, whose header comment states the rules) and the
// INT8 lowering's int8 Resize layers (lower_int8.cc, ops/int8/qresize_layer.cc),
// which must pick the same pixels and blend them with the same float32
// weights, in the same order, to give the same bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/value.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

enum class ResizeCoord { kHalfPixel, kPytorchHalfPixel, kHalfPixelSymmetric, kAlignCorners, kAsymmetric };
enum class ResizeRound { kPreferFloor, kPreferCeil, kFloor, kCeil };

struct ResizeConfig {
  bool linear = false;
  bool cubic = false;            // mode 'cubic' (bicubic on the last two dims)
  float cubic_a = -0.75f;        // cubic_coeff_a
  bool exclude_outside = false;  // cubic: taps outside the input get weight 0, the rest renormalised
  ResizeCoord coord = ResizeCoord::kHalfPixel;
  ResizeRound round = ResizeRound::kPreferFloor;
  bool upsample = false;
  std::vector<int64_t> axes;
  std::vector<float> scales_attr;  // Upsample opset 7
  // keep_aspect_ratio_policy (opset 18, with sizes): stretch, or one scale
  // for every resized axis, the smallest (not_larger) or largest
  // (not_smaller) of sizes[i] / in[i], and out = round(scale * in).
  enum class Aspect { kStretch, kNotLarger, kNotSmaller } aspect = Aspect::kStretch;
  // Computed by resize_separable.h only (the float32 layer; the int8 lowering declines them):
  bool antialias = false;           // linear / cubic downsampling with a stretched kernel
  bool tf_crop_and_resize = false;  // coordinates from the roi input; outside it: extrapolation_value
  float extrapolation_value = 0.f;
};

// The node's attributes (Resize, or Upsample when `upsample`); NotSupported
// naming the node for a mode the layer lacks.
ResizeConfig resize_config(const Node& node, bool upsample);

// A resize's output shape and per-dim coordinate scales, with the vectors
// resize_plan_into reads the axes, scales and sizes into: a layer keeps one
// per thread, so planning a run allocates nothing once they are sized.
struct ResizePlan {
  Shape out;                  // the output shape
  std::vector<float> scales;  // per dim, the scale used for coordinates (1 for a dim not resized)
  std::vector<int64_t> axes, sizes;  // scratch: the resized axes; the sizes input
  std::vector<float> given;          // scratch: the scales input (or attribute)
};

// The output shape of resizing a tensor of shape `xs` (the layer's input 0,
// whatever its dtype; `in` its inputs, of which 1.. are read: roi, scales,
// sizes, or Upsample's scales at 1) by the rules of resize_f32.cc's header
// comment, and the per-dim scales used for coordinates, into *p (its vectors
// reused). InvalidArgument prefixed with `prefix` for scales or sizes that do
// not fit.
void resize_plan_into(const ResizeConfig& c, const Shape& xs, const std::vector<const Value*>& in,
                      const std::string& prefix, ResizePlan* p);
// The same, returning the output shape and filling *scales (allocates).
Shape resize_plan(const ResizeConfig& c, const Shape& xs, const std::vector<const Value*>& in, const std::string& prefix,
                  std::vector<float>* scales);

// Input coordinate (float32) of output index x of a dim resized in -> out at `scale`.
float resize_original_coord(const ResizeConfig& c, int64_t x, float scale, int64_t in, int64_t out);

// nearest: the rounded, clamped source index of coordinate v.
int64_t resize_nearest_index(const ResizeConfig& c, float v, int64_t in);

// linear: the two neighbours of output index o and their weights.
struct ResizeTap {
  int64_t i0, i1;
  float w0, w1;
};
ResizeTap resize_linear_tap(const ResizeConfig& c, int64_t o, float scale, int64_t in, int64_t out);

// cubic: the four taps of output index o (floor(v) - 1 .. floor(v) + 2 of
// the unclamped coordinate v, indices clamped to [0, in - 1]) and their
// Keys weights for a = cubic_a (ONNX's formula); with exclude_outside the
// taps outside [0, in - 1] weigh 0 and the others are divided by their sum.
struct CubicTap {
  int64_t i[4];
  float w[4];
};
CubicTap resize_cubic_tap(const ResizeConfig& c, int64_t o, float scale, int64_t in, int64_t out);

// The bilinear blend of the four neighbours (rows a, columns b), in float32,
// in this order: a.w0 * (b.w0 * x00 + b.w1 * x01) + a.w1 * (b.w0 * x10 + b.w1 * x11).
inline float resize_blend(const ResizeTap& a, const ResizeTap& b, float x00, float x01, float x10, float x11) {
  return a.w0 * (b.w0 * x00 + b.w1 * x01) + a.w1 * (b.w0 * x10 + b.w1 * x11);
}

}  // namespace engine
}  // namespace int8rt
