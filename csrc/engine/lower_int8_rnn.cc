// INT8 lowering of the recurrent layers (lower_int8_lowerer.h): LSTM, GRU and
// RNN with constant W and R become int8rt.QLSTM / QGRU / QRNN (contracts.h,
// QRnnAttrs). X is read in int8 at its calibrated scale (the rows of x W' are
// X's logical rows); W is quantized per gate row (one scale per output
// channel of the input GEMM, both directions in one [dirs * G * H][input]
// matrix). The recurrent GEMM H R' is int8 too when calibration gives the
// state a range: the scale of Y (every step's H) or Y_h, and that of
// initial_h when the model feeds one (a constant initial_h: its own max |h|); h_scale is the largest of them, so no
// calibrated state value is clipped (an initial_h calibrated to exactly 0, zeros in
// every batch, adds nothing). H is bounded by 1 in magnitude (o *
// tanh(c), tanh) whatever the input, so a calibrated range is the state's
// whole range, not a guess from a few batches. GRU keeps H R' in float32
// (its reset gate multiplies H before the candidate's GEMM). Outputs stay
// float32: gates and cell are float code.
#include <algorithm>
#include <cmath>

#include "engine/lower_int8_lowerer.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {

bool Lowerer::lower_rnn(int, const Node& node) {
  if (node.inputs.size() < 3 || node.inputs[0] < 0 || node.inputs[1] < 0 || node.inputs[2] < 0) return false;
  const int x = node.inputs[0];
  const Tensor& w = src_.tensor(node.inputs[1]);
  const Tensor& r = src_.tensor(node.inputs[2]);
  if (!w.is_constant || !r.is_constant || w.dtype != DataType::kFloat32 || r.dtype != DataType::kFloat32 ||
      w.shape.size() != 3 || r.shape.size() != 3 || w.shape[1] != r.shape[1]) {
    return decline(node, "W and R are not constant float32 [dirs, gates * hidden, n] tensors");
  }
  if (src_.tensor(x).shape.size() != 3) return decline(node, "X is not [seq, batch, input]");
  if (!is_int8(x) && !has_scale(x)) return decline(node, "no calibration scale for its input X");
  const int64_t rows = w.shape[0] * w.shape[1];
  QRnnAttrs a;
  const quant::QuantizedWeights qw = quant::quantize_weights_per_channel(w.f32.data(), rows, w.shape[2]);
  a.w_scales.assign(qw.scales.begin(), qw.scales.end());
  std::vector<int> ins(node.inputs.size(), -1);
  ins[0] = int8_in(x, Layout::kLogical);
  a.x_scale = qscale_[x];
  ins[1] = add_weight_constant(w.name + "::int8", w.shape, qw.values);

  // The state's calibrated scale, or 0 (H R' stays float32).
  double h_scale = 0.0;
  bool state_known = node.op != "GRU";
  for (size_t o = 0; o < 2 && o < node.outputs.size(); ++o) {
    const int t = node.outputs[o];
    if (t >= 0 && has_scale(t)) h_scale = std::max<double>(h_scale, scale(t));
  }
  if (node.inputs.size() > 5 && node.inputs[5] >= 0) {
    const Tensor& h0 = src_.tensor(node.inputs[5]);
    const auto calibrated = scales_.find(h0.name);
    if (has_scale(node.inputs[5])) {
      h_scale = std::max<double>(h_scale, scale(node.inputs[5]));
    } else if (calibrated != scales_.end() && calibrated->second == 0.f) {
      // Calibrated, and zero in every batch (timm's Sequencer2D feeds an Expand of zeros): no range to add.
    } else if (h0.is_constant && h0.dtype == DataType::kFloat32) {  // its range is its values'
      float amax = 0.f;
      for (float v : h0.f32) amax = std::max(amax, std::fabs(v));
      if (std::isfinite(amax)) h_scale = std::max<double>(h_scale, quant::scale_from_amax(amax));
      state_known = state_known && std::isfinite(amax);
    } else {
      state_known = false;
    }
  }
  if (state_known && h_scale > 0.0) {
    const quant::QuantizedWeights qr = quant::quantize_weights_per_channel(r.f32.data(), rows, r.shape[2]);
    a.h_scale = h_scale;
    a.r_scales.assign(qr.scales.begin(), qr.scales.end());
    ins[2] = add_weight_constant(r.name + "::int8", r.shape, qr.values);
  } else {
    ins[2] = get_float(node.inputs[2]);
    note("layer '" + node.name + "' (" + node.op + "): recurrent GEMM stays float32: " +
         (node.op == "GRU" ? "GRU's reset gate multiplies H first" : "no calibrated range for the state"));
  }
  for (size_t i = 3; i < node.inputs.size(); ++i) ins[i] = node.inputs[i] < 0 ? -1 : get_float(node.inputs[i]);

  const char* op = node.op == "LSTM" ? QRnnAttrs::kLstmOp : node.op == "GRU" ? QRnnAttrs::kGruOp : QRnnAttrs::kRnnOp;
  std::vector<std::string> names;
  for (int id : node.outputs) names.push_back(id < 0 ? std::string() : src_.tensor(id).name);
  const std::vector<int> outs = dst_.add_node(op, node.name, ins, a.to_attrs(node.attrs), names);
  for (size_t o = 0; o < outs.size() && o < node.outputs.size(); ++o) {
    if (node.outputs[o] < 0 || outs[o] < 0) continue;
    dst_.tensor(outs[o]).shape = src_.tensor(node.outputs[o]).shape;
    float_id_[node.outputs[o]] = outs[o];
  }
  plan_.layer(node.name, op, sources_of(node));
  return true;
}

}  // namespace engine
}  // namespace int8rt
