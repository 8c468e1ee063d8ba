// Zero-point activations in the INT8 lowering: unsigned ones
// (LoweringOptions::unsigned_activations) and lower-bounded ones
// (LoweringOptions::asymmetric_activations); BuilderConfig has the same
// switches; why: docs/numerics.md. A tensor proven to lie in [lo, threshold]
// with lo <= 0 gets 256 levels over that range instead of symmetric int8's
// 128 on each side of 0, as ONNX Runtime's and NNCF's uint8 activations do.
// One rule gives its grid, quant::lower_bounded_grid: scale
// (threshold - lo) / 255 and the integer zero point that maps lo to -128
// (so 0.0 is exact); lo = 0 is the unsigned form (zero point -128, scale
// threshold / 255). The threshold is the calibrated symmetric scale's, so
// the calibration cache stays TensorRT's. The tensor is held in int8 with
// that zero point, the arithmetic a pre-quantized model's uint8 tensors
// take (lower_int8_qdq.cc).
//
// The lower bounds (lower_bounds): 0 for the output of a Conv, Gemm or
// MatMul whose fused activation is Relu or Clip(min >= 0); for an
// element-wise table region's output (lut_region.h; run as a table, or in
// float32 from the int8 input when pointwise_tables is off) the least of the
// region's 256 float values on its input's levels (0 if that is above 0):
// SiLU -0.278, HardSwish -0.375, GELU -0.170 at fine input scales, exactly
// the values the table is built from; for a PRelu folded into its Conv's
// epilogue (lower_int8_prelu.cc) the least of -slope[k] * m[k] over the
// channels with slope[k] > 0 (prelu_lower_bound; 0 if none), m[k] the
// pre-activation's channel k max |x| over calibration
// (LoweringOptions::channel_ranges, Builder::channel_ranges: a build from a
// TensorRT cache alone has them only from the calibrator's sidecar,
// int8rt/calib/channel_ranges.py, and otherwise keeps the PRelu output
// symmetric); for a Concat, AveragePool or
// GlobalAveragePool the least bound of its inputs (all bounded); max pools
// and data movement carry their input's. A bound of 0 is adopted with
// unsigned_activations, one below 0 with asymmetric_activations.
//
// A tensor with a calibrated scale and a bound is adopted when every
// reader takes its zero point exactly: a Conv (as input, or as the fused
// residual; a padded one's kernels pad with the zero point,
// kernels::ConvShape::pad_value), a Gemm / MatMul with constant weights (as
// input), an Add, a Concat (QConcatAttrs' zero points), a Shape, a
// float32-kept layer (through a Dequantize carrying the zero point), a
// GlobalAveragePool (its float-table form, lower_global_avgpool), an
// AveragePool (QPoolAttrs' zero points, ref::avgpool_s8), or a max pool /
// data movement op (the byte movers of lower_int8_qdq.cc, as data input)
// whose own outputs' readers do; those outputs carry the same scale and zero
// point. A tensor read by anything else (tables, resize, gates, attention,
// ...) stays symmetric, so no layer without a zero point ever sees one. Its
// writer takes the zero point: a conv / gemm epilogue, a table built for the
// new grid (lower_lut, compute_lut), a folded PRelu's conv (the zero point
// added after the slope: ops/int8/qconv_prelu.cc), or a Quantize where it is
// computed in float32.
//
// Inputs clipped below a table's flat part (adopt_flat_input_grids, with
// asymmetric_activations): a Conv / Gemm output x read only by element-wise
// table regions that are flat below v < 0 (lut_region.h region_flat_below:
// a HardSwish is 0 for x <= -3, as in LeViT's and MobileNetV3's stems) needs
// no level below v: it gets quant::flat_below_grid(threshold, v), 256 levels
// over [v', threshold] with v' <= v, its writer's epilogue clipping below v'
// and each table built for that zero point (compute_lut's z_x). No reader
// sees another value than it would compute from the unclipped x: exact, and
// the grid is finer by (2 threshold) / (threshold - v'), 1.5x for LeViT's
// stem (threshold ~9, v = -3; RESULTS_accuracy.md, 2026-12-04 midday).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "engine/lower_int8_lowerer.h"
#include "engine/lut_region.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {
namespace {

constexpr float kUnbounded = std::numeric_limits<float>::quiet_NaN();

// The byte movers that pass a zero point on (lower_int8_qdq.cc's list, Pad
// aside: its constant is a float value, not the zero point).
bool passes_on(const std::string& op) {
  static const std::set<std::string> kOps = {"MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose",
                                             "Slice", "Split", "Gather", "DepthToSpace", "SpaceToDepth"};
  return kOps.count(op) > 0;
}

// The input positions at which `node` reads t.
std::vector<size_t> positions(const Node& node, int t) {
  std::vector<size_t> at;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == t) at.push_back(i);
  }
  return at;
}

}  // namespace

bool Lowerer::writes_non_negative(const Node& node) {
  if (node.op != "Conv" && node.op != "Gemm" && node.op != "MatMul") return false;
  ActivationAttrs act;
  return fused_activation(node, act) && act.kind != kernels::Activation::kNone && act.min >= 0.0;
}

bool Lowerer::readers_take_zero_point(int t, std::vector<int>* passed, std::string* why) const {
  for (int r : index_.readers(t)) {
    const Node& node = src_.nodes()[r];
    if (opt_.fp32_layers.count(node.name)) continue;  // reads the float value its Dequantize gives
    const std::vector<size_t> at = positions(node, t);
    const auto only = [&](std::initializer_list<size_t> ok) {
      return std::all_of(at.begin(), at.end(), [&](size_t i) { return std::find(ok.begin(), ok.end(), i) != ok.end(); });
    };
    bool takes = false;
    if (node.op == "Conv") {
      takes = only({0, 3});  // input, fused residual (inputs[3])
    } else if (node.op == "Gemm" || node.op == "MatMul") {
      takes = only({0}) && node.inputs.size() > 1 && node.inputs[1] >= 0 && src_.tensor(node.inputs[1]).is_constant;
    } else if (node.op == "Add" || node.op == "Concat" || node.op == "Shape") {
      takes = true;
    } else if (node.op == "GlobalAveragePool") {
      takes = only({0}) && src_.tensor(t).shape.size() == 4;  // through its float table (lower_global_avgpool)
    } else if (node.op == "AveragePool") {
      takes = only({0}) && src_.tensor(t).shape.size() == 4;  // its zero points (lower_pool)
    } else if (passes_on(node.op) && only({0})) {
      takes = true;
      for (int o : node.outputs) {
        if (o < 0) continue;
        passed->push_back(o);
        if (!readers_take_zero_point(o, passed, why)) return false;
      }
    }
    if (!takes) {
      *why = "'" + node.name + "' (" + node.op + ")";
      return false;
    }
  }
  return true;
}

float Lowerer::table_lower_bound(int n, std::vector<char>& in_region, int* y) const {
  const int x = lut_region_input(src_, n);
  const bool flat = flat_inputs_.count(x) > 0;  // x's grid is adopt_flat_input_grids'
  if (x < 0 || !has_scale(x) || (zero_.count(x) && !flat) || has_channel_scales(x)) return kUnbounded;
  const LutRegion r = find_lut_region(src_, index_, n, [&](int m) {
    return in_region[m] || opt_.fp32_layers.count(src_.nodes()[m].name) > 0;
  });
  if (r.nodes.empty()) return kUnbounded;
  for (int m : r.nodes) in_region[m] = 1;  // as the walk consumes them (lower_lut)
  if (index_.is_output(r.output)) return kUnbounded;
  // The values the table is built from: x's grid, symmetric at its
  // calibrated scale or clipped below the region's flat part.
  const std::vector<float> values = compute_region_values(src_, r, scale(x), flat ? zero_.at(x) : 0);
  float lo = 0.f;
  for (float v : values) {
    if (!std::isfinite(v)) return kUnbounded;
    lo = std::min(lo, v);
  }
  *y = r.output;
  return lo;
}

float Lowerer::prelu_lower_bound(int y, const std::vector<double>& slopes) const {
  // MTCNN's PReLU outputs reach down to 3-51 % of their threshold (a
  // symmetric grid wastes most of its negative codes): held over [lo,
  // threshold] their step is 1.3-1.9x finer (RESULTS_accuracy.md acc60).
  // A calibration bound, not a proof: a later value below lo saturates at
  // code -128, as one above the threshold does at 127.
  const auto it = opt_.channel_ranges.find(src_.tensor(y).name);
  if (it == opt_.channel_ranges.end() || it->second.size() != slopes.size()) return kUnbounded;
  float lo = 0.f;
  for (size_t k = 0; k < slopes.size(); ++k) {
    const float m = it->second[k];
    if (!std::isfinite(m)) return kUnbounded;
    if (slopes[k] > 0.0) lo = std::min(lo, -(static_cast<float>(slopes[k]) * m));
  }
  return lo;
}

std::vector<float> Lowerer::lower_bounds(std::vector<int>* roots) const {
  std::vector<float> lower(src_.tensors().size(), kUnbounded);
  const auto least = [&](const std::vector<int>& ids) {  // NaN unless every id is bounded
    float lo = ids.empty() ? kUnbounded : 0.f;
    for (int id : ids) lo = id >= 0 && !std::isnan(lower[id]) ? std::min(lo, lower[id]) : kUnbounded;
    return lo;
  };
  std::vector<char> in_region(src_.nodes().size(), 0);
  for (int n : src_.topological_order()) {
    const Node& node = src_.nodes()[n];
    if (node.outputs.empty() || node.outputs[0] < 0) continue;
    // With or without tables (pointwise_tables): the float chain's output is
    // quantized at the same grid, so a table still changes no byte.
    if (opt_.asymmetric_activations && is_lut_op(node.op)) {
      int y = -1;
      const float lo = in_region[n] ? kUnbounded : table_lower_bound(n, in_region, &y);
      if (!std::isnan(lo)) {
        lower[y] = lo;
        roots->push_back(y);
      }
      continue;
    }
    std::vector<double> slopes;
    const int prelu = opt_.asymmetric_activations && node.op == "Conv" ? fused_prelu(node, &slopes) : -1;
    if (prelu >= 0) {  // the PRelu's output, which the conv's epilogue writes
      const int z = src_.nodes()[prelu].outputs[0];
      const float lo = index_.is_output(z) ? kUnbounded : prelu_lower_bound(node.outputs[0], slopes);
      if (!std::isnan(lo)) {
        lower[z] = lo;
        roots->push_back(z);
      }
      continue;
    }
    float lo = kUnbounded;
    bool root = true;
    if (writes_non_negative(node)) {
      lo = node.outputs.size() == 1 ? 0.f : kUnbounded;
    } else if (node.op == "Concat" || node.op == "GlobalAveragePool" || node.op == "AveragePool") {
      lo = node.outputs.size() == 1 ? least(node.inputs) : kUnbounded;
    } else if (passes_on(node.op)) {
      lo = !node.inputs.empty() && node.inputs[0] >= 0 ? lower[node.inputs[0]] : kUnbounded;
      root = false;
    }
    if (std::isnan(lo)) continue;
    for (int o : node.outputs) {
      if (o >= 0) lower[o] = lo;
    }
    if (root) roots->push_back(node.outputs[0]);
  }
  return lower;
}

void Lowerer::adopt_flat_input_grids() {
  int held = 0;
  for (int n : src_.topological_order()) {
    const Node& node = src_.nodes()[n];
    if (node.outputs.size() != 1 || !writes_any_grid(node) || opt_.fp32_layers.count(node.name)) continue;
    const int x = node.outputs[0];
    if (x < 0 || !has_scale(x) || zero_.count(x) || has_channel_scales(x) || index_.is_output(x)) continue;
    float flat = kUnbounded;
    for (int r : index_.readers(x)) {
      const Node& reader = src_.nodes()[r];
      float v = kUnbounded;
      if (!opt_.fp32_layers.count(reader.name) && is_lut_op(reader.op) && lut_region_input(src_, r) == x) {
        const LutRegion region = find_lut_region(src_, index_, r, [&](int m) {
          return opt_.fp32_layers.count(src_.nodes()[m].name) > 0;
        });
        if (region.input == x) v = region_flat_below(src_, region);
      }
      if (std::isnan(v)) {
        flat = kUnbounded;
        break;
      }
      flat = std::isnan(flat) ? v : std::min(flat, v);
    }
    if (std::isnan(flat)) continue;
    const quant::AffineGrid g = quant::flat_below_grid(scale(x), flat);
    if (!g.ok) continue;  // the threshold is at or below -v: nothing to gain
    scales_[src_.tensor(x).name] = g.scale;
    zero_[x] = g.zero_point;
    flat_inputs_.insert(x);
    ++held;
  }
  if (held) {
    note("table inputs clipped below the tables' flat part: " + std::to_string(held) +
         " tensor(s) held in [v, threshold] (HardSwish: v = -3) with scale (threshold - v) / 255");
  }
}

void Lowerer::adopt_zero_point_activations() {
  if (opt_.asymmetric_activations) adopt_flat_input_grids();
  std::vector<int> roots;  // tensors with a grid of their own (not passed on by a mover)
  const std::vector<float> lower = lower_bounds(&roots);
  int unsigned_held = 0, bounded_held = 0, kept = 0;
  std::string example;
  for (int t : roots) {
    if (t < 0 || !has_scale(t) || zero_.count(t)) continue;  // no calibrated scale, or a model's own zero point
    const float lo = lower[t];
    if (lo == 0.f ? !opt_.unsigned_activations : !opt_.asymmetric_activations) continue;
    const quant::AffineGrid g = quant::lower_bounded_grid(scale(t), lo);
    if (!g.ok) continue;  // lo at or below -threshold: the symmetric grid is as fine
    std::vector<int> passed;
    std::string why;
    if (!readers_take_zero_point(t, &passed, &why) ||
        std::any_of(passed.begin(), passed.end(), [&](int o) { return zero_.count(o) > 0; })) {
      ++kept;
      if (example.empty()) example = "'" + src_.tensor(t).name + "' is read by " + why;
      continue;
    }
    passed.push_back(t);  // with the outputs of the movers passing it on
    for (int id : passed) {
      scales_[src_.tensor(id).name] = g.scale;
      zero_[id] = g.zero_point;
    }
    ++(lo == 0.f ? unsigned_held : bounded_held);
  }
  const std::string kept_note =
      kept ? "; " + std::to_string(kept) + " kept symmetric, a reader taking no zero point (e.g. " + example + ")" : "";
  if (opt_.unsigned_activations) {
    note("unsigned activations: " + std::to_string(unsigned_held) + " non-negative tensor(s) held with zero point " +
         "-128 and scale threshold / 255" + kept_note);
  }
  if (opt_.asymmetric_activations) {
    note("asymmetric activations: " + std::to_string(bounded_held) + " table output(s) or folded PRelu output(s) " +
         "in [lo, threshold], lo < 0, " +
         "held with scale (threshold - lo) / 255 and the zero point mapping lo to -128" +
         (opt_.unsigned_activations ? "" : kept_note));
  }
}

}  // namespace engine
}  // namespace int8rt
