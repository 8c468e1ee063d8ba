// Concat inputs written on the Concat's own grid (Lowerer::share_concat_grids,
// called once before the walk). A Concat whose inputs carry different scales
// requantizes each input to its output's scale (QConcat's rescale): the
// value is rounded twice, once by the layer writing the input at its own
// scale and once by the Concat, and the second rounding is not the nearest
// point of the output grid (e.g. 0.4 step of the input's grid, then 0.4
// step of the output's: 0.8 of a step off where one rounding is at most
// 0.5). Where the Concat is an input's only reader and the input's writer
// quantizes at the tensor's scale and zero point (a Conv, or a Gemm /
// MatMul with constant weights: their epilogues take any zero point), that
// writer is given the Concat output's scale and zero point instead, so the
// value is rounded once, to the nearest point of the grid it ends on, and the
// Concat copies those bytes (QConcat with one scale: exact). TensorRT does
// the same for a Concat's inputs (one scale through the Concat). Inception
// branches and SqueezeNet's Fire expands are such inputs; DenseNet's
// features, read by several Concats, are not. Clipping is unchanged: the
// output's threshold clipped the requantized values already, and its lower
// bound (lower_int8_zero_points.cc) is the least of its inputs', so the
// writer's own range fits the grid. Not applied to a pre-quantized model
// (its QuantizeLinear nodes define each tensor's grid) or to float32-kept
// layers. The calibration cache keeps every tensor's calibrated threshold.
#include <string>
#include <vector>

#include "engine/lower_int8_lowerer.h"

namespace int8rt {
namespace engine {

bool Lowerer::writes_any_grid(const Node& node) const {
  if (opt_.fp32_layers.count(node.name) || node.outputs.size() != 1) return false;
  if (node.op == "Conv") return true;
  if (node.op == "Gemm" || node.op == "MatMul") {
    return node.inputs.size() > 1 && node.inputs[1] >= 0 && src_.tensor(node.inputs[1]).is_constant;
  }
  return false;
}

void Lowerer::share_concat_grids() {
  std::vector<int> writer(src_.tensors().size(), -1);
  for (size_t n = 0; n < src_.nodes().size(); ++n) {
    for (int o : src_.nodes()[n].outputs) {
      if (o >= 0) writer[o] = static_cast<int>(n);
    }
  }
  int shared = 0;
  for (const Node& node : src_.nodes()) {
    if (node.op != "Concat" || node.outputs.size() != 1 || opt_.fp32_layers.count(node.name)) continue;
    const int y = node.outputs[0];
    if (y < 0 || !has_scale(y) || index_.is_output(y)) continue;
    const float s = scale(y);
    const auto zy = zero_.find(y);
    for (int t : node.inputs) {
      if (t < 0 || t == y || index_.is_output(t) || !has_scale(t) || writer[t] < 0) continue;
      const std::vector<int>& readers = index_.readers(t);
      if (readers.size() != 1 || &src_.nodes()[readers[0]] != &node) continue;
      if (!writes_any_grid(src_.nodes()[writer[t]])) continue;
      if (scale(t) == s && zero_point_of(t) == (zy == zero_.end() ? 0 : zy->second)) continue;
      scales_[src_.tensor(t).name] = s;
      if (zy == zero_.end()) {
        zero_.erase(t);
      } else {
        zero_[t] = zy->second;
      }
      ++shared;
    }
  }
  if (shared) {
    note("concat grids: " + std::to_string(shared) + " Concat input(s) written at their Concat's scale and zero " +
         "point by their writer (the Concat's only reader of them): one rounding, the Concat a copy");
  }
}

}  // namespace engine
}  // namespace int8rt
