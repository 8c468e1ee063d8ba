// Resize as ONNX's reference implementation computes it
// (onnx/reference/ops/op_resize.py, _interpolate_1d_along_axis): one axis at
// a time, in float64, each output index a weighted sum of `n` input indices.
// The float32 Resize layer (resize_f32.cc) takes this path for the modes its
// fused 2-D loops lack:
//
// - antialias (linear, cubic) when downsampling: the kernel is stretched by
//   1 / scale (linear: a triangle over 2 * ceil(1 / scale) taps; cubic: Keys'
//   kernel at scale * distance over 2 * (2 - floor(-2 / scale) - 1) taps),
//   normalised to sum 1;
// - tf_crop_and_resize: x_in = roi_begin * (in - 1) + x * (roi_end -
//   roi_begin) * (in - 1) / (out - 1) (or the ROI's centre when out == 1),
//   and an output whose coordinate falls outside [0, in - 1] is
//   extrapolation_value;
// - resizing linear / cubic over any dims (not only the last two).
//
// Taps: the n input indices nearest the coordinate (ties to the smaller),
// clamped to [0, in - 1] (edge padding); exclude_outside gives taps outside
// the input weight 0 and renormalises.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/ops/resize_coords.h"

namespace int8rt {
namespace engine {

// The taps of one resized axis: n per output index, indices already clamped.
// n = 0: the axis is not resized.
struct AxisTaps {
  int64_t n = 0;
  std::vector<int64_t> index;     // out * n
  std::vector<double> weight;     // out * n
  std::vector<uint8_t> outside;   // out: tf_crop_and_resize extrapolates there
};

// The taps into *t, its vectors reused (a layer keeps them per thread, so a
// run allocates nothing once they are sized). `scale` is the axis's scale
// factor (given, or out / in with sizes); roi_begin / roi_end are read for
// tf_crop_and_resize only.
void resize_axis_taps_into(const ResizeConfig& c, int64_t in, int64_t out, double scale, double roi_begin,
                           double roi_end, AxisTaps* t);

// y (shape os) from x (shape xs), resizing every axis d whose taps[d].n > 0
// (others must keep their size), in axis order, in float64. The float64
// planes between axes are the calling thread's, kept across calls.
void resize_separable(const float* x, float* y, const std::vector<int64_t>& xs, const std::vector<int64_t>& os,
                      const std::vector<AxisTaps>& taps, float extrapolation_value);

}  // namespace engine
}  // namespace int8rt
