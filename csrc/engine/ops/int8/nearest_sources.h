// Which input row and column each output pixel of a nearest Resize reads.
//
// Taken from the FP32 Resize layer itself, run alone on a [1, 1, H, W]
// index image (pixel value y * W + x, exact in float32), so that int8
// nearest resizing (int8rt.QResizeNearest) picks exactly the FP32 engine's
// pixels for every coordinate transformation and rounding mode. Used by the
// lowering (static sizes) and by the layer for each new input size
// (dynamic sizes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct NearestSources {
  std::vector<int64_t> src_y, src_x;  // output row oy reads input row src_y[oy], likewise columns
};

// `resize`: the FP32 Resize node's op, name and attributes; `params` its
// inputs 1.. (roi, scales, sizes), constants or nullptr where omitted. A
// 4-element `sizes` applies to an [N, C, H, W] tensor; its N and C are
// replaced by the index image's 1. False when the result is not a separable
// per-axis pick (never for ONNX's nearest modes).
bool nearest_sources(const Node& resize, const std::vector<const Tensor*>& params, int64_t H, int64_t W,
                     NearestSources* out);

}  // namespace engine
}  // namespace int8rt
