// INT8 lowering of the float regions at the two ends that stayed float
// around int8 layers (lower_int8_lowerer.h, issue 14 §2):
// - a squeeze-and-excitation gate: the element-wise region (HardSigmoid,
//   Sigmoid, ...) on [N, C, 1, 1] whose only readers are channel gates
//   (Mul of an int8 [N, C, H, W] tensor) emits nothing; each gate reads the
//   region's int8 input (the excitation conv's output codes) and the
//   region's 256 float values (QChannelMul's gate table), so the gate is
//   the float gate's own value and no Dequantize or float layer runs;
// - a region's output wanted in float32, computed from an int8 tensor: a
//   network output read by no layer (PP-OCR det's output Sigmoid), or read
//   only by layers kept in float32 by request (a mixed engine's float island
//   entered through a hardswish after an int8 conv, PP-OCRv4 rec: a
//   Dequantize and six float layers):
//   int8rt.QLutFloat reads the int8 input through the region's 256 float
//   values and writes the float output, instead of a Dequantize and the
//   float layers; an int8 reader of that output quantizes it as before.
// Only for a region input that an int8 layer made (made_in_int8): a float
// input quantized for other readers keeps its float region.
// Both compute the float path's bits (the values are the engine's own float
// layers run on the 256 levels, lut_region.h), so they change no result.
#include "engine/lower_int8_lowerer.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/int8_plan_recorder.h"
#include "engine/lut_region.h"
#include "engine/ops/int8/contracts.h"

namespace int8rt {
namespace engine {

bool Lowerer::gate_mul_lowers(const Node& mul, int gate) const {
  const int i = channel_mul_operand(mul);
  if (i < 0 || mul.inputs[1 - i] != gate || mul.inputs[i] == gate || opt_.fp32_layers.count(mul.name)) return false;
  const int x = mul.inputs[i], y = mul.outputs[0];
  return (is_int8(x) || gate_tables_.count(x)) && !index_.is_output(y) && has_scale(y);
}

bool Lowerer::lower_gate_region(const LutRegion& r) {
  const int y = r.output;
  if (!opt_.int8_gates || !opt_.gate_regions || index_.is_output(y) || index_.readers(y).empty() || !qchannels_[r.input].empty() ||
      !made_in_int8(r.input)) {
    return false;
  }
  const std::vector<int64_t>& shape = src_.tensor(y).shape;
  if (shape.size() != 4 || shape[2] != 1 || shape[3] != 1) return false;
  for (int c : index_.readers(y)) {
    if (!gate_mul_lowers(src_.nodes()[c], y)) return false;
  }
  GateCodes g;
  g.codes = r.input;
  g.values = dst_.add_constant(src_.tensor(y).name + "::gate_values", {256},
                               compute_region_values(src_, r, qscale_[r.input], qzero_[r.input]));
  ConsumedRegion c = consume_region(r);
  g.sources = std::move(c.sources);
  gate_codes_[y] = std::move(g);
  note("gate " + c.ops + " ending at '" + src_.tensor(y).name + "' is read by its channel gates from '" +
       src_.tensor(r.input).name + "' as int8 through its 256 float values (no Dequantize, no float layer)");
  return true;
}

bool Lowerer::lower_float_region(const LutRegion& r) {
  const int y = r.output;
  const std::vector<int>& readers = index_.readers(y);
  const bool float_readers = !readers.empty() && std::all_of(readers.begin(), readers.end(), [&](int c) {
    return opt_.fp32_layers.count(src_.nodes()[c].name) > 0;  // kept float by request: a float island's entry
  });
  if (!(float_readers || (index_.is_output(y) && readers.empty()))) return false;
  if (!opt_.gate_regions || !qchannels_[r.input].empty() || !made_in_int8(r.input)) {
    return false;  // (a float input, a network input's, keeps its float reader: no rounding added)
  }
  ConsumedRegion c = consume_region(r);
  QLutFloatAttrs a;
  a.ops = c.ops;
  const Layout layout = layout_of(r.input);
  a.logical = src_.tensor(r.input).shape.size() == 4 && layout == Layout::kLogical;
  const int values = dst_.add_constant(src_.tensor(y).name + "::values", {256},
                                       compute_region_values(src_, r, qscale_[r.input], qzero_[r.input]));
  const int out = dst_.add_node(QLutFloatAttrs::kOp, c.name, {int8_id_[r.input], values}, a.to_attrs(),
                                {src_.tensor(y).name})[0];
  dst_.tensor(out).shape = src_.tensor(y).shape;
  float_id_[y] = out;
  plan_.layer(c.name, QLutFloatAttrs::kOp, std::move(c.sources));
  note("element-wise " + a.ops + " ending at " + (index_.is_output(y) ? "network output '" : "float32 tensor '") +
       src_.tensor(y).name + "' reads its int8 input through its 256 float values (no Dequantize, no float layer)");
  return true;
}

}  // namespace engine
}  // namespace int8rt
