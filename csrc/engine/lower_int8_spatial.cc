// INT8 lowering of pooling, Add, Concat, channel gates and Resize
// (lower_int8_lowerer.h).
#include "engine/lower_int8_lowerer.h"

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

// An averaging pool whose output only leaves the network (the classifier
// head of SqueezeNet: Conv + Relu -> GlobalAveragePool -> Flatten -> logits)
// stays float32: its int8 output would round the logits once more.
constexpr const char kLeavesAsFloat[] =
    "its output only leaves the network as float32 (directly or through data movement): an int8 output would "
    "only round it once more";

// ceil_mode written as end pads: each spatial dim's output size by ONNX's
// ceil rule (the last window starts inside the input or the begin pad,
// ops/op_util.cc window_geometry), and the end pad that makes the floor rule
// give the same size; false when the window attributes are not 2-D or the
// input is not static. The new end pad stays below the kernel size (the
// last window starts before in + pad_begin), as PoolShape::validate needs.
bool ceil_mode_as_end_pads(const std::vector<int64_t>& nchw, Window2dAttrs& w) {
  if (nchw.size() != 4 || w.kernel_shape.size() != 2 || w.strides.size() != 2 || w.pads.size() != 4) return false;
  for (int d = 0; d < 2; ++d) {
    const int64_t in = nchw[2 + d], k = w.kernel_shape[d], s = w.strides[d];
    const int64_t begin = w.pads[d], end = w.pads[d + 2];
    if (in <= 0 || k <= 0 || s <= 0) return false;
    const int64_t span = in + begin + end - k;
    if (span < 0) return false;
    int64_t out = (span + s - 1) / s + 1;
    if ((out - 1) * s >= in + begin) --out;
    w.pads[d + 2] = std::max(end, (out - 1) * s + k - in - begin);
  }
  return true;
}

}  // namespace

int Lowerer::channel_mul_operand(const Node& node) const {
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

bool Lowerer::lower_channel_mul(int n, const Node& node) {
  const int i = channel_mul_operand(node);
  if (i < 0) return lower_rescale(n, node);
  const int x = node.inputs[i], gate = node.inputs[1 - i], y = node.outputs[0];
  // The gate: float, or an int8 gate region's codes and values (lower_gate_region;
  // QChannelMul's fourth input, after x's table or none).
  std::vector<std::string> sources;
  std::vector<int> gate_ins = {-1, -1};
  auto codes = gate_codes_.find(gate);
  if (codes != gate_codes_.end()) {
    sources = std::move(codes->second.sources);
    codes->second.sources.clear();
    gate_ins = {int8_id_[codes->second.codes], codes->second.values};
  }
  auto table = gate_tables_.find(x);
  if (table != gate_tables_.end() && !index_.is_output(y) && has_scale(y)) {
    GateTable& t = table->second;
    const QChannelMulAttrs a{{qscale_[t.x], scale(y)}};
    for (std::string& s : t.sources) sources.push_back(std::move(s));
    t.sources.clear();
    for (std::string& s : sources_of(node)) sources.push_back(std::move(s));
    std::vector<int> ins = {int8_in(t.x, Layout::kNhwc), gate_ins[0] >= 0 ? gate_ins[0] : get_float(gate), t.values};
    if (gate_ins[0] >= 0) ins.push_back(gate_ins[1]);
    add_int8_node(QChannelMulAttrs::kOp, node.name, std::move(sources), ins, a.to_attrs(), y, scale(y));
    return true;
  }
  if (!is_int8(x) || index_.is_output(y) || !has_scale(y)) return false;
  const QChannelMulAttrs a{{qscale_[x], scale(y)}};
  for (std::string& s : sources_of(node)) sources.push_back(std::move(s));
  std::vector<int> ins = {int8_in(x, Layout::kNhwc), gate_ins[0] >= 0 ? gate_ins[0] : get_float(gate)};
  if (gate_ins[0] >= 0) ins.insert(ins.end(), {-1, gate_ins[1]});
  add_int8_node(QChannelMulAttrs::kOp, node.name, std::move(sources), ins, a.to_attrs(), y, scale(y));
  return true;
}

bool Lowerer::lower_pool(int, const Node& node) {
  int x = node.inputs[0], y = node.outputs[0];
  if (!is_int8(x) || node.outputs.size() != 1 || src_.tensor(x).shape.size() != 4) return false;
  if (node.attrs.get_string("auto_pad", "NOTSET") != "NOTSET") return decline(node, "auto_pad pooling is not lowered");
  for (int64_t d : node.attrs.get_ints("dilations", {1, 1})) {
    if (d != 1) return decline(node, "dilated pooling is not lowered");
  }
  QPoolAttrs a;
  a.window = {node.attrs.get_ints("kernel_shape", {}), node.attrs.get_ints("strides", {1, 1}),
              node.attrs.get_ints("pads", {0, 0, 0, 0})};
  if (node.attrs.get_int("ceil_mode", 0) != 0) {
    // ceil_mode (torchvision's GoogLeNet, SqueezeNet): the int8 kernels clip
    // windows to the input and skip padding, so the overhang of the last
    // window is bottom/right padding: a max pool, or an average that counts
    // only positions inside the input, computes the same values. With
    // count_include_pad the overhang would count (ONNX counts only the pads).
    if (node.op != "MaxPool" && node.attrs.get_int("count_include_pad", 0) != 0) {
      return decline(node, "ceil_mode average pooling with count_include_pad is not lowered");
    }
    if (!ceil_mode_as_end_pads(src_.tensor(x).shape, a.window)) {
      return decline(node, "ceil_mode pooling geometry is not lowered");
    }
  }
  if (node.op == "MaxPool") {
    a.kind = QPoolAttrs::Kind::kMax;
    add_int8_node(a.op(), node.name, sources_of(node), {int8_in(x, Layout::kNhwc)}, a.to_attrs(), y, qscale_[x]);
    return true;
  }
  if (!has_scale(y)) return decline(node, "no calibration scale for its output");
  if (leaves_as_float_only(y)) return decline(node, kLeavesAsFloat);
  a.kind = QPoolAttrs::Kind::kAverage;
  a.count_include_pad = node.attrs.get_int("count_include_pad", 0) != 0;
  a.in_scale = qscale_[x];
  a.out_scale = scale(y);
  // zero points (unsigned activations): the kernel's (ref::avgpool_s8)
  a.in_zero_point = qzero_[x];
  a.out_zero_point = zero_point_of(y);
  add_int8_node(a.op(), node.name, sources_of(node), {int8_in(x, Layout::kNhwc)}, a.to_attrs(), y, scale(y));
  return true;
}

bool Lowerer::lower_global_avgpool(int, const Node& node) {
  int x = node.inputs[0], y = node.outputs[0];
  // y with a zero point (an unsigned activation, a pre-quantized model's
  // uint8): the pool's table form takes it (QPoolAttrs::out_zero_point).
  const int32_t zy = zero_point_of(y);
  auto table = gate_tables_.find(x);
  if (table != gate_tables_.end() && has_scale(y) && src_.tensor(x).shape.size() == 4) {
    QPoolAttrs a;  // the pool beside a gate (lower_lut): the region's values, averaged in float
    a.kind = QPoolAttrs::Kind::kGlobalAverage;
    a.in_scale = qscale_[table->second.x];
    a.out_scale = scale(y);
    a.out_zero_point = zy;
    add_int8_node(a.op(), node.name, sources_of(node), {int8_in(table->second.x, Layout::kNhwc), table->second.values},
                  a.to_attrs(), y, scale(y));
    return true;
  }
  if (!is_int8(x) || src_.tensor(x).shape.size() != 4) return false;
  if (!has_scale(y)) return decline(node, "no calibration scale for its output");
  if (leaves_as_float_only(y)) return decline(node, kLeavesAsFloat);
  QPoolAttrs a;
  a.kind = QPoolAttrs::Kind::kGlobalAverage;
  a.in_scale = qscale_[x];
  a.out_scale = scale(y);
  std::vector<int> ins = {int8_in(x, Layout::kNhwc)};
  if (qzero_[x] != 0 || zy != 0) {
    // Zero points (the integer kernel takes none): the table form, code q
    // standing for its value s_in * (q - zx), the output's zy in the attributes.
    std::vector<float> v(256);
    for (int q = -128; q < 128; ++q) v[q + 128] = static_cast<float>(a.in_scale) * static_cast<float>(q - qzero_[x]);
    ins.push_back(dst_.add_constant(node.name + "::values", {256}, std::move(v)));
    a.out_zero_point = zy;
  }
  add_int8_node(a.op(), node.name, sources_of(node), ins, a.to_attrs(), y, scale(y));
  return true;
}

bool Lowerer::lower_add(int, const Node& node) {
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
  QAddAttrs a{qscale_[a_in], qscale_[b_in], scale(out_t), relu};
  const Layout layout = layout_of(a_in);  // element-wise: any layout, the same for both
  const int b_int8 = int8_in(b_in, layout);
  a.a_zero_point = qzero_[a_in];
  a.b_zero_point = qzero_[b_in];
  a.out_zero_point = zero_point_of(out_t);
  add_int8_node(QAddAttrs::kOp, node.name, std::move(sources), {int8_id_[a_in], b_int8}, a.to_attrs(),
                out_t, scale(out_t), layout);
  return true;
}

bool Lowerer::lower_concat(int, const Node& node) {
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
  bool one_scale = true;  // and one zero point: the bytes are copied, the output keeps them
  for (int id : node.inputs) {
    a.in_scales.push_back(qscale_[id]);
    a.in_zero_points.push_back(qzero_[id]);
    one_scale = one_scale && qscale_[id] == qscale_[node.inputs[0]] && qzero_[id] == qzero_[node.inputs[0]];
  }
  if (!one_scale && !has_scale(y)) return decline(node, "no calibration scale for its output");
  if (!one_scale && only_network_output(node)) {  // (reads_int8 keeps float inputs float for it)
    return decline(node, "its output is a network output only and its inputs' scales differ: requantizing "
                         "them to one scale would only add error to values that leave as float32");
  }
  for (int id : node.inputs) ins.push_back(int8_in(id, layout));
  const float out_scale = one_scale ? qscale_[node.inputs[0]] : scale(y);
  a.out_scale = out_scale;
  a.out_zero_point = one_scale ? qzero_[node.inputs[0]] : zero_point_of(y);
  a.axis = axis == rank - 1 ? -1 : axis;
  const int out = add_int8_node(QConcatAttrs::kOp, node.name, sources_of(node), ins, a.to_attrs(), y, out_scale,
                                layout);
  qzero_[y] = static_cast<int32_t>(a.out_zero_point);
  plan_.zero_point(out, qzero_[y]);
  return true;
}

bool Lowerer::lower_resize(int, const Node& node) {
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
  if (node.attrs.get_int("antialias", 0) != 0 ||
      node.attrs.get_string("coordinate_transformation_mode", "") == "tf_crop_and_resize") {
    return decline(node, "antialias and tf_crop_and_resize run in float32");
  }
  if (ys[0] != xs[0] || ys[1] != xs[1] || xs[1] <= 0) return decline(node, "it resizes more than the spatial dims");
  if (mode != "nearest") return lower_resize_linear(node);
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

bool Lowerer::lower_resize_linear(const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = src_.tensor(x).shape;
  const Shape& ys = src_.tensor(y).shape;
  if (node.attrs.has("axes")) return decline(node, "linear resizing with axes runs in float32");
  // int8 out when every reader takes y in int8 (the bytes of Dequantize, FP32
  // Resize, Quantize); else float32 out, the bytes of Dequantize, FP32 Resize.
  bool int8_out = !index_.is_output(y) && has_scale(y);
  for (int c : index_.readers(y)) int8_out = int8_out && reads_int8(src_.nodes()[c], y);
  QResizeLinearAttrs a;
  a.in_scale = qscale_[x];
  a.out_scale = int8_out ? scale(y) : 1.0f;
  a.float_out = !int8_out;
  std::vector<int> ins{int8_in(x, Layout::kNhwc)};
  bool constant_params = true;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    constant_params = constant_params && (node.inputs[i] < 0 || src_.tensor(node.inputs[i]).is_constant);
  }
  if (!constant_params || xs[2] <= 0 || xs[3] <= 0 || ys[2] <= 0 || ys[3] <= 0) {
    // sizes from the run-time Shape of the input (torch.onnx's upsampling to
    // the input's size) or a dynamic input: taps per size, in the layer
    a.dynamic_size = true;
    a.resize = node.attrs;
    for (size_t i = 1; i < node.inputs.size(); ++i) ins.push_back(node.inputs[i] < 0 ? -1 : get_float(node.inputs[i]));
  } else {
    // The per-dim scales the FP32 layer uses for coordinates: the given ones, or out / in for sizes.
    std::vector<float> given;
    const size_t scales_at = 2;
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
  }
  if (int8_out) {
    add_int8_node(a.kOp, node.name, sources_of(node), ins, a.to_attrs(), y, scale(y));
    return true;
  }
  int out = dst_.add_node(a.kOp, node.name, ins, a.to_attrs(), {src_.tensor(y).name})[0];
  dst_.tensor(out).shape = ys;
  float_id_[y] = out;
  plan_.layer(node.name, a.kOp, sources_of(node));
  note("layer '" + node.name + "' (Resize) reads int8 and writes float32 (its output is a network output or read "
       "in float32): no Dequantize before it");
  return true;
}

}  // namespace engine
}  // namespace int8rt
