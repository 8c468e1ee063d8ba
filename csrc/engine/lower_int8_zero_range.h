// Tensors calibrated to exactly 0 in the INT8 lowering: int8 at a nominal
// scale instead of "no scale" (which kept every layer reading or writing
// them in float32). Such a tensor is a branch that is 0 on every calibration
// value: a residual branch whose last BatchNorm is zero-initialised (timm's
// zero_init_last, with random or barely trained weights), a dead channel
// group of a fine-tuned network.
//
// The rule follows NNCF's (nncf/quantization/fake_quantize.py,
// fix_zero_filters_symmetric: a symmetric range below 8e-5 is raised to
// 8e-5); ONNX Runtime quantizes a zero range too (quant_utils.compute_scale_zp:
// scale 1.0 where rmin = rmax = 0), TensorRT warns "Tensor X is uniformly
// zero" and leaves its layers without a scale (what int8rt did). The small
// threshold, not ONNX Runtime's 1.0, so that a value calibration never saw
// saturates near 0 (the branch stays as dead as calibrated) and a grid
// shared with a live tensor is never the dead one's. Zero is exact at any
// scale: on calibration-like data the int8 tensor is exactly the float one.
// A range that is tiny but not 0 keeps its own scale (no rule here).
//
// Not for a network input: an input calibrated to exactly 0 says the
// calibration data is all zeros there (an unused mask, a wrong data
// source), not that the network computes 0, and a value the data never
// showed (a mask of -1e4) must not saturate near 0. So an input keeps "no
// scale", and while one is calibrated to exactly 0 the rule is off for the
// whole network (the ranges downstream of it say nothing either): each
// such tensor keeps "no scale" as before, and one warning says why.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace int8rt {
namespace engine {

// The threshold (amax) a tensor calibrated to exactly 0 is held at; its
// scale is kZeroRangeThreshold / 127 (float32 division).
constexpr float kZeroRangeThreshold = 8e-5f;

// Replaces each scale in *scales that is exactly 0 (+0 or -0) by
// kZeroRangeThreshold / 127 and returns one build-report warning per such
// tensor, naming it. Other scales (tiny, negative, NaN) are left as given.
// `inputs` are the network's input names: when one of them is calibrated to
// exactly 0, nothing is replaced and one warning names it (above).
std::vector<std::string> hold_zero_ranges(std::map<std::string, float>* scales, const std::set<std::string>& inputs);

}  // namespace engine
}  // namespace int8rt
