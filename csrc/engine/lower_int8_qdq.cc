// INT8 lowering of a pre-quantized model's QuantizeLinear / DequantizeLinear
// (lower_int8_lowerer.h), as TensorRT treats explicit quantization: the
// model's own scales and zero points, no calibration.
//
// An activation QuantizeLinear (per tensor, constant float scale, int8 or
// uint8 target) whose readers are all DequantizeLinear nodes with the same
// parameters defines the int8 form of three tensors: its output, the DQs'
// outputs and (when every reader of it is such a Q) its float input, so the
// layer producing that input writes int8 directly. A uint8 tensor is held as
// int8 q - 128 with zero point z - 128 (the same real values, bit for bit:
// sat_u8(r + z) - 128 = sat_s8(r + z - 128) for an integer r); an int8 one
// keeps its zero point. The Q becomes an int8rt.Quantize (float input) or
// nothing (its input is already int8 at those parameters), each DQ nothing
// (its output is that int8 tensor; a float reader gets an int8rt.Dequantize).
//
// Layers that take zero points: Conv and Gemm / MatMul with constant weights
// (folded into the epilogue, kernels::apply_zero_points; a padded conv pads
// with the zero point first, int8rt.QPad), Add (kernels::make_add_params),
// and the byte movers (MaxPool, Flatten, Reshape, ...), which pass their
// input's parameters on. Any other layer touching a tensor with a non-zero
// zero point stays float32 between an int8rt.Dequantize and an
// int8rt.Quantize that carry the zero point, as the model's DQ -> op -> Q
// computes it.
#include <cmath>
#include <set>

#include "engine/lower_int8_lowerer.h"
#include "engine/lower_int8_moves.h"

namespace int8rt {
namespace engine {
namespace {

const Tensor* constant_at(const Network& net, const Node& n, size_t i) {
  if (n.inputs.size() <= i || n.inputs[i] < 0) return nullptr;
  const Tensor& t = net.tensor(n.inputs[i]);
  return t.is_constant ? &t : nullptr;
}

}  // namespace

Lowerer::QdqParams Lowerer::qdq_params(const Node& n) const {
  QdqParams p;
  const Tensor* s = constant_at(src_, n, 1);
  if (!s || s->dtype != DataType::kFloat32 || s->f32.size() != 1 || !std::isfinite(s->f32[0]) || !(s->f32[0] > 0.f)) {
    return p;
  }
  if (n.attrs.get_int("block_size", 0) != 0 || n.attrs.has("precision")) return p;
  // The importer writes the quantized type (the IR holds a uint8 zero point as int64).
  const std::string dtype = n.attrs.get_string("int8rt_quant_dtype", n.op == "QuantizeLinear" ? "uint8" : "");
  if (dtype != "uint8" && dtype != "int8") return p;
  if (n.op == "QuantizeLinear" && n.attrs.has("output_dtype") &&
      n.attrs.get_int("output_dtype", 0) != (dtype == "uint8" ? 2 : 3)) {
    return p;
  }
  if (n.op == "DequantizeLinear" && n.attrs.get_int("output_dtype", 1) != 1) return p;  // float32 out only
  int64_t z = 0;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    const Tensor* zp = constant_at(src_, n, 2);
    if (!zp || zp->num_elements() != 1) return p;
    if (zp->dtype == DataType::kInt8) {
      z = zp->i8[0];
    } else if (zp->dtype == DataType::kInt64) {
      z = zp->i64[0];
    } else {
      return p;
    }
  }
  z = dtype == "uint8" ? z - 128 : z;
  if (z < -128 || z > 127) return p;
  p.ok = true;
  p.scale = s->f32[0];
  p.zero = static_cast<int32_t>(z);
  return p;
}

bool Lowerer::quantize_lowers(const Node& q) const {
  if (q.op != "QuantizeLinear" || q.inputs.empty() || q.outputs.size() != 1 || opt_.fp32_layers.count(q.name)) {
    return false;
  }
  const QdqParams p = qdq_params(q);
  const int x = q.inputs[0], y = q.outputs[0];
  if (!p.ok || src_.tensor(x).is_constant || src_.tensor(x).dtype != DataType::kFloat32 || index_.is_output(y) ||
      index_.readers(y).empty()) {
    return false;
  }
  for (int r : index_.readers(y)) {
    const Node& dq = src_.nodes()[r];
    if (dq.op != "DequantizeLinear" || dq.inputs[0] != y || dq.outputs.size() != 1 ||
        opt_.fp32_layers.count(dq.name)) {
      return false;
    }
    // The DQ's zero point is read in the Q's type (an absent one is 0 of it).
    Node typed = dq;
    typed.attrs.set("int8rt_quant_dtype", Attribute::of_string(q.attrs.get_string("int8rt_quant_dtype", "uint8")));
    const QdqParams d = qdq_params(typed);
    if (!d.ok || d.scale != p.scale || d.zero != p.zero ||
        src_.tensor(dq.outputs[0]).dtype != DataType::kFloat32) {
      return false;
    }
  }
  return true;
}

void Lowerer::read_model_quantization() {
  std::map<int, QdqParams> params;  // source tensor -> the model's int8 form of it
  for (const Node& q : src_.nodes()) {
    if (!quantize_lowers(q)) continue;
    const QdqParams p = qdq_params(q);
    params[q.outputs[0]] = p;
    for (int r : index_.readers(q.outputs[0])) params[src_.nodes()[r].outputs[0]] = p;
    // The float input too, when only Qs of these parameters read it.
    const int x = q.inputs[0];
    bool all_same = !index_.is_output(x);
    for (int r : index_.readers(x)) {
      const Node& other = src_.nodes()[r];
      const QdqParams o = quantize_lowers(other) ? qdq_params(other) : QdqParams();
      all_same = all_same && o.ok && o.scale == p.scale && o.zero == p.zero;
    }
    if (all_same) params[x] = p;
  }
  for (const auto& [t, p] : params) {
    scales_[src_.tensor(t).name] = p.scale;  // the model's Q defines these tensors: no calibrated scale applies
    zero_[t] = p.zero;
    has_zero_points_ = has_zero_points_ || p.zero != 0;
  }
}

void Lowerer::alias_int8(int y, int x) {
  int8_id_[y] = int8_id_[x];
  qscale_[y] = qscale_[x];
  qzero_[y] = qzero_[x];
  nhwc_[y] = nhwc_[x];
  other_layout_id_[y] = other_layout_id_[x];
}

bool Lowerer::lower_quantize_linear(int, const Node& node) {
  if (!quantize_lowers(node)) return decline(node, "not a per-tensor int8 / uint8 Q read only by matching DQs");
  const QdqParams p = qdq_params(node);
  const int x = node.inputs[0], y = node.outputs[0];
  if (is_int8(x) && qscale_[x] == p.scale && qzero_[x] == p.zero) {
    alias_int8(y, x);  // the layer before wrote x at the Q's parameters already
    return true;
  }
  // Quantize x's float value (re-quantizing an int8 x that carries other parameters).
  ConvertAttrs a{p.scale, /*logical=*/false};  // rank 4: NHWC, as get_int8 makes it
  a.zero_point = p.zero;
  const int out = dst_.add_node(ConvertAttrs::kQuantizeOp, node.name, {get_float(x)}, a.to_attrs(),
                                {int8_tensor_name(src_.tensor(y).name)})[0];
  set_int8(out, src_.tensor(x).shape, Layout::kNhwc);
  int8_id_[y] = out;
  qscale_[y] = p.scale;
  qzero_[y] = p.zero;
  nhwc_[y] = 1;
  plan_.layer(node.name, ConvertAttrs::kQuantizeOp, sources_of(node));
  return true;
}

bool Lowerer::lower_dequantize_linear(int, const Node& node) {
  const int q = node.inputs.empty() ? -1 : node.inputs[0];
  // quantize_lowers(the Q) checked this DQ's parameters; a DQ of anything else runs as it is.
  if (q < 0 || !is_int8(q) || src_.tensor(q).producer < 0 ||
      !quantize_lowers(src_.nodes()[src_.tensor(q).producer])) {
    return false;
  }
  alias_int8(node.outputs[0], q);
  return true;
}

bool Lowerer::zero_point_blocks(const Node& node) const {
  static const std::set<std::string> kTakesZeroPoints = {
      "QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "MatMul", "Add", "MaxPool", "Flatten", "Reshape",
      "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split", "Gather", "DepthToSpace", "SpaceToDepth", "Shape",
      "GlobalAveragePool"};
  if (!has_zero_points_ || kTakesZeroPoints.count(node.op)) return false;
  for (const std::vector<int>* ids : {&node.inputs, &node.outputs}) {
    for (int t : *ids) {
      if (t >= 0 && !src_.tensor(t).is_constant && zero_point_of(t) != 0) return true;
    }
  }
  return false;
}

bool Lowerer::passes_zero_point_on(const std::string& op) {
  return op != "QuantizeLinear" && op != "DequantizeLinear" && op != "Conv" && op != "Gemm" && op != "MatMul" &&
         op != "Add" && op != "Shape" && op != "Concat" &&  // Concat: its own (lower_concat)
         op != "GlobalAveragePool";                           // its own (lower_global_avgpool)
}

int Lowerer::pad_with_zero_point(int x, std::vector<int64_t>& pads, const std::string& name) {
  const int xin = int8_in(x, Layout::kNhwc);
  const std::vector<int64_t> s = nchw_to_nhwc(src_.tensor(x).shape);
  // QPad's pads, NHWC: [N, H, W, C] begins then ends; ONNX conv pads are (top, left, bottom, right).
  const std::vector<int64_t> nhwc_pads = {0, pads[0], pads[1], 0, 0, pads[2], pads[3], 0};
  const int p = dst_.add_constant_i64(name + "::pads", {8}, nhwc_pads);
  const int v = dst_.add_constant_i8(name + "::zero_point", {}, {static_cast<int8_t>(qzero_[x])});
  Attributes a;
  a.set("mode", Attribute::of_string("constant"));
  const int out = dst_.add_node(QMoveOps::lowered("Pad"), name, {xin, p, v}, a, {name + "::padded"})[0];
  std::vector<int64_t> padded = s;
  if (padded[1] >= 0) padded[1] += pads[0] + pads[2];
  if (padded[2] >= 0) padded[2] += pads[1] + pads[3];
  dst_.tensor(out).dtype = DataType::kInt8;
  dst_.tensor(out).shape = padded;
  pads.assign(4, 0);
  note("layer '" + name + "': input zero point " + std::to_string(qzero_[x]) + " padded explicitly (int8rt.QPad)");
  return out;
}

}  // namespace engine
}  // namespace int8rt
