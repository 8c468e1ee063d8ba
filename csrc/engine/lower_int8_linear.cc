// INT8 lowering of the layers with weights (lower_int8_lowerer.h): Conv,
// ConvTranspose, Gemm and MatMul with constant weights (their exported bias
// and layer scale folded), and MatMul of two activations (the attention
// they form: lower_int8_attention.cc).
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
#include "engine/ops/op_util.h"
#include "engine/ops/resize_coords.h"
#include "engine/value.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

bool Lowerer::lower_conv(int, const Node& node) {
  if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
  int x = node.inputs[0], w = node.inputs[1], b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  int y = node.outputs[0];
  const Tensor& wt = src_.tensor(w);
  if (src_.tensor(x).shape.size() != 4 || !wt.is_constant || wt.dtype != DataType::kFloat32 || wt.shape.size() != 4) {
    return decline(node, "not a 2-D convolution with constant weights");
  }
  if (b >= 0 && !src_.tensor(b).is_constant) return decline(node, "bias is not a constant");
  // A PRelu reading the output alone folds into the epilogue (lower_int8_prelu.cc): y is then its output.
  std::vector<double> slopes;
  const int prelu = fused_prelu(node, &slopes);
  if (prelu >= 0) y = src_.nodes()[prelu].outputs[0];
  if ((!is_int8(x) && !has_scale(x) && !has_channel_scales(x)) || (!has_scale(y) && !has_channel_scales(y))) {
    return decline(node, "no calibration scale for its input or output");
  }
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
  const std::string channels_blocker = per_channel_conv_blocker(node, residual >= 0, a.act);
  if (!channels_blocker.empty()) return decline(node, channels_blocker);
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
  // A calibrated per-channel input grid folds into a non-depthwise conv's weights (lower_int8_channel_grids.cc).
  const bool fold = folds_input_channels(node);
  quant::QuantizedWeights qw = fold ? quantize_folded_weights(node)
                                    : quantize_weights(wt.name, 0, wt.f32.data(), wt.shape[0], per_channel);
  int wq = add_weight_constant(wt.name + "::int8" + (fold ? "::" + src_.tensor(x).name : ""), wt.shape, qw.values);
  int bias = b >= 0 ? get_float(b) : -1;
  // The input's int8 scale is the one its int8 tensor carries, which for a
  // max-pool output is the pool input's scale, not the calibrated one. Its
  // zero point is also what the kernels pad with (qconv_params), so padding
  // is real 0.
  const int xin = int8_in(x, Layout::kNhwc);
  a.window = {kernel, strides, pads};
  a.dilations = dil;
  a.group = node.attrs.get_int("group", 1);
  a.in_scale = fold ? 1.0 : qscale_[x];
  if (!fold) a.in_scales.assign(qchannels_[x].begin(), qchannels_[x].end());  // per channel: depthwise (checked above)
  a.in_zero_point = qzero_[x];
  const bool float_out = conv_head_writes_float(y, residual >= 0, prelu >= 0);  // lower_int8_conv_head.cc
  a.out_zero_point = float_out ? 0 : zero_point_of(y);
  if (has_channel_scales(y) && !float_out) {
    qchannels_[y] = channel_scales_.at(y);
    a.out_scales.assign(qchannels_[y].begin(), qchannels_[y].end());
  }
  a.out_scale = a.out_scales.empty() && !float_out ? scale(y) : 0.f;
  a.w_scales.assign(qw.scales.begin(), qw.scales.end());
  std::vector<int> ins = {xin, wq, bias};
  if (residual >= 0) {
    ins.push_back(int8_in(residual, Layout::kNhwc));
    a.residual_scale = qscale_[residual];
    a.residual_zero_point = qzero_[residual];
  }
  std::vector<std::string> sources = sources_of(node);
  if (prelu >= 0) {
    a.slopes = std::move(slopes);
    for (std::string& s : sources_of(src_.nodes()[prelu])) sources.push_back(std::move(s));
    consumed_[prelu] = 1;
    note("PRelu '" + src_.nodes()[prelu].name + "' runs in the int8 epilogue of conv '" + node.name +
         "' (its per-channel slopes applied before the one rounding)");
  }
  if (float_out) {
    add_conv_float_output(node.name, std::move(sources), ins, a.to_attrs(), y);
    return true;
  }
  add_int8_node(QConvAttrs::kOp, node.name, std::move(sources), ins, a.to_attrs(), y, static_cast<float>(a.out_scale));
  return true;
}

std::string Lowerer::per_channel_conv_blocker(const Node& node, bool residual, const ActivationAttrs& act) const {
  const int x = node.inputs[0], y = node.outputs[0];
  const Tensor& wt = src_.tensor(node.inputs[1]);
  if ((is_int8(x) ? !qchannels_[x].empty() : has_channel_scales(x)) && !channel_grids_.count(x)) {
    const int64_t c = src_.tensor(x).shape[1];
    if (node.attrs.get_int("group", 1) != c || wt.shape[0] != c || wt.shape[1] != 1) {
      return "its input '" + src_.tensor(x).name + "' is int8 per channel (a pre-quantized model's axis-1 Q), " +
             "which only a depthwise conv reads";
    }
  }
  if (!has_channel_scales(y)) return "";
  if (residual) return "a fused residual with per-channel output scales is not lowered";
  // One int8 clamp for every channel (kernels::common_int8_clamp): Relu6 at scales of about 6 / 255 or finer.
  const std::vector<float>& s_out = channel_scales_.at(y);
  const int32_t z_out = zero_point_of(y);
  std::vector<float> lo(s_out.size()), hi(s_out.size());
  for (size_t k = 0; k < s_out.size(); ++k) {
    kernels::int8_clamp_bounds(act.kind, static_cast<float>(act.min), static_cast<float>(act.max), s_out[k], z_out,
                               &lo[k], &hi[k]);
    if (lo[k] > hi[k]) return "its activation lies outside channel " + std::to_string(k) + "'s int8 range";
  }
  float l = 0.f, h = 0.f;
  if (!kernels::common_int8_clamp(lo.data(), hi.data(), static_cast<int64_t>(lo.size()), &l, &h)) {
    return "its activation clamps its channels at different int8 values at their per-channel output scales";
  }
  return "";
}

quant::QuantizedWeights Lowerer::quantize_weights(const std::string& name, int64_t axis, const float* w, int64_t rows,
                                                  int64_t cols) const {
  auto hint = opt_.weight_scales.find(name);
  if (hint != opt_.weight_scales.end()) {
    const std::vector<float>& s = hint->second.scales;
    const bool per_tensor = s.size() == 1, per_row = static_cast<int64_t>(s.size()) == rows && hint->second.axis == axis;
    quant::QuantizedWeights q;
    bool exact = per_tensor || per_row;
    for (int64_t r = 0; exact && r < rows; ++r) {
      const float sr = s[per_tensor ? 0 : r];
      q.scales.push_back(sr);
      for (int64_t c = 0; exact && c < cols; ++c) {
        const float v = w[r * cols + c], t = std::nearbyint(v / sr);
        exact = std::fabs(t) <= 127.f && t * sr == v;
        q.values.push_back(static_cast<int8_t>(exact ? t : 0.f));
      }
    }
    if (exact) return q;
  }
  return quant::quantize_weights_per_channel(w, rows, cols);
}

bool Lowerer::lower_conv_transpose(int, const Node& node) {
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

bool Lowerer::lower_gemm(int, const Node& node) {
  if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
  int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  int b = node.op == "Gemm" && node.inputs.size() > 2 ? node.inputs[2] : -1;
  const Tensor& wt = src_.tensor(w);
  if (node.op == "MatMul" && !wt.is_constant) {
    if (zero_point_of(x) != 0 || zero_point_of(w) != 0 || zero_point_of(y) != 0) {
      return decline(node, "a MatMul of two activations with zero points is not lowered");
    }
    return lower_matmul_pair(node);
  }
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
  quant::QuantizedWeights qw = quantize_weights(wt.name, trans_b ? 0 : 1, nk.data(), n_out, k);
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
  // Written as float32 from the accumulators when y only leaves the network, directly or through data
  // movement (a classifier's Gemm -> Flatten -> logits): an int8 y would round the logits once more
  // (MTCNN ONet's relative L2 0.046 -> 0.033: RESULTS_accuracy.md acc54).
  const bool int8_out =
      has_scale(y) && !index_.is_output(y) && !leaves_as_float_only(y) && !coarse_residual_branch(y);
  int xin = int8_in(x, Layout::kLogical);  // rows of K features: the logical order, whatever the rank
  a.in_scale = qscale_[x];
  a.in_zero_point = qzero_[x];
  a.out_zero_point = int8_out ? zero_point_of(y) : 0;
  a.out_scale = int8_out ? scale(y) : 0.0;
  a.w_scales.assign(qw.scales.begin(), qw.scales.end());
  if (int8_out && lower_gemm_table(node.name, sources, {xin, wq, bias}, a, y)) return true;  // FC1 + GELU
  add_linear_output(QGemmAttrs::kOp, node.name, std::move(sources), {xin, wq, bias}, a.to_attrs(), y, int8_out);
  return true;
}

bool Lowerer::coarse_residual_branch(int y) const {
  // A residual branch y whose int8 step is kCoarse times the other addend's (the skip stream's) adds
  // rounding error far above the stream's own: transformer FFN outputs with outlier channels
  // (paraphrase-MiniLM-L3's first block: step 1.15 against 0.18; embedding cosine to FP32 0.939 ->
  // 0.998 with that one branch in float32). Such a QGemm writes float32 from its accumulators.
  constexpr float kCoarse = 4.f;
  if (!has_scale(y)) return false;
  for (int c : index_.readers(y)) {
    const Node& r = src_.nodes()[c];
    const bool fused_ln = r.op == "LayerNormalization" && r.attrs.get_int("int8rt_residual", -1) == 3 &&
                          r.inputs.size() == 4;
    if (r.op != "Add" && !fused_ln) continue;
    const int skip = r.op == "Add" ? r.inputs[r.inputs[0] == y ? 1 : 0] : r.inputs[r.inputs[0] == y ? 3 : 0];
    if (skip >= 0 && skip != y && has_scale(skip) && scale(y) > kCoarse * scale(skip)) return true;
  }
  return false;
}

int Lowerer::affine_tail_reader(int y, int64_t n) const {
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

void Lowerer::add_linear_output(const char* op, const std::string& name, std::vector<std::string> sources,
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

bool Lowerer::matmul_pair_lowers(const Node& mm) const {
  if (!opt_.int8_matmul_pairs || opt_.fp32_layers.count(mm.name) || mm.inputs.size() != 2) return false;
  for (int t : mm.inputs) {
    const Tensor& tt = src_.tensor(t);
    if (tt.is_constant || tt.dtype != DataType::kFloat32 || tt.shape.size() < 2) return false;
    if (!is_int8(t) && !has_scale(t) && !transposed_b_.count(t)) return false;
  }
  return true;
}

bool Lowerer::int8_output_wanted(int y) const {
  if (!has_scale(y) || index_.is_output(y)) return false;
  for (int c : index_.readers(y)) {
    if (reads_int8(src_.nodes()[c], y)) return true;
  }
  return false;
}

int Lowerer::untransposed(int t, bool* transposed, std::vector<std::string>* sources) const {
  auto deferred = transposed_b_.find(t);
  *transposed = deferred != transposed_b_.end();
  if (!*transposed) return t;
  sources->push_back(deferred->second.second);
  return deferred->second.first;
}

bool Lowerer::lower_matmul_pair(const Node& node) {
  if (!opt_.int8_matmul_pairs) return decline(node, "MatMul of two activations in int8 is off (int8_matmul_pairs)");
  if (!matmul_pair_lowers(node)) return decline(node, "an operand is not a float matrix with a calibration scale");
  auto attention = attention_at_.find(static_cast<int>(&node - src_.nodes().data()));
  if (attention != attention_at_.end()) {
    lower_attention(attention->second, node);
    return true;
  }
  if (match_attention(node)) return true;
  const int a_in = node.inputs[0], y = node.outputs[0];
  QMatMulAttrs a;
  std::vector<std::string> sources;
  const int b_in = untransposed(node.inputs[1], &a.b_transposed, &sources);
  for (std::string& s : sources_of(node)) sources.push_back(std::move(s));
  const bool int8_out = int8_output_wanted(y);
  const ProbsKeys keys = unfused_probs_keys(node);
  const int qa = int8_in(a_in, Layout::kLogical), qb = int8_in(b_in, Layout::kLogical);
  a.a_scale = qscale_[a_in];
  a.b_scale = qscale_[b_in];
  a.out_scale = int8_out ? scale(y) : 0.0;
  Attributes attrs = a.to_attrs();
  if (keys.active()) {  // the Quantize int8_in made for a_in, read by this product alone, takes the rule too
    keys.add_to(attrs);
    keys.add_to(dst_.nodes()[static_cast<size_t>(dst_.tensor(qa).producer)].attrs);
  }
  add_linear_output(QMatMulAttrs::kOp, node.name, std::move(sources), {qa, qb}, std::move(attrs), y, int8_out);
  if (is_last_axis_softmax(a_in)) warn_short_rows(a_in, node.name, keys);
  return true;
}

// The grid rule (probs_keys) for an unfused product's first operand when it
// is attention probabilities that no other node reads (a network output
// may: it stays the float tensor) and that are still float, so int8_in
// quantizes them for this product alone, at the rule's scale, with no other
// int8 reader assuming the calibrated one. Otherwise none.
ProbsKeys Lowerer::unfused_probs_keys(const Node& node) const {
  const int a_in = node.inputs[0];
  const std::vector<int>& readers = index_.readers(a_in);
  if (!is_last_axis_softmax(a_in) || is_int8(a_in) || zero_point_of(a_in) != 0 || readers.size() != 1 ||
      readers[0] != static_cast<int>(&node - src_.nodes().data())) {
    return ProbsKeys{};
  }
  return probs_keys(a_in);
}

bool Lowerer::defer_transposed_operand(const Node& node) {
  if (node.op != "Transpose" || node.outputs.size() != 1) return false;
  const int x = node.inputs[0], y = node.outputs[0];
  const size_t rank = src_.tensor(x).shape.size();
  if (rank < 2 || (rank == 4 && layout_of(x) == Layout::kNhwc)) return false;
  const std::vector<int64_t> perm = node.attrs.get_ints("perm", {});
  if (perm.size() != rank) return false;
  // The permutation left to run before the MatMul reads its output as B
  // transposed: perm with its last two entries swapped. Identity: nothing
  // runs; one that keeps the innermost axis (torch's K.permute(0, 2, 3, 1)
  // -> (0, 2, 1, 3)) copies whole rows instead of single bytes.
  std::vector<int64_t> inner = perm;
  std::swap(inner[rank - 2], inner[rank - 1]);
  bool identity = true;
  for (size_t d = 0; d < rank; ++d) identity = identity && inner[d] == static_cast<int64_t>(d);
  if (!identity && inner[rank - 1] != static_cast<int64_t>(rank - 1)) return false;
  const int c = sole_reader(y);
  if (c < 0) return false;
  const Node& mm = src_.nodes()[c];
  if (mm.op != "MatMul" || mm.inputs.size() != 2 || mm.inputs[1] != y || mm.inputs[0] == y) return false;
  transposed_b_[y] = {identity ? x : y, node.name};
  if (!matmul_pair_lowers(mm)) {
    transposed_b_.erase(y);
    return false;
  }
  if (identity) {
    note("transpose '" + node.name + "' feeds MatMul '" + mm.name + "' as its transposed B: the int8 MatMul reads '" +
         src_.tensor(x).name + "' as it is");
    return true;
  }
  // y stands for the partly transposed tensor (inner applied) from here on:
  // its only reader, the MatMul, takes it as transposed B. Not recorded in
  // the int8 plan as y: its bytes are y's in another order.
  std::vector<int64_t> shape(rank);
  for (size_t d = 0; d < rank; ++d) shape[d] = src_.tensor(x).shape[static_cast<size_t>(inner[d])];
  const int id = add_layout_transpose(node.name, int8_in(x, Layout::kLogical), inner,
                                      int8_tensor_name(src_.tensor(y).name) + "::b_transposed", sources_of(node));
  set_int8(id, shape, Layout::kLogical);
  qscale_[y] = qscale_[x];
  qzero_[y] = qzero_[x];  // bytes moved: the input's zero point too
  nhwc_[y] = false;
  int8_id_[y] = id;
  note("transpose '" + node.name + "' feeds MatMul '" + mm.name + "' as its transposed B: it runs as perm " +
       ints_str(inner) + ", which moves whole rows, and the int8 MatMul reads the result transposed");
  return true;
}

}  // namespace engine
}  // namespace int8rt
