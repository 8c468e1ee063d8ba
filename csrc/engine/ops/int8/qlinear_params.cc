// Reading int8rt.QConv / int8rt.QGemm nodes (qlinear_params.h).
#include "engine/ops/int8/qlinear_params.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/nonneg_input.h"
#include "engine/ops/int8/window_attrs.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::OutputType;

// Per-channel activation scales of a node (QLinearAttrs::in_scales /
// out_scales) as float32, or the per-tensor one; `count` checked.
struct ActivationScales {
  std::vector<float> values;
  kernels::ChannelScales view() const { return {values.data(), static_cast<int64_t>(values.size())}; }
};
ActivationScales activation_scales(const Node& node, double one, const std::vector<double>& per_channel,
                                   int64_t channels, const char* what) {
  if (per_channel.empty()) return {{static_cast<float>(one)}};
  if (static_cast<int64_t>(per_channel.size()) != channels) {
    throw InvalidArgument(layer_error_prefix(node) + what + " needs one scale per channel (" +
                          std::to_string(channels) + "), got " + std::to_string(per_channel.size()));
  }
  return {std::vector<float>(per_channel.begin(), per_channel.end())};
}

// The requantization of a conv/gemm node: its weight scales, bias and
// activation. Per-channel activation scales only where `per_channel_ok`
// (the callers say which layers may have them).
kernels::EpilogueStorage linear_requant(const Network& net, const Node& node, const QLinearAttrs& q, int64_t channels,
                                        OutputType out, bool per_channel_ok = false) {
  if (static_cast<int64_t>(q.w_scales.size()) != channels) {
    throw InvalidArgument(layer_error_prefix(node) + "needs one weight scale per output channel");
  }
  if (!per_channel_ok && (!q.in_scales.empty() || !q.out_scales.empty())) {
    throw InvalidArgument(layer_error_prefix(node) + "per-channel activation scales are not defined for " + node.op);
  }
  const ActivationScales s_in = activation_scales(node, q.in_scale, q.in_scales, channels, "in_scales");
  const ActivationScales s_out = activation_scales(node, q.out_scale, q.out_scales, channels, "out_scales");
  std::vector<float> w_scales(q.w_scales.begin(), q.w_scales.end());
  const float* bias = nullptr;
  if (has_input(node, 2)) {
    const Tensor& b = constant_input(net, node, 2, "bias");
    if (static_cast<int64_t>(b.f32.size()) != channels) {
      throw InvalidArgument(layer_error_prefix(node) + "bias needs one value per output channel");
    }
    bias = b.f32.data();
  }
  kernels::EpilogueStorage rq =
      kernels::make_epilogue(s_in.view(), w_scales.data(), channels, bias, s_out.view(), out, q.act.kind,
                             static_cast<float>(q.act.min), static_cast<float>(q.act.max));
  if (q.in_zero_point != 0 || q.out_zero_point != 0) {
    // Channel k's int8 weights are the k-th of `channels` equal runs (OIHW / [N][K]).
    const Tensor& w = constant_input(net, node, 1, "weights");
    const int64_t per = static_cast<int64_t>(w.i8.size()) / channels;
    std::vector<int64_t> w_sum(static_cast<size_t>(channels), 0);
    for (int64_t k = 0; k < channels; ++k) {
      for (int64_t i = 0; i < per; ++i) w_sum[k] += w.i8[k * per + i];
    }
    kernels::apply_zero_points(rq, s_in.view(), w_scales.data(), w_sum.data(), bias, s_out.view(), q.act.kind,
                               static_cast<float>(q.act.min), static_cast<float>(q.act.max),
                               static_cast<int32_t>(q.in_zero_point), static_cast<int32_t>(q.out_zero_point));
  }
  return rq;
}

}  // namespace

kernels::ConvShape qconv_shape(const Network& net, const Node& node, bool* dynamic_size) {
  const QConvAttrs a = QConvAttrs::from_attrs(node);
  kernels::ConvShape shape;
  const Tensor& w = constant_input(net, node, 1, "weights");
  if (w.dtype != DataType::kInt8 || w.shape.size() != 4) {
    throw InvalidArgument(layer_error_prefix(node) + "weights must be int8 OIHW");
  }
  const Tensor& x = net.tensor(node.inputs[0]);
  if (x.shape.size() != 4) throw InvalidArgument(layer_error_prefix(node) + "input must be NHWC rank 4");
  const std::string prefix = layer_error_prefix(node);
  const bool default_kernel = a.window.kernel_shape.empty();  // a node without kernel_shape: the weights'
  apply_window(a.window, default_kernel ? std::vector<int64_t>{w.shape[2], w.shape[3]} : a.window.kernel_shape, prefix,
               shape);
  const std::vector<int64_t>& dl = a.dilations;
  if (dl.size() != 2) throw InvalidArgument(prefix + "dilations need 2 values");
  shape.C = checked_int(x.shape[3], prefix + "input channels", 1);
  shape.K = checked_int(w.shape[0], prefix + "output channels", 1);
  shape.dilation_h = checked_int(dl[0], prefix + "dilations[0]", 1, kMaxWindowAttr);
  shape.dilation_w = checked_int(dl[1], prefix + "dilations[1]", 1, kMaxWindowAttr);
  if (dynamic_size) *dynamic_size = x.shape[1] == -1 || x.shape[2] == -1;
  // A dynamic extent starts at the smallest input with one output: the
  // dilated kernel minus the padding.
  auto smallest = [](int64_t r, int64_t dilation, int64_t pads) {
    return std::max<int64_t>(1, (r - 1) * dilation + 1 - pads);
  };
  shape.H = checked_int(x.shape[1] == -1 ? smallest(shape.R, shape.dilation_h, int64_t{shape.pad_top} + shape.pad_bottom)
                                         : x.shape[1],
                        prefix + "input height", 1);
  shape.W = checked_int(x.shape[2] == -1 ? smallest(shape.S, shape.dilation_w, int64_t{shape.pad_left} + shape.pad_right)
                                         : x.shape[2],
                        prefix + "input width", 1);
  shape.groups = checked_int(a.group, prefix + "group", 1);
  try {
    shape.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(layer_error_prefix(node) + e.what());
  }
  // Padding is real 0, i.e. the input's zero point (folded into the bias by
  // linear_requant), which the kernels read at padding positions.
  shape.pad_value = static_cast<int8_t>(a.in_zero_point);
  // An input no value of which is negative (a ReLU's output): VNNI kernels
  // read it as u8 without the sign shift (nonneg_input.h).
  shape.nonneg_input = int8_tensor_nonneg(net, node.inputs[0]);
  // The kernels read K * C/groups * R * S weights: the weight tensor must
  // hold exactly that (an engine file with a changed attribute otherwise
  // makes packing read past the weights).
  const std::vector<int64_t> oihw = {shape.K, shape.c_per_group(), shape.R, shape.S};
  if (w.shape != oihw) {
    throw InvalidArgument(layer_error_prefix(node) + "weights of shape " + shape_str(w.shape) +
                          " do not match K, C/group and kernel_shape " + shape_str(oihw));
  }
  return shape;
}

QConvParams qconv_params(const Network& net, const Node& node) {
  const QConvAttrs a = QConvAttrs::from_attrs(node);
  QConvParams p;
  p.shape = qconv_shape(net, node, &p.dynamic_size);
  const kernels::ConvShape& shape = p.shape;
  const std::string prefix = layer_error_prefix(node);
  p.weights = constant_input(net, node, 1, "weights").i8.data();
  // Per-channel input scales need each input channel read by its output channel alone.
  if (!a.in_scales.empty() && !shape.is_depthwise()) {
    throw InvalidArgument(prefix + "per-channel input scales (in_scales) need a depthwise conv");
  }
  if (!a.out_scales.empty() && has_input(node, 3)) {
    throw InvalidArgument(prefix + "per-channel output scales (out_scales) take no fused residual");
  }
  p.out = a.out_scale > 0.0 || !a.out_scales.empty() ? OutputType::kInt8 : OutputType::kFloat32;
  if (p.out == OutputType::kFloat32 && (has_input(node, 3) || !a.slopes.empty())) {
    throw InvalidArgument(prefix + "a float32 output (no out_scale) takes no fused residual and no slopes");
  }
  // A PReLU epilogue adds its output zero point after the slope
  // (qconv_prelu.cc, ref::finish_output): the bias stays centred.
  QConvAttrs centred = a;
  if (!a.slopes.empty()) centred.out_zero_point = 0;
  p.requant = linear_requant(net, node, centred, shape.K, p.out, /*per_channel_ok=*/true);
  if (has_input(node, 3)) {  // fused residual: s_res / s_out, added before the clamp
    float s_res = static_cast<float>(a.residual_scale);
    float s_out = static_cast<float>(a.out_scale);
    if (!(s_res > 0.f)) throw InvalidArgument(layer_error_prefix(node) + "residual_scale must be > 0");
    p.has_residual = true;
    p.residual_scale = kernels::residual_multiplier(s_res, s_out);
    kernels::apply_residual_zero_point(p.requant, p.residual_scale, static_cast<int32_t>(a.residual_zero_point));
  }
  if (!a.slopes.empty()) {  // a fused PRelu: t in output units, centred; the layer adds the zero point after the slope
    if (static_cast<int64_t>(a.slopes.size()) != shape.K) {
      throw InvalidArgument(prefix + "slopes need one value per output channel (" + std::to_string(shape.K) + ")");
    }
    if (a.act.kind != kernels::Activation::kNone) {
      throw InvalidArgument(prefix + "a PReLU epilogue (slopes) takes no other activation");
    }
    if (a.out_zero_point < -128 || a.out_zero_point > 127) {
      throw InvalidArgument(prefix + "output zero point out of the int8 range");
    }
    for (double v : a.slopes) {
      if (!std::isfinite(v)) throw InvalidArgument(prefix + "slopes must be finite");
      p.requant.slope.push_back(static_cast<float>(v));
    }
  }
  return p;
}

QConvTransposeParams qconv_transpose_params(const Network& net, const Node& node) {
  const QConvTransposeAttrs a = QConvTransposeAttrs::from_attrs(node);
  if (a.in_zero_point != 0 || a.out_zero_point != 0) {
    throw NotSupported(layer_error_prefix(node) + "zero points are not supported on int8rt.QConvTranspose");
  }
  const std::string prefix = layer_error_prefix(node);
  QConvTransposeParams p;
  kernels::ConvTransposeShape& shape = p.shape;
  const Tensor& w = constant_input(net, node, 1, "weights");
  if (w.dtype != DataType::kInt8 || w.shape.size() != 4) {
    throw InvalidArgument(prefix + "weights must be int8 [C][K/group][R][S]");
  }
  const Tensor& x = net.tensor(node.inputs[0]);
  if (x.shape.size() != 4) throw InvalidArgument(prefix + "input must be NHWC rank 4");
  const bool default_kernel = a.window.kernel_shape.empty();
  apply_window(a.window, default_kernel ? std::vector<int64_t>{w.shape[2], w.shape[3]} : a.window.kernel_shape, prefix,
               shape);
  if (a.dilations.size() != 2 || a.output_padding.size() != 2) {
    throw InvalidArgument(prefix + "dilations and output_padding need 2 values");
  }
  shape.dilation_h = checked_int(a.dilations[0], prefix + "dilations[0]", 1, kMaxWindowAttr);
  shape.dilation_w = checked_int(a.dilations[1], prefix + "dilations[1]", 1, kMaxWindowAttr);
  shape.out_pad_h = checked_int(a.output_padding[0], prefix + "output_padding[0]", 0, kMaxWindowAttr);
  shape.out_pad_w = checked_int(a.output_padding[1], prefix + "output_padding[1]", 0, kMaxWindowAttr);
  shape.groups = checked_int(a.group, prefix + "group", 1);
  shape.C = checked_int(x.shape[3], prefix + "input channels", 1);
  shape.K = checked_int(checked_mul(w.shape[1], a.group, prefix + "output channels"), prefix + "output channels", 1);
  p.dynamic_size = x.shape[1] == -1 || x.shape[2] == -1;
  // A dynamic extent is checked per run; 1 x 1 stands for it here unless the
  // pads need more to leave an output (validate below then names the node).
  shape.H = checked_int(x.shape[1] == -1 ? 1 + int64_t{shape.pad_top} + shape.pad_bottom : x.shape[1],
                        prefix + "input height", 1);
  shape.W = checked_int(x.shape[2] == -1 ? 1 + int64_t{shape.pad_left} + shape.pad_right : x.shape[2],
                        prefix + "input width", 1);
  try {
    shape.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(prefix + e.what());
  }
  const std::vector<int64_t> ckrs = {shape.C, shape.k_per_group(), shape.R, shape.S};
  if (w.shape != ckrs) {
    throw InvalidArgument(prefix + "weights of shape " + shape_str(w.shape) +
                          " do not match C, K/group and kernel_shape " + shape_str(ckrs));
  }
  p.weights = w.i8.data();
  p.requant = linear_requant(net, node, a, shape.K, OutputType::kInt8);
  return p;
}

QGemmParams qgemm_params(const Network& net, const Node& node) {
  const QGemmAttrs a = QGemmAttrs::from_attrs(node);
  QGemmParams p;
  const Tensor& w = constant_input(net, node, 1, "weights");
  if (w.dtype != DataType::kInt8 || w.shape.size() != 2) {
    throw InvalidArgument(layer_error_prefix(node) + "weights must be int8 [N][K]");
  }
  p.shape.N = checked_int(w.shape[0], layer_error_prefix(node) + "output features", 1);
  p.shape.K = checked_int(w.shape[1], layer_error_prefix(node) + "input features", 1);
  p.shape.validate();
  p.weights = w.i8.data();
  p.out = a.out_scale > 0.0 ? OutputType::kInt8 : OutputType::kFloat32;
  p.requant = linear_requant(net, node, a, p.shape.N, p.out);
  if (node.inputs.size() > 3 && node.inputs[3] >= 0) {
    const Tensor& t = constant_input(net, node, 3, "table");
    if (t.dtype != DataType::kInt8 || t.i8.size() != 256 || p.out != OutputType::kInt8) {
      throw InvalidArgument(layer_error_prefix(node) + "table must be 256 int8 values after an int8 output");
    }
    p.table = t.i8.data();
  }
  return p;
}

}  // namespace engine
}  // namespace int8rt
