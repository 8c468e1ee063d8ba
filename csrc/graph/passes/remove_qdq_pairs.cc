// remove_qdq_pairs (passes.h): models exported with explicit quantization
// (QuantizeLinear/DequantizeLinear, ONNX opset 10/13 semantics:
//   Q:  y = saturate(round_half_even(x / scale) + zp)
//   DQ: y = (x - zp) * scale)
// are brought back to a float graph that int8rt calibrates itself, keeping
// the exporter's scales as calibration hints (TensorRT's Q/DQ workflow
// reads the same scales). Weight DQs over int8 constants become float32
// constants computed as the spec writes it: float(q - zp) * scale, in float32.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

using passes::constant_or_null;
using passes::input_at;

std::string format_scale(float s) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", static_cast<double>(s));  // round-trips a float32
  return text;
}

// Float32 per-tensor scale > 0 at input 1, or 0 when not one.
float per_tensor_scale(const Network& net, const Node& n) {
  const Tensor* s = constant_or_null(net, input_at(n, 1));
  if (!s || s->dtype != DataType::kFloat32 || s->f32.size() != 1) return 0.f;
  float v = s->f32[0];
  return std::isfinite(v) && v > 0.f ? v : 0.f;
}

// Zero point at input 2 is an int8 constant of zeros (or, if allow_absent, omitted).
bool zero_int8_zero_point(const Network& net, const Node& n, bool allow_absent) {
  int id = input_at(n, 2);
  if (id < 0) return allow_absent;
  const Tensor* z = constant_or_null(net, id);
  if (!z || z->dtype != DataType::kInt8) return false;
  for (int8_t v : z->i8) {
    if (v != 0) return false;
  }
  return true;
}

// Same constant values (and dtype) at input `index` of both nodes; both omitted counts as same.
bool same_constant(const Network& net, const Node& a, const Node& b, size_t index) {
  int ia = input_at(a, index), ib = input_at(b, index);
  if (ia < 0 || ib < 0) return ia == ib;
  const Tensor *ta = constant_or_null(net, ia), *tb = constant_or_null(net, ib);
  return ta && tb && ta->dtype == tb->dtype && ta->f32 == tb->f32 && ta->i64 == tb->i64 && ta->i8 == tb->i8;
}

// DequantizeLinear of a constant: the output tensor becomes a float32 constant.
bool fold_weight_dq(Network& net, int node_id, PassReport* report) {
  const Node& n = net.nodes()[node_id];
  const Tensor* q = constant_or_null(net, input_at(n, 0));
  const Tensor* s = constant_or_null(net, input_at(n, 1));
  if (!q || (q->dtype != DataType::kInt8 && q->dtype != DataType::kInt64) || !s ||
      s->dtype != DataType::kFloat32 || n.outputs.size() != 1 || passes::is_network_output(net, n.outputs[0]) ||
      n.attrs.get_int("block_size", 0) != 0 || n.attrs.get_int("output_dtype", 1) != 1) {
    return false;  // blocked or not float32: the run-time layer computes it
  }
  const Tensor* zp = constant_or_null(net, input_at(n, 2));
  if (input_at(n, 2) >= 0 && (!zp || zp->dtype != q->dtype)) return false;
  const int64_t count = static_cast<int64_t>(q->dtype == DataType::kInt8 ? q->i8.size() : q->i64.size());
  const int64_t channels = static_cast<int64_t>(s->f32.size());
  int64_t inner = 1, axis_len = 1;
  if (channels != 1) {
    int64_t rank = static_cast<int64_t>(q->shape.size());
    int64_t axis = n.attrs.get_int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || q->shape[axis] != channels) return false;
    axis_len = channels;
    for (int64_t d = axis + 1; d < rank; ++d) inner *= q->shape[d];
  }
  if (zp) {
    int64_t zcount = static_cast<int64_t>(zp->dtype == DataType::kInt8 ? zp->i8.size() : zp->i64.size());
    if (zcount != channels) return false;
  }
  std::vector<float> w(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t c = channels == 1 ? 0 : (i / inner) % axis_len;
    int64_t qv = q->dtype == DataType::kInt8 ? q->i8[i] : q->i64[i];
    int64_t zv = !zp ? 0 : (zp->dtype == DataType::kInt8 ? zp->i8[c] : zp->i64[c]);
    w[i] = static_cast<float>(qv - zv) * s->f32[c];
  }
  const std::vector<int64_t> shape = q->shape;
  PassReport::WeightScales model_scales;
  const bool symmetric_int8 = q->dtype == DataType::kInt8 && (!zp || std::all_of(zp->i8.begin(), zp->i8.end(),
                                                                                  [](int8_t z) { return z == 0; }));
  if (symmetric_int8) {
    int64_t axis = n.attrs.get_int("axis", 1);
    model_scales = {axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis, s->f32};
  }
  const int out = n.outputs[0];
  const std::string what = passes::describe(n);
  passes::kill_node(net, node_id);
  Tensor& t = net.tensor(out);
  t.is_constant = true;
  t.dtype = DataType::kFloat32;
  t.shape = shape;
  t.f32 = std::move(w);
  t.producer = -1;
  if (report && symmetric_int8) report->weight_scales[t.name] = std::move(model_scales);
  if (report) report->add("folded " + what + " of constant into float32 constant '" + t.name + "'");
  return true;
}

// Q -> DQ (activation): every matching DQ reading the Q becomes a pass-through.
void remove_q_dq(Network& net, int q_id, PassReport* report) {
  const float scale = per_tensor_scale(net, net.nodes()[q_id]);
  if (scale == 0.f || !zero_int8_zero_point(net, net.nodes()[q_id], false)) return;
  const int q_out = net.nodes()[q_id].outputs.at(0);
  for (int d : net.consumers(q_out)) {
    const Node& dq = net.nodes()[d];
    if (dq.op != "DequantizeLinear" || input_at(dq, 0) != q_out || dq.outputs.size() != 1) continue;
    if (per_tensor_scale(net, dq) != scale || !zero_int8_zero_point(net, dq, true)) continue;
    const int x = net.nodes()[q_id].inputs[0];  // re-read: an earlier bypass may have moved it
    const int y = dq.outputs[0];
    const std::string what = passes::describe(net.nodes()[q_id]) + " -> " + passes::describe(dq);
    int kept = passes::bypass(net, x, y);
    if (kept >= 0) {
      passes::kill_node(net, d);
      if (report) report->calibration_hints[net.tensor(kept).name] = scale;
    } else {
      // Both names must survive (input copied to output): keep one Identity.
      Node& keep = net.nodes()[d];
      keep.op = "Identity";
      keep.inputs = {x};
      keep.attrs = Attributes();
      if (report) {
        report->calibration_hints[net.tensor(x).name] = scale;
        report->calibration_hints[net.tensor(y).name] = scale;
      }
    }
    if (report) report->add("removed " + what + " (scale " + format_scale(scale) + " kept as calibration hint)");
  }
  const int q_out_now = net.nodes()[q_id].outputs.at(0);
  if (net.consumers(q_out_now).empty() && !passes::is_network_output(net, q_out_now)) passes::kill_node(net, q_id);
}

// DQ -> Q with identical parameters: the Q's output is the DQ's input.
void remove_dq_q(Network& net, int dq_id, PassReport* report) {
  const Node& dq = net.nodes()[dq_id];
  if (dq.outputs.size() != 1 || input_at(dq, 0) < 0 || net.tensor(dq.inputs[0]).is_constant) return;
  for (int q : net.consumers(dq.outputs[0])) {
    const Node& qn = net.nodes()[q];
    const Node& d = net.nodes()[dq_id];
    if (qn.op != "QuantizeLinear" || input_at(qn, 0) != d.outputs[0] || qn.outputs.size() != 1) continue;
    if (!same_constant(net, d, qn, 1) || !same_constant(net, d, qn, 2) ||
        d.attrs.get_int("axis", 1) != qn.attrs.get_int("axis", 1) ||
        d.attrs.get_int("block_size", 0) != qn.attrs.get_int("block_size", 0)) {
      continue;
    }
    const std::string what = passes::describe(d) + " -> " + passes::describe(qn);
    if (passes::bypass(net, d.inputs[0], qn.outputs[0]) < 0) continue;
    passes::kill_node(net, q);
    if (report) report->add("cancelled " + what);
  }
}

}  // namespace

void remove_qdq_pairs(Network& net, PassReport* report, bool keep_activation_pairs) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "DequantizeLinear") fold_weight_dq(net, static_cast<int>(n), report);
  }
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "DequantizeLinear") remove_dq_q(net, static_cast<int>(n), report);
  }
  for (size_t n = 0; n < net.nodes().size() && !keep_activation_pairs; ++n) {
    if (net.nodes()[n].op == "QuantizeLinear" && !net.nodes()[n].inputs.empty()) {
      remove_q_dq(net, static_cast<int>(n), report);
    }
  }
  net.compact();
}

}  // namespace int8rt
