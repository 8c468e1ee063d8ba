// INT8 lowering (see lower_int8.h for what becomes int8 and the op contract):
// the Lowerer's walk, its tensors and int8 layouts, the lowering table, float
// layers and element-wise tables (lower_int8_lowerer.h).
#include "engine/lower_int8_lowerer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "engine/int8_plan_recorder.h"
#include "engine/lower_int8_moves.h"
#include "engine/lower_int8_zero_range.h"
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
}  // namespace

Lowerer::Lowerer(const Network& src, const LoweringOptions& opt) : src_(src), opt_(opt), index_(src) {
  size_t n = src.tensors().size();
  float_id_.assign(n, -1);
  int8_id_.assign(n, -1);
  other_layout_id_.assign(n, -1);
  nhwc_.assign(n, 0);
  qscale_.assign(n, 0.f);
  qzero_.assign(n, 0);
  qchannels_.assign(n, {});
  consumed_.assign(src.nodes().size(), 0);
  scales_ = opt.scales;
  read_model_quantization();
  const bool pre_quantized = !zero_.empty() || !channel_scales_.empty();  // the model's Q nodes give grids
  if (opt.unsigned_activations || opt.asymmetric_activations) adopt_zero_point_activations();
  if (!pre_quantized) adopt_channel_grids();
  if (!pre_quantized) share_concat_grids();
}

LoweringResult Lowerer::run() {
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
      auto e = float_epilogues_.find(node.name);
      if (e != float_epilogues_.end()) {
        emit_float_epilogue(node, e->second);
      } else {
        emit_float(node);
      }
    } else if (node.op == "If") {  // float32 itself, its branches lowered within
      decline(node, "a branch runs as a network of its own, lowered on its own (the lines under its scope)");
      emit_float(with_lowered_branches(node));
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

int Lowerer::get_float(int t) {
  if (float_id_[t] >= 0) return float_id_[t];
  const Tensor& src_t = src_.tensor(t);
  if (src_t.is_constant) {
    int id = -1;
    switch (src_t.dtype) {
      case DataType::kFloat32: id = dst_.add_constant(src_t.name, src_t.shape, src_t.f32); break;
      case DataType::kInt64: id = dst_.add_constant_i64(src_t.name, src_t.shape, src_t.i64); break;
      case DataType::kInt8: id = dst_.add_constant_i8(src_t.name, src_t.shape, src_t.i8); break;
      case DataType::kBool: id = dst_.add_constant_bool(src_t.name, src_t.shape, src_t.i8); break;
      default: throw NotSupported(std::string(engine::dtype_name(src_t.dtype)) + " constant '" + src_t.name + "'");
    }
    return float_id_[t] = id;
  }
  if (int8_id_[t] < 0) throw Error("lowering: tensor '" + src_t.name + "' used before it is produced");
  const std::string name = src_t.name + "::dequantize";
  ConvertAttrs a{qscale_[t], is_logical(t)};
  a.zero_point = qzero_[t];
  a.scales.assign(qchannels_[t].begin(), qchannels_[t].end());
  int out = dst_.add_node(ConvertAttrs::kDequantizeOp, name, {int8_id_[t]}, a.to_attrs(), {src_t.name})[0];
  dst_.tensor(out).shape = src_t.shape;
  plan_.convert(out, name, ConvertAttrs::kDequantizeOp, src_t.name, qscale_[t]);
  dequantized_.insert(t);
  return float_id_[t] = out;
}

int Lowerer::int8_in(int t, Layout want) {
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

int Lowerer::get_int8(int t, Layout layout, float at_scale) {
  if (int8_id_[t] >= 0) return int8_id_[t];
  const Tensor& src_t = src_.tensor(t);
  int f = get_float(t);
  const std::string name = src_t.name + "::quantize";
  // A per-channel tensor (a pre-quantized model's) is quantized at its channels' scales, NHWC.
  const bool channels = at_scale <= 0.f && has_channel_scales(t);
  // Only a known rank-4 tensor may be NHWC: one of unknown rank (a network
  // with dynamic dims lowered without a profile or calibration batch to
  // take shapes from) stays in its logical order whatever rank a run gives
  // it, as its readers (is_logical) and the Dequantize back (get_float) take it.
  const bool logical = (src_t.shape.empty() || (src_t.shape.size() == 4 && layout == Layout::kLogical)) && !channels;
  const float s = channels ? 0.f : at_scale > 0.f ? at_scale : scale(t);
  ConvertAttrs a{s, logical};
  a.zero_point = zero_point_of(t);
  if (channels) {
    qchannels_[t] = channel_scales_.at(t);
    a.scales.assign(qchannels_[t].begin(), qchannels_[t].end());
  }
  int out = dst_.add_node(ConvertAttrs::kQuantizeOp, name, {f}, a.to_attrs(), {int8_tensor_name(src_t.name)})[0];
  set_int8(out, src_t.shape, logical ? Layout::kLogical : Layout::kNhwc);
  qscale_[t] = s;
  qzero_[t] = static_cast<int32_t>(a.zero_point);
  nhwc_[t] = !logical;
  record_int8_tensor(t, out, name, /*in_int8=*/false);
  plan_.convert(out, name, ConvertAttrs::kQuantizeOp, src_t.name, qscale_[t]);
  return int8_id_[t] = out;
}

int Lowerer::add_int8_node(const std::string& op, const std::string& name, std::vector<std::string> sources,
                           const std::vector<int>& ins, Attributes a, int t, float out_scale, Layout layout) {
  const bool logical = src_.tensor(t).shape.size() == 4 && layout == Layout::kLogical;
  if (logical) mark_logical_layout(a);
  int out = dst_.add_node(op, name, ins, std::move(a), {int8_tensor_name(src_.tensor(t).name)})[0];
  set_int8(out, src_.tensor(t).shape, layout);
  qscale_[t] = out_scale;
  auto z = zero_.find(t);  // a layer writing t at t's own scale writes its zero point too
  qzero_[t] = z == zero_.end() ? 0 : z->second;
  nhwc_[t] = !logical;
  plan_.layer(name, op, std::move(sources));
  record_int8_tensor(t, out, name, /*in_int8=*/true);
  return int8_id_[t] = out;
}

int Lowerer::int8_residual_of(const Node& node) const {
  if (node.op != "LayerNormalization" || node.attrs.get_int("int8rt_residual", -1) != 3 || node.inputs.size() != 4) {
    return -1;
  }
  const int r = node.inputs[3], x = node.inputs[0];
  if (r < 0 || x < 0 || !is_int8(r) || float_id_[r] >= 0 || qzero_[r] != 0 || layout_of(r) != Layout::kLogical ||
      src_.tensor(r).shape != src_.tensor(x).shape) {
    return -1;
  }
  // Read by nothing else, or only by layers that take it in int8 too (no float form is made for it).
  if (!reads_int8_residual(node, r) || index_.is_output(r)) return -1;
  return static_cast<size_t>(int8_readers(r, /*residuals=*/true)) == index_.readers(r).size() ? r : -1;
}

void Lowerer::emit_float(const Node& node) {
  std::vector<int> ins;
  Attributes attrs = node.attrs;
  const int int8_residual = int8_residual_of(node);
  const int int8_input = int8_layernorm_input(node);
  for (int id : node.inputs) ins.push_back(id < 0 || id == int8_residual || id == int8_input ? -1 : get_float(id));
  if (int8_residual >= 0) {
    ins[3] = int8_id_[int8_residual];
    attrs.set("int8rt_residual_scale", Attribute::of_float(qscale_[int8_residual]));
    note("layer '" + node.name + "' (LayerNormalization) reads its residual '" + src_.tensor(int8_residual).name +
         "' as int8 and dequantizes it a block of rows at a time (no Dequantize layer)");
  }
  if (int8_input >= 0) {
    ins[0] = int8_id_[int8_input];
    attrs.set("int8rt_input_scale", Attribute::of_float(qscale_[int8_input]));
    note("layer '" + node.name + "' (LayerNormalization) reads its input '" + src_.tensor(int8_input).name +
         "' as int8 (no Dequantize layer)");
  }
  if (layernorm_writes_int8(node)) {
    const int y = node.outputs[0];
    attrs.set("int8rt_output_scale", Attribute::of_float(scale(y)));
    note("layer '" + node.name + "' (LayerNormalization) writes '" + src_.tensor(y).name +
         "' as int8 for its int8 readers (no Quantize layer)");
    add_int8_node(node.op, node.name, sources_of(node), ins, std::move(attrs), y, scale(y), Layout::kLogical);
    return;
  }
  if (conv_writes_int8(node)) {
    emit_conv_to_int8(node, ins, std::move(attrs));
    return;
  }
  std::vector<std::string> names;
  for (int id : node.outputs) names.push_back(src_.tensor(id).name);
  const bool int8_copy = layernorm_int8_copy(node);
  if (int8_copy) {
    attrs.set("int8rt_int8_copy_scale", Attribute::of_float(scale(node.outputs[0])));
    names.push_back(int8_tensor_name(names[0]));
  }
  auto outs = dst_.add_node(node.op, node.name, ins, attrs, names);
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    dst_.tensor(outs[o]).shape = src_.tensor(node.outputs[o]).shape;
    dst_.tensor(outs[o]).dtype = src_.tensor(node.outputs[o]).dtype;
    float_id_[node.outputs[o]] = outs[o];
  }
  if (int8_copy) adopt_layernorm_int8_copy(node, outs.back());
}

void Lowerer::emit_float_epilogue(const Node& node, const FloatEpilogue& e) {
  Node fused = node;
  fused.attrs = e.attrs;
  fused.outputs = {src_.find_tensor(e.output)};
  if (fused.outputs[0] < 0) throw Error("lowering: the epilogue of '" + node.name + "' writes no tensor '" + e.output + "'");
  for (const std::string& name : e.absorbed) {
    for (size_t m = 0; m < src_.nodes().size(); ++m) {
      if (src_.nodes()[m].name == name) consumed_[m] = 1;
    }
  }
  emit_float(fused);
}

const std::map<std::string, Lowerer::OpLowering>& Lowerer::lowerings() {
  static const std::map<std::string, OpLowering> table = {
      {"Conv", {&Lowerer::lower_conv, true}},
      {"ConvTranspose", {&Lowerer::lower_conv_transpose, true}},
      {"Gemm", {&Lowerer::lower_gemm, true}},
      {"MatMul", {&Lowerer::lower_gemm, true}},
      {"LSTM", {&Lowerer::lower_rnn, true}},
      {"GRU", {&Lowerer::lower_rnn, true}},
      {"RNN", {&Lowerer::lower_rnn, true}},
      {"MaxPool", {&Lowerer::lower_pool, true}},
      {"AveragePool", {&Lowerer::lower_pool, true}},
      {"GlobalAveragePool", {&Lowerer::lower_global_avgpool, true}},
      {"Add", {&Lowerer::lower_add, true}},
      {"Concat", {&Lowerer::lower_concat, true}},
      {"Flatten", {&Lowerer::lower_flatten, true}},
      {"Resize", {&Lowerer::lower_resize, true}},
      {"Mul", {&Lowerer::lower_channel_mul, false}},  // a channel gate; reads_int8 asks channel_mul_operand
      {"Div", {&Lowerer::lower_rescale, false}},      // by a scalar: reads_int8 asks rescale_factor
      {"Softmax", {&Lowerer::lower_output_softmax, false}},  // a network output's only: reads no new int8
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
      {"Gather", {&Lowerer::lower_move, false}},
      {"Shape", {&Lowerer::lower_shape, true}},  // reads no values: int8 or float is all one to it
      // A pre-quantized model's Q / DQ (lower_int8_qdq.cc).
      {"QuantizeLinear", {&Lowerer::lower_quantize_linear, true}},
      {"DequantizeLinear", {&Lowerer::lower_dequantize_linear, true}},
  };
  return table;
}

bool Lowerer::try_int8(int n, const Node& node) {
  if (zero_point_blocks(node)) return decline(node, "its int8 form takes no zero point (a pre-quantized model's)");
  auto it = lowerings().find(node.op);
  if (it != lowerings().end() && (this->*(it->second.lower))(n, node)) {
    if ((has_zero_points_ || opt_.unsigned_activations || opt_.asymmetric_activations) && passes_zero_point_on(node.op) && is_int8(node.inputs[0])) {
      for (int o : node.outputs) {
        if (o >= 0 && is_int8(o)) {
          qzero_[o] = qzero_[node.inputs[0]];  // bytes moved, not rescaled
          plan_.zero_point(int8_id_[o], qzero_[o]);
        }
      }
    }
    return true;
  }
  return opt_.pointwise_tables && is_lut_op(node.op) && lower_lut(n);
}

bool Lowerer::reads_int8(const Node& node, int t, bool layernorm_x) const {
  if (opt_.fp32_layers.count(node.name)) return false;
  if (node.op == "LayerNormalization") return layernorm_x && layernorm_takes_int8_input(node, t);
  if (node.op == "Concat" && only_network_output(node)) return false;  // lower_concat says why
  // A recurrent layer reads only X as int8 (lower_rnn); its initial states stay float.
  if ((node.op == "LSTM" || node.op == "GRU" || node.op == "RNN") && (node.inputs.empty() || node.inputs[0] != t)) {
    return false;
  }
  auto it = lowerings().find(node.op);
  if (it != lowerings().end() && it->second.reads_int8) return true;
  int scaled = -1;
  if (is_move_op(node.op)) return moves_to_int8_readers(node, layernorm_x);
  if (rescale_factor(node, &scaled) > 0.0 && node.inputs[scaled] == t) return rescale_pays(node);
  if (!opt_.int8_gates) return false;  // a gate reads the chain's values (lower_lut) only with int8_gates
  const int i = channel_mul_operand(node);
  return i >= 0 && node.inputs[i] == t;
}

bool Lowerer::only_network_output(const Node& node) const {
  return node.outputs.size() == 1 && node.outputs[0] >= 0 && index_.is_output(node.outputs[0]) &&
         index_.readers(node.outputs[0]).empty();
}

bool Lowerer::leaves_as_float_only(int t) const {
  const std::vector<int>& readers = index_.readers(t);
  if (readers.empty()) return index_.is_output(t);
  for (int c : readers) {
    const Node& r = src_.nodes()[c];
    if (!is_move_op(r.op) || opt_.fp32_layers.count(r.name)) return false;
    for (int o : r.outputs) {
      if (o >= 0 && !leaves_as_float_only(o)) return false;
    }
  }
  return true;
}

bool Lowerer::moves_to_int8_readers(const Node& node, bool layernorm_x) const {
  for (int o : node.outputs) {
    if (o < 0) continue;
    if (index_.is_output(o) || index_.readers(o).empty()) return false;
    for (int c : index_.readers(o)) {
      if (!reads_int8(src_.nodes()[c], o, layernorm_x)) return false;
    }
  }
  return true;
}

bool Lowerer::lower_lut(int n) {
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
  // A gate read only by channel gates (lower_int8_gates.cc).
  if (lower_gate_region(r)) return true;
  // No table: y is an output, uncalibrated, or (below) read by a layer that takes no int8. Where y is
  // wanted only in float, the region's float values straight from its int8 input (lower_float_region).
  if (index_.is_output(y) || !has_scale(y)) return lower_float_region(r);
  // A table reads a symmetric x, or one clipped below the region's flat
  // part (adopt_flat_input_grids); it writes y at y's scale and zero point
  // (lower_int8_zero_points.cc gives a lower-bounded y one).
  const int32_t z_x = qzero_[r.input];
  if (z_x != 0 && !flat_inputs_.count(r.input)) return false;
  // Every reader of y must take it as int8 (an element-wise or other float
  // reader would see int8 y instead of the float y of the float path); a
  // LayerNorm's x counts (PP-OCR rec's swish in front of its SVTR neck's
  // Reshape -> Transpose -> LayerNorm): y is rounded once at its calibrated
  // scale where the float path kept it float.
  for (int c : index_.readers(y)) {
    if (!reads_int8(src_.nodes()[c], y, /*layernorm_x=*/true)) return lower_float_region(r);
  }
  // Squeeze-and-excitation (int8_gates): the channel gates reading y and the
  // global pools beside them read the region's int8 input through its 256
  // float values instead (lower_channel_mul, lower_global_avgpool), so y is
  // never rounded and they compute what the float layers would. When every
  // reader does, no table layer is emitted.
  bool gated = false, all_read_values = true;
  for (int c : index_.readers(y)) {
    const Node& reader = src_.nodes()[c];
    const int i = channel_mul_operand(reader);
    const bool gate = i >= 0 && reader.inputs[i] == y && !index_.is_output(reader.outputs[0]) &&
                      has_scale(reader.outputs[0]);
    const bool pool = reader.op == "GlobalAveragePool" && reader.outputs.size() == 1 && has_scale(reader.outputs[0]) &&
                      src_.tensor(y).shape.size() == 4;
    gated = gated || gate;
    all_read_values = all_read_values && (gate || pool);
  }
  if (gated) {
    GateTable g{r.input, dst_.add_constant(src_.tensor(y).name + "::values", {256},
                                           compute_region_values(src_, r, qscale_[r.input], z_x)), {}};
    if (all_read_values) g.sources = consume_region(r).sources;
    gate_tables_[y] = std::move(g);
    if (all_read_values) {
      note("element-wise region ending at '" + src_.tensor(y).name +
           "' is read by its gates and pools through its 256 float values");
      return true;
    }
  }
  // Per-channel grids on either side (lower_int8_channel_grids.cc): one table per channel.
  const bool channels_in = !qchannels_[r.input].empty(), channels_out = channel_grids_.count(y) > 0;
  if ((channels_in || channels_out) && (gated || z_x != 0 || layout_of(r.input) != Layout::kNhwc)) return false;
  QLutAttrs a{{qscale_[r.input], channels_out ? 0.0 : scale(y)}, "", zero_point_of(y), {}, {}, z_x};
  std::vector<int8_t> table;
  std::vector<int64_t> table_shape = {256};
  if (channels_in || channels_out) {
    const size_t c = static_cast<size_t>(src_.tensor(y).shape[1]);
    std::vector<float> s_in(c, qscale_[r.input]), s_out(c, channels_out ? 0.f : scale(y));
    if (channels_in) s_in = qchannels_[r.input];
    if (channels_out) s_out = channel_scales_.at(y);
    table = compute_channel_luts(src_, r, s_in, s_out, static_cast<int32_t>(a.out_zero_point));
    table_shape = {static_cast<int64_t>(c), 256};
    a.in_scales.assign(s_in.begin(), s_in.end());
    a.out_scales.assign(s_out.begin(), s_out.end());
    if (channels_in) a.in_scale = 0.0;
    if (channels_out) qchannels_[y] = s_out;
  } else {
    table = compute_lut(src_, r, qscale_[r.input], scale(y), zero_point_of(y), z_x);
  }
  ConsumedRegion c = consume_region(r);
  a.ops = c.ops;
  int tab = dst_.add_constant_i8(src_.tensor(y).name + "::table", table_shape, table);
  add_int8_node(QLutAttrs::kOp, c.name, std::move(c.sources), {int8_id_[r.input], tab}, a.to_attrs(), y,
                static_cast<float>(a.out_scale), layout_of(r.input));
  note("element-wise " + a.ops + " ending at '" + src_.tensor(y).name + "' runs as " +
       (a.in_scales.empty() ? "one int8 table" : "one int8 table per channel"));
  return true;
}

Lowerer::ConsumedRegion Lowerer::consume_region(const LutRegion& r) {
  ConsumedRegion c;
  for (int m : r.nodes) {
    const Node& node = src_.nodes()[m];
    c.name += (c.name.empty() ? "" : "+") + node.name;
    c.ops += (c.ops.empty() ? "" : "+") + node.op;
    for (std::string& s : sources_of(node)) c.sources.push_back(std::move(s));
    consumed_[m] = 1;
  }
  return c;
}

std::string Lowerer::float_reason(const Node& node) const {
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

bool Lowerer::fused_activation(const Node& node, ActivationAttrs& act) {
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

namespace {

LoweringResult lower_held(const Network& net, const LoweringOptions& options) {
  Lowerer lowerer(net, options);
  if (options.fp32_layers.empty()) return lowerer.run();
  // The float layers of a mixed engine take their activation chains as an
  // FP32 engine's do: the same passes, run on a copy, on those layers only
  // (the chain's readers are float anyway, its input being float). The
  // Lowerer emits each fused conv in its unfused source's place, so every
  // grid (a zero point for the chain's output, lower_int8_zero_points.cc)
  // is decided as before: the int8 readers see the bytes they saw.
  Network fused = net;
  PassReport passes;
  fuse_swish(fused, &passes, &options.fp32_layers);
  fuse_float_chain(fused, &passes, &options.fp32_layers);
  std::map<std::string, Lowerer::FloatEpilogue> epilogues;
  for (const Node& node : fused.nodes()) {
    auto it = passes.merged_nodes.find(node.name);
    if (it == passes.merged_nodes.end() || node.outputs.size() != 1) continue;
    epilogues[node.name] = {node.attrs, fused.tensor(node.outputs[0]).name,
                            std::vector<std::string>(it->second.begin() + 1, it->second.end())};
  }
  lowerer.set_float_epilogues(std::move(epilogues));
  LoweringResult r = lowerer.run();
  r.report.insert(r.report.begin(), passes.lines.begin(), passes.lines.end());
  return r;
}

}  // namespace

LoweringResult lower_int8(const Network& net, const LoweringOptions& options) {
  // Scales of exactly 0 become the nominal one (lower_int8_zero_range.h) before any grid is decided, so every
  // rule below (and an If branch's lowering, which takes these options' scales) sees one scale per tensor.
  std::map<std::string, float> scales = options.scales;
  std::set<std::string> inputs;
  for (int id : net.inputs()) inputs.insert(net.tensor(id).name);
  const std::vector<std::string> zero_ranges = hold_zero_ranges(&scales, inputs);
  if (zero_ranges.empty()) return lower_held(net, options);
  LoweringOptions held = options;
  held.scales = std::move(scales);
  LoweringResult r = lower_held(net, held);
  r.report.insert(r.report.begin(), zero_ranges.begin(), zero_ranges.end());
  return r;
}

}  // namespace engine
}  // namespace int8rt
