// INT8 lowering (see lower_int8.h for what becomes int8 and the op contract).
#include "engine/lower_int8.h"

#include <cmath>
#include <limits>
#include <set>

#include "engine/lut_region.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<int64_t> nchw_to_nhwc(const std::vector<int64_t>& s) {
  if (s.size() != 4) return s;
  return {s[0], s[2], s[3], s[1]};
}

class Lowerer {
 public:
  Lowerer(const Network& src, const LoweringOptions& opt) : src_(src), opt_(opt), index_(src) {
    size_t n = src.tensors().size();
    float_id_.assign(n, -1);
    int8_id_.assign(n, -1);
    qscale_.assign(n, 0.f);
    consumed_.assign(src.nodes().size(), 0);
  }

  LoweringResult run() {
    for (int id : src_.inputs()) {
      const Tensor& t = src_.tensor(id);
      float_id_[id] = dst_.add_input(t.name, t.shape, t.dtype);
    }
    for (int n : src_.topological_order()) {
      if (consumed_[n]) continue;
      const Node& node = src_.nodes()[n];
      if (opt_.fp32_layers.count(node.name)) {
        note("layer '" + node.name + "' kept in float32 (requested)");
        emit_float(node);
      } else {
        const size_t notes = report_.size();
        if (!try_int8(n, node)) {
          if (report_.size() == notes) decline(node, float_reason(node));  // every float layer says why
          emit_float(node);
        }
      }
    }
    for (int id : src_.outputs()) dst_.mark_output(get_float(id));
    LoweringResult r;
    r.network = std::move(dst_);
    r.report = std::move(report_);
    return r;
  }

 private:
  // ---- tensors ----
  bool has_scale(int t) const {
    auto it = opt_.scales.find(src_.tensor(t).name);
    return it != opt_.scales.end() && std::isfinite(it->second) && it->second > 0.f;
  }
  float scale(int t) const { return opt_.scales.at(src_.tensor(t).name); }

  int get_float(int t) {
    if (float_id_[t] >= 0) return float_id_[t];
    const Tensor& src_t = src_.tensor(t);
    if (src_t.is_constant) {
      int id = -1;
      switch (src_t.dtype) {
        case DataType::kFloat32: id = dst_.add_constant(src_t.name, src_t.shape, src_t.f32); break;
        case DataType::kInt64: id = dst_.add_constant_i64(src_t.name, src_t.shape, src_t.i64); break;
        case DataType::kInt8: id = dst_.add_constant_i8(src_t.name, src_t.shape, src_t.i8); break;
        case DataType::kInt32: throw NotSupported("int32 constant '" + src_t.name + "'");
      }
      return float_id_[t] = id;
    }
    if (int8_id_[t] < 0) throw Error("lowering: tensor '" + src_t.name + "' used before it is produced");
    Attributes a;
    a.set("scale", Attribute::of_float(qscale_[t]));
    int out = dst_.add_node("int8rt.Dequantize", src_t.name + "::dequantize", {int8_id_[t]}, a, {src_t.name})[0];
    dst_.tensor(out).shape = src_t.shape;
    return float_id_[t] = out;
  }

  int get_int8(int t) {
    if (int8_id_[t] >= 0) return int8_id_[t];
    const Tensor& src_t = src_.tensor(t);
    int f = get_float(t);
    Attributes a;
    a.set("scale", Attribute::of_float(scale(t)));
    int out = dst_.add_node("int8rt.Quantize", src_t.name + "::quantize", {f}, a, {src_t.name + "::int8"})[0];
    set_int8(out, src_t.shape);
    qscale_[t] = scale(t);
    return int8_id_[t] = out;
  }

  void set_int8(int dst_id, const std::vector<int64_t>& nchw_shape) {
    dst_.tensor(dst_id).dtype = DataType::kInt8;
    dst_.tensor(dst_id).shape = nchw_to_nhwc(nchw_shape);
  }

  // Records the int8 output of a lowered node for source tensor `t`.
  int add_int8_node(const std::string& op, const std::string& name, const std::vector<int>& ins, Attributes a,
                    int t, float out_scale) {
    int out = dst_.add_node(op, name, ins, std::move(a), {src_.tensor(t).name + "::int8"})[0];
    set_int8(out, src_.tensor(t).shape);
    qscale_[t] = out_scale;
    return int8_id_[t] = out;
  }

  void note(std::string line) { report_.push_back(std::move(line)); }

  // Quantized weights are a function of the float weights (and the layout
  // the name says), so layers sharing a weight tensor share its int8 copy.
  int add_weight_constant(const std::string& name, const std::vector<int64_t>& shape, const std::vector<int8_t>& v) {
    int found = dst_.find_tensor(name);
    return found >= 0 ? found : dst_.add_constant_i8(name, shape, v);
  }

  // ---- float nodes ----
  void emit_float(const Node& node) {
    std::vector<int> ins;
    for (int id : node.inputs) ins.push_back(id < 0 ? -1 : get_float(id));
    std::vector<std::string> names;
    for (int id : node.outputs) names.push_back(src_.tensor(id).name);
    auto outs = dst_.add_node(node.op, node.name, ins, node.attrs, names);
    for (size_t o = 0; o < outs.size(); ++o) {
      dst_.tensor(outs[o]).shape = src_.tensor(node.outputs[o]).shape;
      dst_.tensor(outs[o]).dtype = src_.tensor(node.outputs[o]).dtype;
      float_id_[node.outputs[o]] = outs[o];
    }
  }

  // ---- int8 candidates ----
  bool try_int8(int n, const Node& node) {
    if (node.op == "Conv") return lower_conv(node);
    if (node.op == "Gemm" || node.op == "MatMul") return lower_gemm(node);
    if (node.op == "MaxPool" || node.op == "AveragePool") return lower_pool(node);
    if (node.op == "GlobalAveragePool") return lower_global_avgpool(node);
    if (node.op == "Add" && lower_add(n, node)) return true;
    if (node.op == "Concat") return lower_concat(node);
    if (node.op == "Flatten") return lower_flatten(node);
    if (node.op == "Mul" && lower_channel_mul(node)) return true;
    if (opt_.pointwise_tables && is_lut_op(node.op)) return lower_lut(n);
    return false;
  }

  // For Mul(x, s) with x [N, C, H, W] and s a computed [N or 1, C, 1, 1]
  // tensor (a squeeze-and-excitation gate): the index of x among the
  // inputs, or -1.
  int channel_mul_operand(const Node& node) const {
    if (node.op != "Mul" || node.inputs.size() != 2 || node.outputs.size() != 1) return -1;
    for (int i = 0; i < 2; ++i) {
      const Tensor& x = src_.tensor(node.inputs[i]);
      const Tensor& g = src_.tensor(node.inputs[1 - i]);
      if (x.is_constant || g.is_constant || x.shape.size() != 4 || g.shape.size() != 4) continue;
      if (g.dtype != DataType::kFloat32 || g.shape[1] != x.shape[1] || g.shape[2] != 1 || g.shape[3] != 1) continue;
      if (g.shape[0] != x.shape[0] && g.shape[0] != 1) continue;
      if (x.shape[1] <= 0 || (x.shape[2] == 1 && x.shape[3] == 1)) continue;
      return i;
    }
    return -1;
  }

  // y = x * gate per channel with x int8: int8rt.QChannelMul.
  bool lower_channel_mul(const Node& node) {
    const int i = channel_mul_operand(node);
    if (i < 0) return false;
    const int x = node.inputs[i], gate = node.inputs[1 - i], y = node.outputs[0];
    if (!is_int8(x) || index_.is_output(y) || !has_scale(y)) return false;
    Attributes a;
    a.set("in_scale", Attribute::of_float(qscale_[x]));
    a.set("out_scale", Attribute::of_float(scale(y)));
    add_int8_node("int8rt.QChannelMul", node.name, {int8_id_[x], get_float(gate)}, std::move(a), y, scale(y));
    return true;
  }

  // Ops that take tensor t as int8. Conv / Gemm / MatMul quantized the float
  // result with the same scale anyway, so behind them a table changes no
  // byte; pooling, concat, flatten, add and a channel gate (Mul by a
  // [N, C, 1, 1] tensor) then run in int8 on it instead of in float32.
  bool reads_int8(const Node& node, int t) const {
    static const std::set<std::string> ops = {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool",
                                              "GlobalAveragePool", "Concat", "Flatten", "Add"};
    if (opt_.fp32_layers.count(node.name)) return false;
    if (ops.count(node.op)) return true;
    if (!opt_.int8_gates) return false;  // a gate would read int8 t where the float path read float t
    const int i = channel_mul_operand(node);
    return i >= 0 && node.inputs[i] == t;
  }

  bool lower_lut(int n) {
    // Only a region whose x is int8 can become a table: check before growing
    // one (a chain of float element-wise ops would otherwise be regrown from
    // every one of its nodes, quadratic in its length).
    const int x = lut_region_input(src_, n);
    if (x < 0 || !is_int8(x)) return false;
    LutRegion r = find_lut_region(src_, index_, n, [&](int m) {
      return consumed_[m] || opt_.fp32_layers.count(src_.nodes()[m].name) > 0;
    });
    if (r.nodes.empty() || !is_int8(r.input)) return false;
    const int y = r.output;
    if (index_.is_output(y) || !has_scale(y)) return false;
    // Every reader of y must take it as int8 (an element-wise or other float
    // reader would see int8 y instead of the float y of the float path).
    for (int c : index_.readers(y)) {
      if (!reads_int8(src_.nodes()[c], y)) return false;
    }
    std::vector<int8_t> table = compute_lut(src_, r, qscale_[r.input], scale(y));
    std::string name, ops;
    for (int m : r.nodes) {
      name += (name.empty() ? "" : "+") + src_.nodes()[m].name;
      ops += (ops.empty() ? "" : "+") + src_.nodes()[m].op;
      consumed_[m] = 1;
    }
    int tab = dst_.add_constant_i8(src_.tensor(y).name + "::table", {256}, table);
    Attributes a;
    a.set("in_scale", Attribute::of_float(qscale_[r.input]));
    a.set("out_scale", Attribute::of_float(scale(y)));
    a.set("ops", Attribute::of_string(ops));
    add_int8_node("int8rt.QLut", name, {int8_id_[r.input], tab}, std::move(a), y, scale(y));
    note("element-wise " + ops + " ending at '" + src_.tensor(y).name + "' runs as one int8 table");
    return true;
  }

  // Why a node that try_int8 left without a word stays float32.
  std::string float_reason(const Node& node) const {
    static const char* const kInt8Ops[] = {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
                                           "Add", "Concat", "Flatten", "Mul"};
    const bool lut = is_lut_op(node.op);
    bool int8_op = lut;
    for (const char* op : kInt8Ops) int8_op = int8_op || node.op == op;
    if (!int8_op) return "int8rt has no int8 kernel for " + node.op;
    if (lut && !opt_.pointwise_tables && node.op != "Add" && node.op != "Mul") {
      return "element-wise tables are off (pointwise_tables)";
    }
    for (int id : node.inputs) {
      if (id >= 0 && !src_.tensor(id).is_constant && !is_int8(id)) {
        return "its input '" + src_.tensor(id).name + "' is float32 here (made by a float32 layer, or not calibrated)";
      }
    }
    return "this form of " + node.op + " (its shape, axis or attributes) has no int8 kernel";
  }

  bool decline(const Node& node, const std::string& why) {
    note("layer '" + node.name + "' (" + node.op + ") stays float32: " + why);
    return false;
  }

  bool is_int8(int t) const { return t >= 0 && int8_id_[t] >= 0; }

  // Fused activation of conv/gemm into the epilogue attributes.
  bool activation_attrs(const Node& node, Attributes& a) {
    std::string act = node.attrs.get_string("int8rt_activation", "");
    if (act.empty()) {
      a.set("act", Attribute::of_string("none"));
      a.set("act_min", Attribute::of_float(-kInf));
      a.set("act_max", Attribute::of_float(kInf));
    } else if (act == "Relu") {
      a.set("act", Attribute::of_string("relu"));
      a.set("act_min", Attribute::of_float(0.0));
      a.set("act_max", Attribute::of_float(kInf));
    } else if (act == "Clip") {
      a.set("act", Attribute::of_string("clip"));
      a.set("act_min", Attribute::of_float(node.attrs.get_float("int8rt_clip_min", -kInf)));
      a.set("act_max", Attribute::of_float(node.attrs.get_float("int8rt_clip_max", kInf)));
    } else {
      return false;
    }
    return true;
  }

  bool lower_conv(const Node& node) {
    if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
    int x = node.inputs[0], w = node.inputs[1], b = node.inputs.size() > 2 ? node.inputs[2] : -1;
    int y = node.outputs[0];
    const Tensor& wt = src_.tensor(w);
    if (src_.tensor(x).shape.size() != 4 || !wt.is_constant || wt.dtype != DataType::kFloat32 || wt.shape.size() != 4) {
      return decline(node, "not a 2-D convolution with constant weights");
    }
    if (b >= 0 && !src_.tensor(b).is_constant) return decline(node, "bias is not a constant");
    if ((!is_int8(x) && !has_scale(x)) || !has_scale(y)) return decline(node, "no calibration scale for its input or output");
    // A fused residual (passes.h: inputs[3], added after the bias, before
    // the activation) becomes the int8 epilogue's residual operand.
    int residual = -1;
    if (node.attrs.has("int8rt_residual")) {
      residual = node.inputs.size() > 3 ? node.inputs[3] : -1;
      if (residual < 0 || src_.tensor(residual).shape != src_.tensor(y).shape) {
        return decline(node, "fused residual input is malformed");
      }
      if (!is_int8(residual) && !has_scale(residual)) return decline(node, "no calibration scale for its residual input");
    }
    Attributes a;
    if (!activation_attrs(node, a)) return decline(node, "fused activation has no int8 epilogue");
    const auto& xs = src_.tensor(x).shape;
    const auto& ys = src_.tensor(y).shape;
    std::vector<int64_t> kernel = {wt.shape[2], wt.shape[3]};
    std::vector<int64_t> strides = node.attrs.get_ints("strides", {1, 1});
    std::vector<int64_t> dil = node.attrs.get_ints("dilations", {1, 1});
    std::vector<int64_t> pads = node.attrs.get_ints("pads", {0, 0, 0, 0});
    std::string auto_pad = node.attrs.get_string("auto_pad", "NOTSET");
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      pads.assign(4, 0);
      for (int d = 0; d < 2; ++d) {
        int64_t in = xs[2 + d], out = ys[2 + d];
        int64_t total = std::max<int64_t>(0, (out - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 - in);
        int64_t small = total / 2, big = total - small;
        pads[d] = auto_pad == "SAME_UPPER" ? small : big;
        pads[d + 2] = auto_pad == "SAME_UPPER" ? big : small;
      }
    } else if (auto_pad == "VALID") {
      pads.assign(4, 0);
    }
    // ONNX pads are (x1_begin, x2_begin, x1_end, x2_end) = (top, left, bottom, right).
    int64_t per_channel = wt.shape[1] * wt.shape[2] * wt.shape[3];
    quant::QuantizedWeights qw = quant::quantize_weights_per_channel(wt.f32.data(), wt.shape[0], per_channel);
    int wq = add_weight_constant(wt.name + "::int8", wt.shape, qw.values);
    int bias = b >= 0 ? get_float(b) : -1;
    a.set("kernel_shape", Attribute::of_ints(kernel));
    a.set("strides", Attribute::of_ints(strides));
    a.set("pads", Attribute::of_ints(pads));
    a.set("dilations", Attribute::of_ints(dil));
    a.set("group", Attribute::of_int(node.attrs.get_int("group", 1)));
    // The input's int8 scale is the one its int8 tensor carries, which for a
    // max-pool output is the pool input's scale, not the calibrated one.
    int xin = get_int8(x);
    a.set("in_scale", Attribute::of_float(qscale_[x]));
    a.set("out_scale", Attribute::of_float(scale(y)));
    a.set("w_scales", Attribute::of_floats(std::vector<double>(qw.scales.begin(), qw.scales.end())));
    std::vector<int> ins = {xin, wq, bias};
    if (residual >= 0) {
      ins.push_back(get_int8(residual));
      a.set("residual_scale", Attribute::of_float(qscale_[residual]));
    }
    add_int8_node("int8rt.QConv", node.name, ins, std::move(a), y, scale(y));
    return true;
  }

  bool lower_gemm(const Node& node) {
    if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
    int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
    int b = node.op == "Gemm" && node.inputs.size() > 2 ? node.inputs[2] : -1;
    const Tensor& wt = src_.tensor(w);
    if (!wt.is_constant || wt.dtype != DataType::kFloat32 || wt.shape.size() != 2) {
      return decline(node, "weights are not a constant matrix");
    }
    if (node.op == "Gemm" && (node.attrs.get_int("transA", 0) != 0 || node.attrs.get_float("alpha", 1.0) != 1.0 ||
                              node.attrs.get_float("beta", 1.0) != 1.0 || src_.tensor(x).shape.size() != 2)) {
      return decline(node, "Gemm with transA, alpha or beta other than the defaults");
    }
    size_t rank = src_.tensor(x).shape.size();
    if (rank < 2 || rank == 4) return decline(node, "input rank must be 2 or 3 (int8 rank-4 tensors are NHWC)");
    if (b >= 0) {
      const Tensor& bt = src_.tensor(b);
      int64_t n_out = (node.op == "Gemm" && node.attrs.get_int("transB", 0)) ? wt.shape[0] : wt.shape[1];
      if (!bt.is_constant || bt.num_elements() != n_out) return decline(node, "bias is not a constant vector");
    }
    if (!is_int8(x) && !has_scale(x)) return decline(node, "no calibration scale for its input");
    Attributes a;
    if (!activation_attrs(node, a)) return decline(node, "fused activation has no int8 epilogue");
    // Weights as [N][K].
    bool trans_b = node.op == "Gemm" && node.attrs.get_int("transB", 0) != 0;
    int64_t n_out = trans_b ? wt.shape[0] : wt.shape[1], k = trans_b ? wt.shape[1] : wt.shape[0];
    std::vector<float> nk(static_cast<size_t>(n_out * k));
    for (int64_t i = 0; i < n_out; ++i)
      for (int64_t j = 0; j < k; ++j) nk[i * k + j] = trans_b ? wt.f32[i * k + j] : wt.f32[j * n_out + i];
    quant::QuantizedWeights qw = quant::quantize_weights_per_channel(nk.data(), n_out, k);
    int wq = add_weight_constant(wt.name + (trans_b ? "::int8" : "::int8_nk"), {n_out, k}, qw.values);
    int bias = -1;
    if (b >= 0) {
      const Tensor& bt = src_.tensor(b);
      int found = dst_.find_tensor(bt.name + "::vector");
      bias = found >= 0 ? found : dst_.add_constant(bt.name + "::vector", {n_out}, bt.f32);
    }
    bool int8_out = has_scale(y) && !index_.is_output(y);
    int xin = get_int8(x);
    a.set("in_scale", Attribute::of_float(qscale_[x]));
    a.set("out_scale", Attribute::of_float(int8_out ? scale(y) : 0.0));
    a.set("w_scales", Attribute::of_floats(std::vector<double>(qw.scales.begin(), qw.scales.end())));
    if (int8_out) {
      add_int8_node("int8rt.QGemm", node.name, {xin, wq, bias}, std::move(a), y, scale(y));
    } else {
      int out = dst_.add_node("int8rt.QGemm", node.name, {xin, wq, bias}, std::move(a), {src_.tensor(y).name})[0];
      dst_.tensor(out).shape = src_.tensor(y).shape;
      float_id_[y] = out;
    }
    return true;
  }

  bool lower_pool(const Node& node) {
    int x = node.inputs[0], y = node.outputs[0];
    if (!is_int8(x) || node.outputs.size() != 1 || src_.tensor(x).shape.size() != 4) return false;
    if (node.attrs.get_int("ceil_mode", 0) != 0 || node.attrs.get_string("auto_pad", "NOTSET") != "NOTSET") {
      return decline(node, "ceil_mode or auto_pad pooling is not lowered");
    }
    for (int64_t d : node.attrs.get_ints("dilations", {1, 1})) {
      if (d != 1) return decline(node, "dilated pooling is not lowered");
    }
    Attributes a;
    a.set("kernel_shape", Attribute::of_ints(node.attrs.get_ints("kernel_shape", {})));
    a.set("strides", Attribute::of_ints(node.attrs.get_ints("strides", {1, 1})));
    a.set("pads", Attribute::of_ints(node.attrs.get_ints("pads", {0, 0, 0, 0})));
    if (node.op == "MaxPool") {
      add_int8_node("int8rt.QMaxPool", node.name, {int8_id_[x]}, std::move(a), y, qscale_[x]);
      return true;
    }
    if (!has_scale(y)) return decline(node, "no calibration scale for its output");
    a.set("count_include_pad", Attribute::of_int(node.attrs.get_int("count_include_pad", 0)));
    a.set("in_scale", Attribute::of_float(qscale_[x]));
    a.set("out_scale", Attribute::of_float(scale(y)));
    add_int8_node("int8rt.QAveragePool", node.name, {int8_id_[x]}, std::move(a), y, scale(y));
    return true;
  }

  bool lower_global_avgpool(const Node& node) {
    int x = node.inputs[0], y = node.outputs[0];
    if (!is_int8(x) || src_.tensor(x).shape.size() != 4) return false;
    if (!has_scale(y)) return decline(node, "no calibration scale for its output");
    Attributes a;
    a.set("in_scale", Attribute::of_float(qscale_[x]));
    a.set("out_scale", Attribute::of_float(scale(y)));
    add_int8_node("int8rt.QGlobalAveragePool", node.name, {int8_id_[x]}, std::move(a), y, scale(y));
    return true;
  }

  bool lower_add(int n, const Node& node) {
    if (node.inputs.size() != 2) return false;
    int a_in = node.inputs[0], b_in = node.inputs[1], y = node.outputs[0];
    if (!is_int8(a_in) || !is_int8(b_in)) return false;
    if (src_.tensor(a_in).shape != src_.tensor(b_in).shape || src_.tensor(a_in).shape.size() != 4) {
      return decline(node, "broadcasting add is not lowered");
    }
    // Fold a following Relu (the residual block's) into the epilogue.
    int out_t = y;
    std::string act = "none";
    auto readers = index_.readers(y);
    if (!index_.is_output(y) && readers.size() == 1 && src_.nodes()[readers[0]].op == "Relu" &&
        !opt_.fp32_layers.count(src_.nodes()[readers[0]].name)) {
      out_t = src_.nodes()[readers[0]].outputs[0];
      act = "relu";
    }
    if (!has_scale(out_t)) return decline(node, "no calibration scale for its output");
    if (act == "relu") consumed_[readers[0]] = 1;
    (void)n;
    Attributes a;
    a.set("a_scale", Attribute::of_float(qscale_[a_in]));
    a.set("b_scale", Attribute::of_float(qscale_[b_in]));
    a.set("out_scale", Attribute::of_float(scale(out_t)));
    a.set("act", Attribute::of_string(act));
    add_int8_node("int8rt.QAdd", node.name, {int8_id_[a_in], int8_id_[b_in]}, std::move(a), out_t, scale(out_t));
    return true;
  }

  bool lower_concat(const Node& node) {
    int y = node.outputs[0];
    int64_t axis = node.attrs.get_int("axis", 1);
    if (src_.tensor(y).shape.size() != 4 || (axis != 1 && axis != -3)) return false;
    std::vector<int> ins;
    std::vector<double> scales;
    for (int id : node.inputs) {
      if (!is_int8(id)) return false;
      ins.push_back(int8_id_[id]);
      scales.push_back(qscale_[id]);
    }
    if (!has_scale(y)) return decline(node, "no calibration scale for its output");
    Attributes a;
    a.set("in_scales", Attribute::of_floats(scales));
    a.set("out_scale", Attribute::of_float(scale(y)));
    add_int8_node("int8rt.QConcat", node.name, ins, std::move(a), y, scale(y));
    return true;
  }

  // Flatten(axis=1) of an int8 [N, C, 1, 1] tensor: NHWC and NCHW orders
  // coincide when H = W = 1, so the int8 bytes are already the flattened
  // [N, C] tensor (global pooling -> flatten -> fully connected stays int8).
  bool lower_flatten(const Node& node) {
    int x = node.inputs[0], y = node.outputs[0];
    const auto& xs = src_.tensor(x).shape;
    if (!is_int8(x) || xs.size() != 4 || xs[2] != 1 || xs[3] != 1 || node.attrs.get_int("axis", 1) != 1) return false;
    int out = dst_.add_node("int8rt.QFlatten", node.name, {int8_id_[x]}, {}, {src_.tensor(y).name + "::int8"})[0];
    dst_.tensor(out).dtype = DataType::kInt8;
    dst_.tensor(out).shape = src_.tensor(y).shape;
    qscale_[y] = qscale_[x];
    int8_id_[y] = out;
    return true;
  }

  const Network& src_;
  const LoweringOptions& opt_;
  const NetworkIndex index_;  // readers and outputs of src_, which never changes
  Network dst_;
  std::vector<std::string> report_;
  std::vector<int> float_id_, int8_id_;
  std::vector<float> qscale_;
  std::vector<char> consumed_;
};

}  // namespace

LoweringResult lower_int8(const Network& net, const LoweringOptions& options) {
  return Lowerer(net, options).run();
}

}  // namespace engine
}  // namespace int8rt
