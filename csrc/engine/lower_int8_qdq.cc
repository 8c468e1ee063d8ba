// INT8 lowering of a pre-quantized model's QuantizeLinear / DequantizeLinear
// (lower_int8_lowerer.h), as TensorRT treats explicit quantization: the
// model's own scales and zero points, no calibration.
//
// An activation QuantizeLinear (per tensor or per channel below, constant
// float scale, int8 or uint8 target) whose readers are all DequantizeLinear
// nodes with the same parameters defines the int8 form of three tensors:
// its output, the DQs' outputs and (when every reader of it is such a Q)
// its float input, so the layer producing that input writes int8 directly.
// A uint8 tensor is held as int8 q - 128 with zero point z - 128 (the same
// real values, bit for bit: sat_u8(r + z) - 128 = sat_s8(r + z - 128) for
// an integer r); an int8 one keeps its zero point. The Q becomes an int8rt.Quantize (float input) or
// nothing (its input is already int8 at those parameters), each DQ nothing
// (its output is that int8 tensor; a float reader gets an int8rt.Dequantize).
//
// Layers that take zero points: Conv and Gemm / MatMul with constant weights
// (folded into the epilogue, kernels::apply_zero_points; a padded conv's
// kernels pad with the zero point, kernels::ConvShape::pad_value), Add
// (kernels::make_add_params), Concat (a copy when its inputs share scale and
// zero point, else each input rescaled to the output's,
// kernels::ref::rescale_value_zp), and the byte movers (MaxPool, Flatten,
// Reshape, ...), which pass their
// input's parameters on. Any other layer touching a tensor with a non-zero
// zero point stays float32 between an int8rt.Dequantize and an
// int8rt.Quantize that carry the zero point, as the model's DQ -> op -> Q
// computes it.
//
// Per-channel activations (NNCF quantizes MobileNetV2's depthwise inputs with
// axis 1 and a scale vector): a Q with one scale per channel of a rank-4
// tensor and one zero point for all channels lowers the same way when every
// reader of its DQs is a depthwise Conv, whose input channel k feeds output
// channel k alone, so channel k's input scale folds into that channel's
// requantization (QLinearAttrs::in_scales); the layer producing the Q's
// input writes it per channel through its own per-channel epilogue
// (out_scales), or else an int8rt.Quantize with per-channel scales does.
// Any other reader keeps the pair at run time (QuantizeLinear /
// DequantizeLinear around a float32 layer), with the reason in the report.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "engine/lower_int8_lowerer.h"

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
  if (!s || s->dtype != DataType::kFloat32 || s->f32.empty() ||
      !std::all_of(s->f32.begin(), s->f32.end(), [](float v) { return std::isfinite(v) && v > 0.f; })) {
    return p;
  }
  // Per channel: axis 1 of a rank-4 tensor, one scale per channel (NNCF's depthwise inputs).
  const bool per_channel = s->f32.size() != 1;
  if (per_channel) {
    if (n.inputs.empty() || n.inputs[0] < 0) return p;
    const std::vector<int64_t>& xs = src_.tensor(n.inputs[0]).shape;
    const int64_t axis = n.attrs.get_int("axis", 1);
    if (xs.size() != 4 || (axis != 1 && axis != -3) || s->shape.size() != 1 ||
        xs[1] != static_cast<int64_t>(s->f32.size())) {
      return p;
    }
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
    // One zero point, or (per channel) one per channel that are all the same.
    const Tensor* zp = constant_at(src_, n, 2);
    if (!zp || static_cast<size_t>(zp->num_elements()) != s->f32.size()) return p;
    std::vector<int64_t> zs;
    if (zp->dtype == DataType::kInt8) {
      zs.assign(zp->i8.begin(), zp->i8.end());
    } else if (zp->dtype == DataType::kInt64) {
      zs = zp->i64;
    } else {
      return p;
    }
    if (zs.empty() || std::any_of(zs.begin(), zs.end(), [&](int64_t v) { return v != zs[0]; })) return p;
    z = zs[0];
  }
  z = dtype == "uint8" ? z - 128 : z;
  if (z < -128 || z > 127) return p;
  p.ok = true;
  p.zero = static_cast<int32_t>(z);
  if (per_channel) {
    p.scales = s->f32;
  } else {
    p.scale = s->f32[0];
  }
  return p;
}

std::string Lowerer::per_channel_blocker(const Node& q) const {
  const int64_t channels = src_.tensor(q.inputs[0]).shape[1];
  for (int r : index_.readers(q.outputs[0])) {
    const int dq = src_.nodes()[r].outputs[0];
    if (index_.is_output(dq)) return "its DequantizeLinear writes a network output";
    for (int c : index_.readers(dq)) {
      const Node& reader = src_.nodes()[c];
      const Tensor* w = constant_at(src_, reader, 1);
      const bool depthwise = reader.op == "Conv" && reader.inputs[0] == dq && w && w->shape.size() == 4 &&
                             w->shape[0] == channels && w->shape[1] == 1 &&
                             reader.attrs.get_int("group", 1) == channels && !opt_.fp32_layers.count(reader.name);
      if (!depthwise) {
        return "'" + reader.name + "' (" + reader.op + ") reads it and is no depthwise Conv (int8 tensors are " +
               "per tensor except a depthwise conv's input)";
      }
    }
  }
  return "";
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
    if (!qdq_params(typed).same(p) || src_.tensor(dq.outputs[0]).dtype != DataType::kFloat32) return false;
  }
  return p.scales.empty() || per_channel_blocker(q).empty();
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
      all_same = all_same && quantize_lowers(other) && qdq_params(other).same(p);
    }
    if (all_same) params[x] = p;
  }
  for (const auto& [t, p] : params) {
    if (p.scales.empty()) {
      scales_[src_.tensor(t).name] = p.scale;  // the model's Q defines these tensors: no calibrated scale applies
    } else {
      channel_scales_[t] = p.scales;
      scales_.erase(src_.tensor(t).name);  // its one calibrated scale, if any, no longer describes it
    }
    zero_[t] = p.zero;
    has_zero_points_ = has_zero_points_ || p.zero != 0;
  }
}

void Lowerer::alias_int8(int y, int x) {
  int8_id_[y] = int8_id_[x];
  qscale_[y] = qscale_[x];
  qzero_[y] = qzero_[x];
  qchannels_[y] = qchannels_[x];
  nhwc_[y] = nhwc_[x];
  other_layout_id_[y] = other_layout_id_[x];
}

bool Lowerer::lower_quantize_linear(int, const Node& node) {
  if (!quantize_lowers(node)) {
    const QdqParams p = qdq_params(node);
    if (p.ok && !p.scales.empty()) {
      const std::string why = per_channel_blocker(node);
      if (!why.empty()) return decline(node, "a per-channel (axis 1) activation Q whose int8 form nothing takes: " + why);
    }
    return decline(node, "not an int8 / uint8 Q (per tensor, or per channel into depthwise convs) read only by "
                         "matching DQs");
  }
  const QdqParams p = qdq_params(node);
  const int x = node.inputs[0], y = node.outputs[0];
  if (is_int8(x) && qscale_[x] == p.scale && qzero_[x] == p.zero && qchannels_[x] == p.scales) {
    alias_int8(y, x);  // the layer before wrote x at the Q's parameters already
    return true;
  }
  // Quantize x's float value (re-quantizing an int8 x that carries other parameters).
  ConvertAttrs a{p.scale, /*logical=*/false};  // rank 4: NHWC, as get_int8 makes it
  a.zero_point = p.zero;
  a.scales.assign(p.scales.begin(), p.scales.end());
  const int out = dst_.add_node(ConvertAttrs::kQuantizeOp, node.name, {get_float(x)}, a.to_attrs(),
                                {int8_tensor_name(src_.tensor(y).name)})[0];
  set_int8(out, src_.tensor(x).shape, Layout::kNhwc);
  int8_id_[y] = out;
  qscale_[y] = p.scale;
  qzero_[y] = p.zero;
  qchannels_[y] = p.scales;
  nhwc_[y] = 1;
  plan_.layer(node.name, ConvertAttrs::kQuantizeOp, sources_of(node));
  if (!p.scales.empty()) {
    note("layer '" + node.name + "' (QuantizeLinear) quantizes per channel from float32: '" +
         src_.tensor(x).name + "' has no int8 producer that writes it per channel");
  }
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
      "QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "MatMul", "Add", "Concat", "MaxPool", "Flatten",
      "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split", "Gather", "DepthToSpace", "SpaceToDepth",
      "Shape", "GlobalAveragePool"};
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

}  // namespace engine
}  // namespace int8rt
