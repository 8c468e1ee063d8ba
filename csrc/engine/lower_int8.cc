// INT8 lowering (see lower_int8.h for what becomes int8 and the op contract).
#include "engine/lower_int8.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "engine/int8_plan_recorder.h"
#include "engine/lower_int8_moves.h"
#include "engine/lut_region.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/nearest_sources.h"
#include "engine/ops/resize_coords.h"
#include "engine/value.h"
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
    other_layout_id_.assign(n, -1);
    nhwc_.assign(n, 0);
    qscale_.assign(n, 0.f);
    consumed_.assign(src.nodes().size(), 0);
  }

  LoweringResult run() {
    for (int id : src_.inputs()) {
      const Tensor& t = src_.tensor(id);
      float_id_[id] = dst_.add_input(t.name, t.shape, t.dtype);
    }
    for (const auto& kv : src_.shape_ranges()) dst_.set_shape_range(kv.first, kv.second);
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
    r.plan = plan_.finish(dst_);
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
        case DataType::kBool: id = dst_.add_constant_bool(src_t.name, src_t.shape, src_t.i8); break;
        case DataType::kInt32: throw NotSupported("int32 constant '" + src_t.name + "'");
      }
      return float_id_[t] = id;
    }
    if (int8_id_[t] < 0) throw Error("lowering: tensor '" + src_t.name + "' used before it is produced");
    const std::string name = src_t.name + "::dequantize";
    const ConvertAttrs a{qscale_[t], is_logical(t)};
    int out = dst_.add_node(ConvertAttrs::kDequantizeOp, name, {int8_id_[t]}, a.to_attrs(), {src_t.name})[0];
    dst_.tensor(out).shape = src_t.shape;
    plan_.convert(out, name, ConvertAttrs::kDequantizeOp, src_t.name, qscale_[t]);
    return float_id_[t] = out;
  }

  // ---- int8 layouts ----
  // A rank-4 int8 tensor is held either channels-last (NHWC: what convs,
  // pools, gates and resizes read and write) or in the float tensor's own
  // element order ("logical": what MatMuls read and write, attention's
  // [batch, heads, sequence, dim]). Other ranks are always logical. An op
  // that reads one layout asks int8_in(t, layout), which converts the other
  // once per tensor (an int8 QTranspose); element-wise and data-movement
  // layers keep their input's layout.
  enum class Layout { kNhwc, kLogical };
  bool is_logical(int t) const { return src_.tensor(t).shape.size() != 4 || !nhwc_[t]; }
  Layout layout_of(int t) const { return is_logical(t) ? Layout::kLogical : Layout::kNhwc; }

  // Source tensor t in int8 and in layout `want` (only rank 4 has a choice):
  // quantized from float in that layout if it is not int8 yet.
  int int8_in(int t, Layout want) {
    if (int8_id_[t] < 0) return get_int8(t, want);
    if (src_.tensor(t).shape.size() != 4 || layout_of(t) == want) return int8_id_[t];
    if (other_layout_id_[t] >= 0) return other_layout_id_[t];
    const std::string& name = src_.tensor(t).name;
    const bool to_nhwc = want == Layout::kNhwc;
    const std::string node = name + (to_nhwc ? "::to_nhwc_layout" : "::to_logical_layout");
    const int id = add_layout_transpose(node, int8_id_[t], to_nhwc ? kNhwcFromNchw : kNchwToNhwcAxis,
                                        int8_tensor_name(name) + (to_nhwc ? "::nhwc" : "::logical"), {node});
    set_int8(id, src_.tensor(t).shape, want);
    note("int8 tensor '" + name + "' is also laid out " + (to_nhwc ? "NHWC" : "in its logical order") + " for " +
         (to_nhwc ? "a conv, pool or resize" : "a MatMul"));
    return other_layout_id_[t] = id;
  }

  int get_int8(int t, Layout layout = Layout::kNhwc) {
    if (int8_id_[t] >= 0) return int8_id_[t];
    const Tensor& src_t = src_.tensor(t);
    int f = get_float(t);
    const std::string name = src_t.name + "::quantize";
    const bool logical = src_t.shape.size() == 4 && layout == Layout::kLogical;
    const ConvertAttrs a{scale(t), logical};
    int out = dst_.add_node(ConvertAttrs::kQuantizeOp, name, {f}, a.to_attrs(), {int8_tensor_name(src_t.name)})[0];
    set_int8(out, src_t.shape, layout);
    qscale_[t] = scale(t);
    nhwc_[t] = !logical;
    record_int8_tensor(t, out, name, /*in_int8=*/false);
    plan_.convert(out, name, ConvertAttrs::kQuantizeOp, src_t.name, qscale_[t]);
    return int8_id_[t] = out;
  }

  void set_int8(int dst_id, const std::vector<int64_t>& nchw_shape, Layout layout = Layout::kNhwc) {
    dst_.tensor(dst_id).dtype = DataType::kInt8;
    dst_.tensor(dst_id).shape = layout == Layout::kNhwc ? nchw_to_nhwc(nchw_shape) : nchw_shape;
  }

  // Adds the int8 layer `name` (computing source nodes `sources`) whose
  // int8 output is source tensor `t` at `out_scale`, laid out as `layout`.
  int add_int8_node(const std::string& op, const std::string& name, std::vector<std::string> sources,
                    const std::vector<int>& ins, Attributes a, int t, float out_scale,
                    Layout layout = Layout::kNhwc) {
    const bool logical = src_.tensor(t).shape.size() == 4 && layout == Layout::kLogical;
    if (logical) mark_logical_layout(a);
    int out = dst_.add_node(op, name, ins, std::move(a), {int8_tensor_name(src_.tensor(t).name)})[0];
    set_int8(out, src_.tensor(t).shape, layout);
    qscale_[t] = out_scale;
    nhwc_[t] = !logical;
    plan_.layer(name, op, std::move(sources));
    record_int8_tensor(t, out, name, /*in_int8=*/true);
    return int8_id_[t] = out;
  }

  // ---- the plan (int8rt/int8_plan.h) ----
  // The source nodes behind node `node`: those a graph pass merged into it, or itself.
  std::vector<std::string> sources_of(const Node& node) const {
    auto it = opt_.merged_nodes.find(node.name);
    return it != opt_.merged_nodes.end() ? it->second : std::vector<std::string>{node.name};
  }
  void record_int8_tensor(int t, int dst_id, const std::string& producer, bool in_int8) {
    plan_.int8_tensor(dst_id, {src_.tensor(t).name, dst_.tensor(dst_id).name, qscale_[t], producer, in_int8, {},
                               src_.tensor(t).shape.size() == 4 && nhwc_[t]});
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
  // The lowering of each op with an int8 form (false: it stays float32,
  // unless it starts an element-wise table below).
  struct OpLowering {
    bool (Lowerer::*lower)(int n, const Node& node);
    bool reads_int8;  // a layer of this op takes its input in int8 (reads_int8)
  };
  static const std::map<std::string, OpLowering>& lowerings() {
    static const std::map<std::string, OpLowering> table = {
        {"Conv", {&Lowerer::lower_conv, true}},
        {"ConvTranspose", {&Lowerer::lower_conv_transpose, true}},
        {"Gemm", {&Lowerer::lower_gemm, true}},
        {"MatMul", {&Lowerer::lower_gemm, true}},
        {"MaxPool", {&Lowerer::lower_pool, true}},
        {"AveragePool", {&Lowerer::lower_pool, true}},
        {"GlobalAveragePool", {&Lowerer::lower_global_avgpool, true}},
        {"Add", {&Lowerer::lower_add, true}},
        {"Concat", {&Lowerer::lower_concat, true}},
        {"Flatten", {&Lowerer::lower_flatten, true}},
        {"Resize", {&Lowerer::lower_resize, true}},
        {"Mul", {&Lowerer::lower_channel_mul, false}},  // a channel gate; reads_int8 asks channel_mul_operand
        // Data movement (lower_int8_moves.h); reads_int8 asks the readers of their outputs.
        {"Transpose", {&Lowerer::lower_move, false}},
        {"Slice", {&Lowerer::lower_move, false}},
        {"Split", {&Lowerer::lower_move, false}},
        {"Pad", {&Lowerer::lower_move, false}},
        {"Reshape", {&Lowerer::lower_move, false}},
        {"Squeeze", {&Lowerer::lower_move, false}},
        {"Unsqueeze", {&Lowerer::lower_move, false}},
        {"DepthToSpace", {&Lowerer::lower_move, false}},
        {"SpaceToDepth", {&Lowerer::lower_move, false}},
        {"Shape", {&Lowerer::lower_shape, true}},  // reads no values: int8 or float is all one to it
    };
    return table;
  }

  bool try_int8(int n, const Node& node) {
    auto it = lowerings().find(node.op);
    if (it != lowerings().end() && (this->*(it->second.lower))(n, node)) return true;
    return opt_.pointwise_tables && is_lut_op(node.op) && lower_lut(n);
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
  bool lower_channel_mul(int, const Node& node) {
    const int i = channel_mul_operand(node);
    if (i < 0) return false;
    const int x = node.inputs[i], gate = node.inputs[1 - i], y = node.outputs[0];
    if (!is_int8(x) || index_.is_output(y) || !has_scale(y)) return false;
    const QChannelMulAttrs a{{qscale_[x], scale(y)}};
    add_int8_node(QChannelMulAttrs::kOp, node.name, sources_of(node), {int8_in(x, Layout::kNhwc), get_float(gate)},
                  a.to_attrs(), y, scale(y));
    return true;
  }

  // Ops that take tensor t as int8. Conv / Gemm / MatMul quantized the float
  // result with the same scale anyway, so behind them a table changes no
  // byte; pooling, concat, flatten, add and a channel gate (Mul by a
  // [N, C, 1, 1] tensor) then run in int8 on it instead of in float32.
  bool reads_int8(const Node& node, int t) const {
    if (opt_.fp32_layers.count(node.name)) return false;
    auto it = lowerings().find(node.op);
    if (it != lowerings().end() && it->second.reads_int8) return true;
    if (is_move_op(node.op)) return moves_to_int8_readers(node);
    if (!opt_.int8_gates) return false;  // a gate would read int8 t where the float path read float t
    const int i = channel_mul_operand(node);
    return i >= 0 && node.inputs[i] == t;
  }

  // A data-movement node reads int8 when everything it feeds does: its
  // outputs are no network outputs and all their readers read int8.
  bool moves_to_int8_readers(const Node& node) const {
    for (int o : node.outputs) {
      if (o < 0) continue;
      if (index_.is_output(o) || index_.readers(o).empty()) return false;
      for (int c : index_.readers(o)) {
        if (!reads_int8(src_.nodes()[c], o)) return false;
      }
    }
    return true;
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
    std::string name;
    QLutAttrs a{{qscale_[r.input], scale(y)}, ""};
    std::vector<std::string> sources;
    for (int m : r.nodes) {
      const Node& node = src_.nodes()[m];
      name += (name.empty() ? "" : "+") + node.name;
      a.ops += (a.ops.empty() ? "" : "+") + node.op;
      for (std::string& s : sources_of(node)) sources.push_back(std::move(s));
      consumed_[m] = 1;
    }
    int tab = dst_.add_constant_i8(src_.tensor(y).name + "::table", {256}, table);
    add_int8_node(QLutAttrs::kOp, name, std::move(sources), {int8_id_[r.input], tab}, a.to_attrs(), y, scale(y),
                  layout_of(r.input));
    note("element-wise " + a.ops + " ending at '" + src_.tensor(y).name + "' runs as one int8 table");
    return true;
  }

  // Why a node that try_int8 left without a word stays float32.
  std::string float_reason(const Node& node) const {
    const bool lut = is_lut_op(node.op);
    if (!lut && !lowerings().count(node.op)) return "int8rt has no int8 kernel for " + node.op;
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

  // The conv/gemm's fused activation (passes.h: int8rt_activation) as its
  // int8 epilogue's; false when it has none.
  static bool fused_activation(const Node& node, ActivationAttrs& act) {
    const std::string name = node.attrs.get_string("int8rt_activation", "");
    if (name.empty()) {
      act = {kernels::Activation::kNone, -kInf, kInf};
    } else if (name == "Relu") {
      act = {kernels::Activation::kRelu, 0.0, kInf};
    } else if (name == "Clip") {
      act = {kernels::Activation::kClip, node.attrs.get_float("int8rt_clip_min", -kInf),
             node.attrs.get_float("int8rt_clip_max", kInf)};
    } else {
      return false;
    }
    return true;
  }

  bool lower_conv(int, const Node& node) {
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
    QConvAttrs a;
    if (!fused_activation(node, a.act)) return decline(node, "fused activation has no int8 epilogue");
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
    a.window = {kernel, strides, pads};
    a.dilations = dil;
    a.group = node.attrs.get_int("group", 1);
    // The input's int8 scale is the one its int8 tensor carries, which for a
    // max-pool output is the pool input's scale, not the calibrated one.
    int xin = int8_in(x, Layout::kNhwc);
    a.in_scale = qscale_[x];
    a.out_scale = scale(y);
    a.w_scales.assign(qw.scales.begin(), qw.scales.end());
    std::vector<int> ins = {xin, wq, bias};
    if (residual >= 0) {
      ins.push_back(int8_in(residual, Layout::kNhwc));
      a.residual_scale = qscale_[residual];
    }
    add_int8_node(QConvAttrs::kOp, node.name, sources_of(node), ins, a.to_attrs(), y, scale(y));
    return true;
  }

  // ConvTranspose with constant float32 weights [C][M/group][kh][kw] (2-D;
  // the importer lifts 1-D to H = 1): int8rt.QConvTranspose, weights
  // quantized per output channel m (the values w[c][m % (M/group)][..] of
  // the channels c of m's group), and a Relu that is its output's only
  // reader folded into the epilogue.
  bool lower_conv_transpose(int, const Node& node) {
    if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
    const int x = node.inputs[0], w = node.inputs[1], b = node.inputs.size() > 2 ? node.inputs[2] : -1;
    int y = node.outputs[0];
    const Tensor& wt = src_.tensor(w);
    if (src_.tensor(x).shape.size() != 4 || !wt.is_constant || wt.dtype != DataType::kFloat32 ||
        wt.shape.size() != 4) {
      return decline(node, "not a 2-D transposed convolution with constant weights");
    }
    const std::string auto_pad = node.attrs.get_string("auto_pad", "NOTSET");
    if ((auto_pad != "NOTSET" && auto_pad != "VALID") || node.attrs.has("output_shape")) {
      return decline(node, "auto_pad SAME or output_shape is not lowered");
    }
    if (b >= 0 && !src_.tensor(b).is_constant) return decline(node, "bias is not a constant");
    QConvTransposeAttrs a;
    a.group = node.attrs.get_int("group", 1);
    const int64_t C = wt.shape[0], Mg = wt.shape[1], R = wt.shape[2], S = wt.shape[3];
    if (a.group < 1 || C % a.group != 0) return decline(node, "group does not divide the weights' channels");
    std::vector<std::string> sources = sources_of(node);
    auto readers = index_.readers(y);
    if (!index_.is_output(y) && readers.size() == 1 && src_.nodes()[readers[0]].op == "Relu" &&
        !opt_.fp32_layers.count(src_.nodes()[readers[0]].name)) {
      a.act = {kernels::Activation::kRelu, 0.0, kInf};
      consumed_[readers[0]] = 1;  // set only once the layer is emitted (below)
      y = src_.nodes()[readers[0]].outputs[0];
    }
    auto undo_relu = [&](const std::string& why) {
      if (y != node.outputs[0]) consumed_[readers[0]] = 0;
      return decline(node, why);
    };
    if ((!is_int8(x) && !has_scale(x)) || !has_scale(y)) {
      return undo_relu("no calibration scale for its input or output");
    }
    // Weights per output channel m = g*Mg + j: rows [M][C/group * R * S] to
    // quantize, then back to the ONNX layout.
    const int64_t G = a.group, Cg = C / G, M = Mg * G, RS = R * S;
    std::vector<float> rows(static_cast<size_t>(M * Cg * RS));
    auto src_index = [&](int64_t m, int64_t c, int64_t t) { return (((m / Mg) * Cg + c) * Mg + m % Mg) * RS + t; };
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < RS; ++t) rows[(m * Cg + c) * RS + t] = wt.f32[src_index(m, c, t)];
    quant::QuantizedWeights qw = quant::quantize_weights_per_channel(rows.data(), M, Cg * RS);
    std::vector<int8_t> onnx_layout(rows.size());
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < RS; ++t) onnx_layout[src_index(m, c, t)] = qw.values[(m * Cg + c) * RS + t];
    const int wq = add_weight_constant(wt.name + "::int8", wt.shape, onnx_layout);
    const bool valid = auto_pad == "VALID";
    a.window = {{R, S}, node.attrs.get_ints("strides", {1, 1}),
                valid ? std::vector<int64_t>{0, 0, 0, 0} : node.attrs.get_ints("pads", {0, 0, 0, 0})};
    a.dilations = node.attrs.get_ints("dilations", {1, 1});
    a.output_padding = node.attrs.get_ints("output_padding", {0, 0});
    const int xin = int8_in(x, Layout::kNhwc);
    a.in_scale = qscale_[x];
    a.out_scale = scale(y);
    a.w_scales.assign(qw.scales.begin(), qw.scales.end());
    if (y != node.outputs[0]) {
      for (std::string& s : sources_of(src_.nodes()[readers[0]])) sources.push_back(std::move(s));
    }
    add_int8_node(QConvTransposeAttrs::kOp, node.name, std::move(sources), {xin, wq, b >= 0 ? get_float(b) : -1},
                  a.to_attrs(), y, scale(y));
    return true;
  }

  bool lower_gemm(int, const Node& node) {
    if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
    int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
    int b = node.op == "Gemm" && node.inputs.size() > 2 ? node.inputs[2] : -1;
    const Tensor& wt = src_.tensor(w);
    if (node.op == "MatMul" && !wt.is_constant) return lower_matmul_pair(node);
    if (!wt.is_constant || wt.dtype != DataType::kFloat32 || wt.shape.size() != 2) {
      return decline(node, "weights are not a constant matrix");
    }
    if (node.op == "Gemm" && (node.attrs.get_int("transA", 0) != 0 || node.attrs.get_float("alpha", 1.0) != 1.0 ||
                              node.attrs.get_float("beta", 1.0) != 1.0 || src_.tensor(x).shape.size() != 2)) {
      return decline(node, "Gemm with transA, alpha or beta other than the defaults");
    }
    if (src_.tensor(x).shape.size() < 2) return decline(node, "a 1-D input has no int8 form");
    if (b >= 0) {
      const Tensor& bt = src_.tensor(b);
      int64_t n_out = (node.op == "Gemm" && node.attrs.get_int("transB", 0)) ? wt.shape[0] : wt.shape[1];
      if (!bt.is_constant || bt.num_elements() != n_out) return decline(node, "bias is not a constant vector");
    }
    if (!is_int8(x) && !has_scale(x)) return decline(node, "no calibration scale for its input");
    QGemmAttrs a;
    if (!fused_activation(node, a.act)) return decline(node, "fused activation has no int8 epilogue");
    // Weights as [N][K].
    bool trans_b = node.op == "Gemm" && node.attrs.get_int("transB", 0) != 0;
    int64_t n_out = trans_b ? wt.shape[0] : wt.shape[1], k = trans_b ? wt.shape[1] : wt.shape[0];
    std::vector<float> nk(static_cast<size_t>(n_out * k));
    for (int64_t i = 0; i < n_out; ++i)
      for (int64_t j = 0; j < k; ++j) nk[i * k + j] = trans_b ? wt.f32[i * k + j] : wt.f32[j * n_out + i];
    std::vector<std::string> sources = sources_of(node);
    std::vector<float> bias_v = b >= 0 ? src_.tensor(b).f32 : std::vector<float>();
    bool folded = false;  // weights or bias changed by an affine tail below
    if (node.op == "MatMul" && a.act.kind == kernels::Activation::kNone) {
      // The exporter's Linear bias, Add(bias, MatMul(x, W)), and a layer
      // scale after it, Mul(gamma, .): constant vectors over the last axis,
      // folded into the bias and the weights' rows before quantizing (the
      // float layers would round once more; like BatchNorm folding).
      for (int c = affine_tail_reader(y, n_out); c >= 0; c = affine_tail_reader(y, n_out)) {
        const Node& tn = src_.nodes()[c];
        const std::vector<float>& v = src_.tensor(tn.inputs[0] == y ? tn.inputs[1] : tn.inputs[0]).f32;
        if (bias_v.empty()) bias_v.assign(static_cast<size_t>(n_out), 0.f);
        for (int64_t i = 0; i < n_out; ++i) {
          if (tn.op == "Add") {
            bias_v[i] += v[i];
            continue;
          }
          bias_v[i] *= v[i];
          for (int64_t j = 0; j < k; ++j) nk[i * k + j] *= v[i];
        }
        folded = folded || tn.op == "Mul";
        y = tn.outputs[0];
        consumed_[c] = 1;
        for (std::string& src : sources_of(tn)) sources.push_back(std::move(src));
      }
    }
    quant::QuantizedWeights qw = quant::quantize_weights_per_channel(nk.data(), n_out, k);
    const std::string w_name = folded ? node.name + "::weights::int8_nk" : wt.name + (trans_b ? "::int8" : "::int8_nk");
    int wq = add_weight_constant(w_name, {n_out, k}, qw.values);
    int bias = -1;
    if (b >= 0) {
      const Tensor& bt = src_.tensor(b);
      int found = dst_.find_tensor(bt.name + "::vector");
      bias = found >= 0 ? found : dst_.add_constant(bt.name + "::vector", {n_out}, bt.f32);
    } else if (!bias_v.empty()) {
      bias = dst_.add_constant(node.name + "::bias", {n_out}, bias_v);
    }
    bool int8_out = has_scale(y) && !index_.is_output(y);
    int xin = int8_in(x, Layout::kLogical);  // rows of K features: the logical order, whatever the rank
    a.in_scale = qscale_[x];
    a.out_scale = int8_out ? scale(y) : 0.0;
    a.w_scales.assign(qw.scales.begin(), qw.scales.end());
    add_linear_output(QGemmAttrs::kOp, node.name, std::move(sources), {xin, wq, bias}, a.to_attrs(), y, int8_out);
    return true;
  }

  // The sole reader of MatMul output y when it is an Add or Mul of a
  // constant float32 vector of n finite values over the last axis (shape [n]
  // or [1, .., 1, n], no wider than y), or -1.
  int affine_tail_reader(int y, int64_t n) const {
    const int c = sole_reader(y);
    if (c < 0 || src_.nodes()[c].inputs.size() != 2) return -1;
    if (src_.nodes()[c].op != "Add" && src_.nodes()[c].op != "Mul") return -1;
    const Node& add = src_.nodes()[c];
    const Tensor& bt = src_.tensor(add.inputs[0] == y ? add.inputs[1] : add.inputs[0]);
    if (!bt.is_constant || bt.dtype != DataType::kFloat32 || bt.shape.empty() || bt.shape.back() != n ||
        bt.num_elements() != n || bt.shape.size() > src_.tensor(y).shape.size() ||
        !std::all_of(bt.f32.begin(), bt.f32.end(), [](float v) { return std::isfinite(v); })) {
      return -1;
    }
    return src_.tensor(add.outputs[0]).shape == src_.tensor(y).shape ? c : -1;
  }

  // The layer `name` (a MatMul or Gemm lowered to `op`, computing source
  // nodes `sources`) writing source tensor y in int8 at y's scale (logical
  // layout) or, when not int8_out, in float32.
  void add_linear_output(const char* op, const std::string& name, std::vector<std::string> sources,
                         const std::vector<int>& ins, Attributes a, int y, bool int8_out) {
    if (int8_out) {
      add_int8_node(op, name, std::move(sources), ins, std::move(a), y, scale(y), Layout::kLogical);
      return;
    }
    int out = dst_.add_node(op, name, ins, std::move(a), {src_.tensor(y).name})[0];
    dst_.tensor(out).shape = src_.tensor(y).shape;
    float_id_[y] = out;
    plan_.layer(name, op, std::move(sources));
  }

  // MatMul of two activations (attention's Q K^T and its product with V):
  // int8rt.QMatMul with per-tensor scales for both operands, in their
  // logical layout. Its output is int8 when an int8 layer reads it (the
  // product with V feeding the output projection), float32 otherwise (the
  // scores, which a mask Add and a Softmax read in float): one rounding less.
  bool lower_matmul_pair(const Node& node) {
    if (!opt_.int8_matmul_pairs) return decline(node, "MatMul of two activations in int8 is off (int8_matmul_pairs)");
    const int a_in = node.inputs[0], b_in = node.inputs[1], y = node.outputs[0];
    for (int t : {a_in, b_in}) {
      const Tensor& tt = src_.tensor(t);
      if (tt.dtype != DataType::kFloat32 || tt.shape.size() < 2) return decline(node, "an operand is not a float matrix");
      if (!is_int8(t) && !has_scale(t)) return decline(node, "no calibration scale for an operand");
    }
    bool int8_reader = false;
    for (int c : index_.readers(y)) int8_reader = int8_reader || reads_int8(src_.nodes()[c], y);
    const bool int8_out = has_scale(y) && !index_.is_output(y) && int8_reader;
    QMatMulAttrs a;
    const int qa = int8_in(a_in, Layout::kLogical), qb = int8_in(b_in, Layout::kLogical);
    a.a_scale = qscale_[a_in];
    a.b_scale = qscale_[b_in];
    a.out_scale = int8_out ? scale(y) : 0.0;
    add_linear_output(QMatMulAttrs::kOp, node.name, sources_of(node), {qa, qb}, a.to_attrs(), y, int8_out);
    return true;
  }

  bool lower_pool(int, const Node& node) {
    int x = node.inputs[0], y = node.outputs[0];
    if (!is_int8(x) || node.outputs.size() != 1 || src_.tensor(x).shape.size() != 4) return false;
    if (node.attrs.get_int("ceil_mode", 0) != 0 || node.attrs.get_string("auto_pad", "NOTSET") != "NOTSET") {
      return decline(node, "ceil_mode or auto_pad pooling is not lowered");
    }
    for (int64_t d : node.attrs.get_ints("dilations", {1, 1})) {
      if (d != 1) return decline(node, "dilated pooling is not lowered");
    }
    QPoolAttrs a;
    a.window = {node.attrs.get_ints("kernel_shape", {}), node.attrs.get_ints("strides", {1, 1}),
                node.attrs.get_ints("pads", {0, 0, 0, 0})};
    if (node.op == "MaxPool") {
      a.kind = QPoolAttrs::Kind::kMax;
      add_int8_node(a.op(), node.name, sources_of(node), {int8_in(x, Layout::kNhwc)}, a.to_attrs(), y, qscale_[x]);
      return true;
    }
    if (!has_scale(y)) return decline(node, "no calibration scale for its output");
    a.kind = QPoolAttrs::Kind::kAverage;
    a.count_include_pad = node.attrs.get_int("count_include_pad", 0) != 0;
    a.in_scale = qscale_[x];
    a.out_scale = scale(y);
    add_int8_node(a.op(), node.name, sources_of(node), {int8_in(x, Layout::kNhwc)}, a.to_attrs(), y, scale(y));
    return true;
  }

  bool lower_global_avgpool(int, const Node& node) {
    int x = node.inputs[0], y = node.outputs[0];
    if (!is_int8(x) || src_.tensor(x).shape.size() != 4) return false;
    if (!has_scale(y)) return decline(node, "no calibration scale for its output");
    QPoolAttrs a;
    a.kind = QPoolAttrs::Kind::kGlobalAverage;
    a.in_scale = qscale_[x];
    a.out_scale = scale(y);
    add_int8_node(a.op(), node.name, sources_of(node), {int8_in(x, Layout::kNhwc)}, a.to_attrs(), y, scale(y));
    return true;
  }

  bool lower_add(int, const Node& node) {
    if (node.inputs.size() != 2) return false;
    int a_in = node.inputs[0], b_in = node.inputs[1], y = node.outputs[0];
    if (!is_int8(a_in) || !is_int8(b_in)) return false;
    if (src_.tensor(a_in).shape != src_.tensor(b_in).shape || src_.tensor(a_in).shape.size() != 4) {
      return decline(node, "broadcasting add is not lowered");
    }
    // Fold a following Relu (the residual block's) into the epilogue.
    int out_t = y;
    bool relu = false;
    auto readers = index_.readers(y);
    if (!index_.is_output(y) && readers.size() == 1 && src_.nodes()[readers[0]].op == "Relu" &&
        !opt_.fp32_layers.count(src_.nodes()[readers[0]].name)) {
      out_t = src_.nodes()[readers[0]].outputs[0];
      relu = true;
    }
    if (!has_scale(out_t)) return decline(node, "no calibration scale for its output");
    std::vector<std::string> sources = sources_of(node);
    if (relu) {
      consumed_[readers[0]] = 1;
      for (std::string& s : sources_of(src_.nodes()[readers[0]])) sources.push_back(std::move(s));
    }
    const QAddAttrs a{qscale_[a_in], qscale_[b_in], scale(out_t), relu};
    const Layout layout = layout_of(a_in);  // element-wise: any layout, the same for both
    add_int8_node(QAddAttrs::kOp, node.name, std::move(sources), {int8_id_[a_in], int8_in(b_in, layout)}, a.to_attrs(),
                  out_t, scale(out_t), layout);
    return true;
  }

  // Concat of int8 tensors along any axis (mapped to the int8 layout). Inputs
  // that all carry one scale keep it: a pure copy, exact. Otherwise each is
  // requantized to the calibrated output scale (QConcat's rescale, one
  // rounding of q * s_in / s_out: at most 1 step from Dequantize, float
  // Concat, Quantize).
  bool lower_concat(int, const Node& node) {
    int y = node.outputs[0];
    const int64_t rank = static_cast<int64_t>(src_.tensor(y).shape.size());
    if (node.outputs.size() != 1 || rank == 0 || node.inputs.empty()) return false;
    for (int id : node.inputs) {
      if (!is_int8(id)) return false;
    }
    const Layout layout = layout_of(node.inputs[0]);  // the others are brought to the first one's
    const int64_t axis = physical_axis(node.attrs.get_int("axis", 1), rank, layout == Layout::kNhwc);
    if (axis < 0) return false;
    std::vector<int> ins;
    QConcatAttrs a;
    bool one_scale = true;
    for (int id : node.inputs) {
      a.in_scales.push_back(qscale_[id]);
      one_scale = one_scale && qscale_[id] == qscale_[node.inputs[0]];
    }
    if (!one_scale && !has_scale(y)) return decline(node, "no calibration scale for its output");
    for (int id : node.inputs) ins.push_back(int8_in(id, layout));
    const float out_scale = one_scale ? qscale_[node.inputs[0]] : scale(y);
    a.out_scale = out_scale;
    a.axis = axis == rank - 1 ? -1 : axis;
    add_int8_node(QConcatAttrs::kOp, node.name, sources_of(node), ins, a.to_attrs(), y, out_scale, layout);
    return true;
  }

  // A data-movement node on an int8 input (lower_int8_moves.h): int8rt.Q<Op>
  // at the input's scale, between int8 layout transposes when it reads or
  // writes the logical (NCHW) element order.
  bool lower_move(int, const Node& node) {
    const int x = node.inputs.empty() ? -1 : node.inputs[0];
    if (!is_int8(x)) return false;
    if (lower_channel_shuffle(node) || lower_layout_rename(node)) return true;
    MoveRewrite r;
    std::string why;
    const bool nhwc_in = layout_of(x) == Layout::kNhwc;
    if (!rewrite_move(src_, node, qscale_[x], nhwc_in, &r, &why)) return why.empty() ? false : decline(node, why);
    // Outputs keep the input's layout: channels-last stays so for the convs
    // that follow; a logical input (a MatMul's world) stays logical.
    const Layout out_layout = nhwc_in ? Layout::kNhwc : Layout::kLogical;
    const std::vector<std::string> sources = sources_of(node);
    std::vector<int> ins = {int8_id_[x]};
    if (r.logical_in) {
      ins[0] = add_layout_transpose(node.name + "::to_nchw", ins[0], {0, 3, 1, 2}, node.name + "::nchw_in", sources);
      dst_.tensor(ins[0]).shape = src_.tensor(x).shape;
    }
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      const MoveInput& in = r.inputs[i];
      if (!in.constant) {
        ins.push_back(in.source < 0 ? -1 : get_float(in.source));
        continue;
      }
      const std::string name = node.name + "::input" + std::to_string(i + 1) + "::int8_layout";
      ins.push_back(in.dtype == DataType::kInt8 ? dst_.add_constant_i8(name, in.shape, in.i8)
                                                : dst_.add_constant_i64(name, in.shape, in.i64));
    }
    std::vector<std::string> names;
    for (int o : node.outputs) names.push_back(int8_tensor_name(src_.tensor(o).name) + (r.logical_out ? "::nchw" : ""));
    if (out_layout == Layout::kLogical) mark_logical_layout(r.attrs);
    const std::vector<int> outs = dst_.add_node(r.op, node.name, ins, r.attrs, names);
    plan_.layer(node.name, r.op, sources);
    for (size_t k = 0; k < outs.size(); ++k) {
      const int o = node.outputs[k];
      int id = outs[k];
      std::string producer = node.name;
      dst_.tensor(id).dtype = DataType::kInt8;
      dst_.tensor(id).shape = src_.tensor(o).shape;
      if (r.logical_out && src_.tensor(o).shape.size() == 4) {
        producer = node.name + "::to_nhwc" + (k ? std::to_string(k) : "");
        id = add_layout_transpose(producer, id, {0, 2, 3, 1}, int8_tensor_name(src_.tensor(o).name), sources);
      }
      set_int8(id, src_.tensor(o).shape, out_layout);
      qscale_[o] = qscale_[x];
      nhwc_[o] = out_layout == Layout::kNhwc;
      int8_id_[o] = id;
      record_int8_tensor(o, id, producer, /*in_int8=*/true);
    }
    return true;
  }

  // A Transpose that only renames the int8 layout: perm (0, 2, 3, 1) of an
  // NHWC tensor is, byte for byte, its result [N, H, W, C] in logical order,
  // and perm (0, 3, 1, 2) of a logical [N, H, W, C] tensor is its result
  // [N, C, H, W] held NHWC (ConvNeXt's permutes around its Linears). No
  // element moves: the layout flag changes, and a QReshape keeping every dim
  // copies the bytes under the output's name.
  bool lower_layout_rename(const Node& node) {
    if (node.op != "Transpose" || node.outputs.size() != 1) return false;
    const int x = node.inputs[0], y = node.outputs[0];
    if (src_.tensor(x).shape.size() != 4) return false;
    const bool nhwc_in = layout_of(x) == Layout::kNhwc;
    if (node.attrs.get_ints("perm", {}) != (nhwc_in ? kNhwcFromNchw : kNchwToNhwcAxis)) return false;
    const int same_dims = dst_.add_constant_i64(node.name + "::same_dims", {4}, {0, 0, 0, 0});
    add_int8_node(QMoveOps::lowered("Reshape"), node.name, sources_of(node), {int8_id_[x], same_dims}, {}, y,
                  qscale_[x], nhwc_in ? Layout::kLogical : Layout::kNhwc);
    note("transpose '" + node.name + "' only renames the int8 layout (" + (nhwc_in ? "NHWC -> logical" : "logical -> NHWC") +
         "): its bytes are copied, not moved");
    return true;
  }

  // The sole reader of t, or -1 (none, several, or t is a network output).
  int sole_reader(int t) const {
    if (t < 0 || index_.is_output(t) || index_.readers(t).size() != 1) return -1;
    const int c = index_.readers(t)[0];
    return consumed_[c] || opt_.fp32_layers.count(src_.nodes()[c].name) ? -1 : c;
  }

  // ShuffleNet's channel shuffle, Reshape [N, C, H, W] -> [N, g, C/g, H, W],
  // Transpose (0, 2, 1, 3, 4), Reshape back to [N, C, H, W]: a permutation of
  // the channels, which in the NHWC bytes is a transpose of each pixel's
  // [g, C/g] block. Run as that, on [N*H*W, g, C/g] views, with no NCHW round trip.
  bool lower_channel_shuffle(const Node& node) {
    if (node.op != "Reshape" || node.outputs.size() != 1) return false;
    const int x = node.inputs[0], y = node.outputs[0];
    if (layout_of(x) != Layout::kNhwc) return false;
    const Shape& xs = src_.tensor(x).shape;
    const Shape& ys = src_.tensor(y).shape;
    if (xs.size() != 4 || ys.size() != 5 || xs[1] <= 0 || xs[2] <= 0 || xs[3] <= 0 || ys[1] <= 0 ||
        ys[1] * ys[2] != xs[1] || ys[3] != xs[2] || ys[4] != xs[3]) {
      return false;
    }
    const int t_node = sole_reader(y);
    if (t_node < 0 || src_.nodes()[t_node].op != "Transpose" ||
        src_.nodes()[t_node].attrs.get_ints("perm", {}) != std::vector<int64_t>{0, 2, 1, 3, 4}) {
      return false;
    }
    const int t = src_.nodes()[t_node].outputs[0];
    const int r_node = sole_reader(t);
    if (r_node < 0 || src_.nodes()[r_node].op != "Reshape") return false;
    const int z = src_.nodes()[r_node].outputs[0];
    const Shape& zs = src_.tensor(z).shape;
    if (zs.size() != 4 || zs[1] != xs[1] || zs[2] != xs[2] || zs[3] != xs[3]) return false;
    std::vector<std::string> sources = sources_of(node);
    for (int m : {t_node, r_node}) {
      for (std::string& src : sources_of(src_.nodes()[m])) sources.push_back(std::move(src));
      consumed_[m] = 1;
    }
    const int64_t g = ys[1], cg = ys[2];
    const std::string reshape = QMoveOps::lowered("Reshape"), transpose = QMoveOps::lowered("Transpose");
    auto add = [&](const std::string& op, const std::string& name, std::vector<int> ins, const Attributes& a,
                   const std::string& out, Shape shape) {
      const int id = dst_.add_node(op, name, ins, a, {out})[0];
      dst_.tensor(id).dtype = DataType::kInt8;
      dst_.tensor(id).shape = std::move(shape);
      plan_.layer(name, op, sources);
      return id;
    };
    const std::string base = int8_tensor_name(src_.tensor(z).name);
    const int64_t pixels = xs[0] > 0 ? xs[0] * xs[2] * xs[3] : -1;
    int id = add(reshape, node.name + "::pixels", {int8_id_[x], dst_.add_constant_i64(node.name + "::pixels_shape", {3},
                                                                                        {-1, g, cg})},
                 {}, base + "::groups", {pixels, g, cg});
    Attributes perm;
    perm.set("perm", Attribute::of_ints({0, 2, 1}));
    id = add(transpose, node.name + "::shuffle", {id}, perm, base + "::shuffled", {pixels, cg, g});
    const std::string last = src_.nodes()[r_node].name;
    id = add(reshape, last, {id, dst_.add_constant_i64(last + "::nhwc_shape", {4}, {-1, xs[2], xs[3], xs[1]})}, {},
             base, {});
    set_int8(id, zs);
    qscale_[z] = qscale_[x];
    nhwc_[z] = 1;
    int8_id_[z] = id;
    record_int8_tensor(z, id, last, /*in_int8=*/true);
    note("channel shuffle '" + node.name + "' -> '" + last + "' runs as one int8 transpose of each pixel's channels");
    return true;
  }

  // Shape of an int8 tensor, read off the int8 tensor itself (no Dequantize
  // just for its dims): a rank-4 one is NHWC, so its dims are gathered back
  // into NCHW order, and start / end become a Slice of that.
  bool lower_shape(int, const Node& node) {
    const int x = node.inputs.empty() ? -1 : node.inputs[0], y = node.outputs.empty() ? -1 : node.outputs[0];
    if (!is_int8(x) || y < 0 || node.outputs.size() != 1) return false;
    const std::string& yname = src_.tensor(y).name;
    if (layout_of(x) == Layout::kLogical) {
      const int out = dst_.add_node("Shape", node.name, {int8_id_[x]}, node.attrs, {yname})[0];
      dst_.tensor(out).dtype = DataType::kInt64;
      dst_.tensor(out).shape = src_.tensor(y).shape;
      float_id_[y] = out;
      return true;
    }
    const bool sliced = node.attrs.has("start") || node.attrs.has("end");
    int id = dst_.add_node("Shape", node.name, {int8_id_[x]}, {}, {yname + "::nhwc"})[0];
    dst_.tensor(id).dtype = DataType::kInt64;
    dst_.tensor(id).shape = {4};
    const int order = dst_.add_constant_i64(node.name + "::nchw_order", {4}, {0, 3, 1, 2});
    Attributes axis0;
    axis0.set("axis", Attribute::of_int(0));
    id = dst_.add_node("Gather", node.name + "::to_nchw", {id, order}, axis0, {sliced ? yname + "::nchw" : yname})[0];
    dst_.tensor(id).dtype = DataType::kInt64;
    dst_.tensor(id).shape = {4};
    if (sliced) {
      const int starts = dst_.add_constant_i64(node.name + "::start", {1}, {node.attrs.get_int("start", 0)});
      const int ends = dst_.add_constant_i64(node.name + "::end", {1}, {node.attrs.get_int("end", INT64_MAX)});
      id = dst_.add_node("Slice", node.name + "::range", {id, starts, ends}, {}, {yname})[0];
      dst_.tensor(id).dtype = DataType::kInt64;
      dst_.tensor(id).shape = src_.tensor(y).shape;
    }
    float_id_[y] = id;
    return true;
  }

  // An int8 layout change (NHWC <-> NCHW of a rank-4 int8 tensor) as int8rt.QTranspose.
  int add_layout_transpose(const std::string& name, int in, const std::vector<int64_t>& perm, const std::string& out,
                           const std::vector<std::string>& sources) {
    Attributes a;
    a.set("perm", Attribute::of_ints(perm));
    const std::string op = QMoveOps::lowered("Transpose");
    const int id = dst_.add_node(op, name, {in}, a, {out})[0];
    dst_.tensor(id).dtype = DataType::kInt8;
    plan_.layer(name, op, sources);
    return id;
  }

  // Flatten(axis=1) of an int8 [N, C, 1, 1] tensor: NHWC and NCHW orders
  // coincide when H = W = 1, so the int8 bytes are already the flattened
  // [N, C] tensor (global pooling -> flatten -> fully connected stays int8).
  bool lower_flatten(int, const Node& node) {
    int x = node.inputs[0], y = node.outputs[0];
    const auto& xs = src_.tensor(x).shape;
    if (!is_int8(x)) return false;
    if (layout_of(x) != Layout::kNhwc || xs[2] != 1 || xs[3] != 1 || node.attrs.get_int("axis", 1) != 1) {
      return lower_move(0, node);
    }
    const std::string y_int8 = int8_tensor_name(src_.tensor(y).name);
    int out = dst_.add_node(QFlattenAttrs::kOp, node.name, {int8_id_[x]}, {}, {y_int8})[0];
    dst_.tensor(out).dtype = DataType::kInt8;
    dst_.tensor(out).shape = src_.tensor(y).shape;
    qscale_[y] = qscale_[x];
    int8_id_[y] = out;
    plan_.layer(node.name, QFlattenAttrs::kOp, sources_of(node));
    record_int8_tensor(y, out, node.name, /*in_int8=*/true);
    return true;
  }

  // Nearest Resize of the spatial dims of an int8 tensor: a byte copy at
  // the input's scale. Which source row and column each output pixel reads
  // is taken from the FP32 layer itself (ops/int8/nearest_sources.h): here
  // for a static input size, by the layer for each size when it is dynamic.
  bool lower_resize(int, const Node& node) {
    const int x = node.inputs[0], y = node.outputs[0];
    const std::vector<int64_t>& xs = src_.tensor(x).shape;
    const std::vector<int64_t>& ys = src_.tensor(y).shape;
    const std::string mode = node.attrs.get_string("mode", "nearest");
    if (mode != "nearest" && mode != "linear" && mode != "bilinear") {
      return decline(node, "only nearest and linear resizing run in int8");
    }
    if (!is_int8(x) || node.outputs.size() != 1 || xs.size() != 4 || ys.size() != 4) return false;
    if (node.attrs.get_string("keep_aspect_ratio_policy", "stretch") != "stretch") {
      return decline(node, "keep_aspect_ratio_policy other than stretch runs in float32");
    }
    if (ys[0] != xs[0] || ys[1] != xs[1] || xs[1] <= 0) return decline(node, "it resizes more than the spatial dims");
    if (mode != "nearest") {
      if (xs[2] <= 0 || xs[3] <= 0 || ys[2] <= 0 || ys[3] <= 0) {
        return decline(node, "linear resizing runs in int8 for static sizes only");
      }
      return lower_resize_linear(node);
    }
    std::vector<const Tensor*> params;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      const int id = node.inputs[i];
      if (id >= 0 && !src_.tensor(id).is_constant) return decline(node, "its parameters are not constants");
      params.push_back(id < 0 ? nullptr : &src_.tensor(id));
    }
    QResizeNearestAttrs a;
    std::vector<int> ins{int8_in(x, Layout::kNhwc)};
    if (xs[2] > 0 && xs[3] > 0) {
      NearestSources src;
      if (xs[2] * xs[3] >= (int64_t{1} << 24) || !nearest_sources(node, params, xs[2], xs[3], &src) ||
          static_cast<int64_t>(src.src_y.size()) != ys[2] || static_cast<int64_t>(src.src_x.size()) != ys[3]) {
        return decline(node, "it is not a separable per-axis pick of its static input");
      }
      a.src_y = std::move(src.src_y);
      a.src_x = std::move(src.src_x);
    } else {
      a.dynamic_size = true;
      a.resize = node.attrs;
      for (size_t i = 1; i < node.inputs.size(); ++i) ins.push_back(node.inputs[i] < 0 ? -1 : get_float(node.inputs[i]));  // constants are copied as they are
    }
    add_int8_node(a.kOp, node.name, sources_of(node), ins, a.to_attrs(), y, qscale_[x]);
    return true;
  }

  // Bilinear Resize of the spatial dims of an int8 tensor: int8rt.QResizeLinear
  // with the FP32 layer's taps (resize_coords.h), quantized at y's scale, so
  // the bytes of Dequantize, FP32 Resize, Quantize. Only where those would be
  // the bytes: y has a scale and every reader takes it in int8.
  bool lower_resize_linear(const Node& node) {
    const int x = node.inputs[0], y = node.outputs[0];
    const Shape& xs = src_.tensor(x).shape;
    const Shape& ys = src_.tensor(y).shape;
    if (index_.is_output(y) || !has_scale(y) || node.attrs.has("axes")) {
      return decline(node, "linear resizing runs in int8 only into int8 layers, with a scale for its output");
    }
    for (int c : index_.readers(y)) {
      if (!reads_int8(src_.nodes()[c], y)) return decline(node, "a float32 layer reads its linear-resized output");
    }
    // The per-dim scales the FP32 layer uses for coordinates: the given ones, or out / in for sizes.
    std::vector<float> given;
    const size_t scales_at = 2;
    for (size_t i : {scales_at, size_t{3}}) {
      const int id = i < node.inputs.size() ? node.inputs[i] : -1;
      if (id >= 0 && !src_.tensor(id).is_constant) return decline(node, "its scales or sizes are computed at run time");
    }
    const int given_id = scales_at < node.inputs.size() ? node.inputs[scales_at] : -1;
    if (given_id >= 0 && !src_.tensor(given_id).f32.empty()) given = src_.tensor(given_id).f32;
    float scale_h, scale_w;
    if (given.size() == 4) {
      scale_h = given[2];
      scale_w = given[3];
    } else if (given.empty()) {
      scale_h = static_cast<float>(ys[2]) / static_cast<float>(xs[2]);
      scale_w = static_cast<float>(ys[3]) / static_cast<float>(xs[3]);
    } else {
      return decline(node, "its scales do not give one value per dim");
    }
    const ResizeConfig config = resize_config(node, /*upsample=*/false);
    QResizeLinearAttrs a;
    // One axis' taps: source indices i0/i1 and weights w0/w1 per output position.
    auto taps = [&](float axis_scale, int64_t in, int64_t out, std::vector<int64_t>& i0, std::vector<int64_t>& i1,
                    std::vector<double>& w0, std::vector<double>& w1) {
      for (int64_t o = 0; o < out; ++o) {
        const ResizeTap t = resize_linear_tap(config, o, axis_scale, in, out);
        i0.push_back(t.i0);
        i1.push_back(t.i1);
        w0.push_back(t.w0);
        w1.push_back(t.w1);
      }
    };
    taps(scale_h, xs[2], ys[2], a.y0, a.y1, a.wy0, a.wy1);
    taps(scale_w, xs[3], ys[3], a.x0, a.x1, a.wx0, a.wx1);
    a.in_scale = qscale_[x];
    a.out_scale = scale(y);
    add_int8_node(a.kOp, node.name, sources_of(node), {int8_in(x, Layout::kNhwc)}, a.to_attrs(), y, scale(y));
    return true;
  }

  const Network& src_;
  const LoweringOptions& opt_;
  const NetworkIndex index_;  // readers and outputs of src_, which never changes
  Network dst_;
  std::vector<std::string> report_;
  std::vector<int> float_id_, int8_id_;
  std::vector<int> other_layout_id_;  // a rank-4 int8 tensor in its other layout (int8_in), or -1
  std::vector<char> nhwc_;            // int8_id_ of a rank-4 tensor is NHWC (else logical)
  std::vector<float> qscale_;
  std::vector<char> consumed_;
  Int8PlanRecorder plan_;
};

}  // namespace

LoweringResult lower_int8(const Network& net, const LoweringOptions& options) {
  return Lowerer(net, options).run();
}

}  // namespace engine
}  // namespace int8rt
