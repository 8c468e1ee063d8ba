// INT8 lowering of data movement (lower_int8_moves.h has the node rewrites),
// the layout-only transposes, channel shuffles, Shape and Flatten of int8
// tensors (lower_int8_lowerer.h).
#include "engine/lower_int8_lowerer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "engine/int8_plan_recorder.h"
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

// A float input (a LayerNorm's output) moved only to int8 readers (the
// attention's MatMul behind nn.MultiheadAttention's [B, S, D] -> [S, B, D]):
// quantized before the move, at the scale calibrated for the move's output,
// instead of after it, so the move copies bytes, not floats, and gives the
// same int8 values (a move only places them). The Quantize converts as many
// values either way. Rank 4 keeps the float move (its int8 layouts are the
// convs' business); so does a move with several outputs (Split).
// Where the input has other readers, they get this int8 tensor too, and a
// move that selects (Gather, Slice) may have a narrower range than its input
// (an LSTM state [h; c] whose h is bounded by tanh): then the input's own
// scale, which covers every reader's values.
bool Lowerer::quantize_before_move(const Node& node) {
  const int x = node.inputs.empty() ? -1 : node.inputs[0];
  if (x < 0 || node.outputs.size() != 1 || src_.tensor(x).is_constant ||
      src_.tensor(x).dtype != DataType::kFloat32 || src_.tensor(x).shape.size() == 4 ||
      src_.tensor(node.outputs[0]).shape.size() == 4 || !has_scale(node.outputs[0]) ||
      zero_point_of(x) != zero_point_of(node.outputs[0]) || !moves_to_int8_readers(node)) {
    return false;
  }
  const bool sole_reader = index_.readers(x).size() == 1 && !index_.is_output(x);
  if (!sole_reader && !has_scale(x)) return false;
  get_int8(x, Layout::kLogical, sole_reader ? scale(node.outputs[0]) : scale(x));
  note("'" + src_.tensor(x).name + "' is quantized before " + node.op + " '" + node.name +
       "', which then moves int8 bytes");
  return true;
}

bool Lowerer::lower_move(int, const Node& node) {
  const int x = node.inputs.empty() ? -1 : node.inputs[0];
  if (!is_int8(x) && !quantize_before_move(node)) return false;
  if (lower_channel_shuffle(node) || lower_token_flatten(node) || lower_layout_rename(node) ||
      defer_transposed_operand(node)) {
    return true;
  }
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
    qzero_[o] = qzero_[x];  // bytes moved: the input's zero point too
    nhwc_[o] = out_layout == Layout::kNhwc;
    int8_id_[o] = id;
    record_int8_tensor(o, id, producer, /*in_int8=*/true);
  }
  return true;
}

bool Lowerer::lower_layout_rename(const Node& node) {
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

double Lowerer::rescale_factor(const Node& node, int* x) const {
  if ((node.op != "Mul" && node.op != "Div") || node.inputs.size() != 2 || node.outputs.size() != 1) return 0.0;
  for (int i = 0; i < (node.op == "Mul" ? 2 : 1); ++i) {
    const Tensor& c = src_.tensor(node.inputs[1 - i]);
    const Tensor& t = src_.tensor(node.inputs[i]);
    if (!c.is_constant || c.dtype != DataType::kFloat32 || c.f32.size() != 1 || c.shape.size() > t.shape.size()) continue;
    const double v = c.f32[0];
    if (!(v > 0.0) || !std::isfinite(v)) continue;
    *x = i;
    return node.op == "Mul" ? v : 1.0 / v;
  }
  return 0.0;
}

bool Lowerer::rescale_pays(const Node& node) const {
  for (int c : index_.readers(node.outputs[0])) {
    const std::string& op = src_.nodes()[c].op;
    if (op != "MatMul" && op != "Gemm" && op != "Conv" && op != "ConvTranspose" && !is_move_op(op)) return false;
  }
  return moves_to_int8_readers(node);
}

bool Lowerer::lower_rescale(int, const Node& node) {
  int i = -1;
  const double factor = rescale_factor(node, &i);
  if (factor <= 0.0 || !is_int8(node.inputs[i]) || !rescale_pays(node)) return false;
  const int x = node.inputs[i], y = node.outputs[0];
  const int64_t rank = static_cast<int64_t>(src_.tensor(y).shape.size());
  const int same_dims = dst_.add_constant_i64(node.name + "::same_dims", {rank}, std::vector<int64_t>(rank, 0));
  const float out_scale = static_cast<float>(qscale_[x] * factor);
  Attributes a;
  a.set("out_scale", Attribute::of_float(out_scale));  // the relabelled scale, for tools (QMoveOps)
  add_int8_node(QMoveOps::lowered("Reshape"), node.name, sources_of(node), {int8_id_[x], same_dims}, std::move(a), y,
                out_scale, layout_of(x));
  note(node.op + " '" + node.name + "' by a positive scalar keeps the int8 values of '" + src_.tensor(x).name +
       "' and scales their scale");
  return true;
}

int Lowerer::sole_reader(int t) const {
  if (t < 0 || index_.is_output(t) || index_.readers(t).size() != 1) return -1;
  const int c = index_.readers(t)[0];
  return consumed_[c] || opt_.fp32_layers.count(src_.nodes()[c].name) ? -1 : c;
}

bool Lowerer::lower_channel_shuffle(const Node& node) {
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
  qzero_[z] = qzero_[x];  // bytes moved: the input's zero point too
  nhwc_[z] = 1;
  int8_id_[z] = id;
  record_int8_tensor(z, id, last, /*in_int8=*/true);
  note("channel shuffle '" + node.name + "' -> '" + last + "' runs as one int8 transpose of each pixel's channels");
  return true;
}

bool Lowerer::lower_token_flatten(const Node& node) {
  if (node.op != "Reshape" || node.outputs.size() != 1) return false;
  const int x = node.inputs[0], y = node.outputs[0];
  if (layout_of(x) != Layout::kNhwc) return false;
  const Shape& xs = src_.tensor(x).shape;
  const Shape& ys = src_.tensor(y).shape;
  if (xs.size() != 4 || ys.size() != 3 || xs[1] <= 0 || xs[2] <= 0 || xs[3] <= 0 || ys[1] != xs[1] ||
      ys[2] != xs[2] * xs[3] || ys[0] != xs[0]) {
    return false;
  }
  const int t_node = sole_reader(y);
  if (t_node < 0 || src_.nodes()[t_node].op != "Transpose" ||
      src_.nodes()[t_node].attrs.get_ints("perm", {}) != std::vector<int64_t>{0, 2, 1}) {
    return false;
  }
  const Node& t = src_.nodes()[t_node];
  std::vector<std::string> sources = sources_of(node);
  for (std::string& src : sources_of(t)) sources.push_back(std::move(src));
  consumed_[t_node] = 1;
  const int tokens = dst_.add_constant_i64(t.name + "::tokens_shape", {3}, {0, xs[2] * xs[3], xs[1]});
  add_int8_node(QMoveOps::lowered("Reshape"), t.name, sources, {int8_id_[x], tokens}, {}, t.outputs[0], qscale_[x],
                Layout::kLogical);
  note("patch tokens '" + node.name + "' -> '" + t.name + "' are the NHWC int8 bytes as they lie: one reshape, no transposes");
  return true;
}

bool Lowerer::lower_shape(int, const Node& node) {
  const int x = node.inputs.empty() ? -1 : node.inputs[0], y = node.outputs.empty() ? -1 : node.outputs[0];
  if (!is_int8(x) || y < 0 || node.outputs.size() != 1) return false;
  const std::string& yname = src_.tensor(y).name;
  const auto dims_only = [&](const std::string& layer) {  // why inspect shows it as a float32 layer
    note("layer '" + layer + "' (Shape) stays float32: it reads only the dims of int8 '" + src_.tensor(x).name +
         "' (an int64 result; no tensor data is converted)");
  };
  dims_only(node.name);
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
  dims_only(node.name + "::to_nchw");
  dst_.tensor(id).dtype = DataType::kInt64;
  dst_.tensor(id).shape = {4};
  if (sliced) {
    const int starts = dst_.add_constant_i64(node.name + "::start", {1}, {node.attrs.get_int("start", 0)});
    const int ends = dst_.add_constant_i64(node.name + "::end", {1}, {node.attrs.get_int("end", INT64_MAX)});
    id = dst_.add_node("Slice", node.name + "::range", {id, starts, ends}, {}, {yname})[0];
    dims_only(node.name + "::range");
    dst_.tensor(id).dtype = DataType::kInt64;
    dst_.tensor(id).shape = src_.tensor(y).shape;
  }
  float_id_[y] = id;
  return true;
}

int Lowerer::add_layout_transpose(const std::string& name, int in, const std::vector<int64_t>& perm,
                                  const std::string& out, const std::vector<std::string>& sources) {
  Attributes a;
  a.set("perm", Attribute::of_ints(perm));
  const std::string op = QMoveOps::lowered("Transpose");
  const int id = dst_.add_node(op, name, {in}, a, {out})[0];
  dst_.tensor(id).dtype = DataType::kInt8;
  plan_.layer(name, op, sources);
  return id;
}

bool Lowerer::lower_flatten(int, const Node& node) {
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
  qzero_[y] = qzero_[x];  // bytes moved: the input's zero point too
  int8_id_[y] = out;
  plan_.layer(node.name, QFlattenAttrs::kOp, sources_of(node));
  record_int8_tensor(y, out, node.name, /*in_int8=*/true);
  return true;
}

}  // namespace engine
}  // namespace int8rt
