// Float32 Conv (ONNX Conv, opset 11+): 1-D, 2-D and 3-D, NC[D]HW, group, strides,
// dilations, pads, auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER), optional
// bias, plus the fused epilogue of graph/passes/passes.h (int8rt_residual,
// int8rt_activation: Relu, Clip, LeakyRelu, and Swish, HardSwish and Chain in
// FP32 engines and on a mixed engine's float convs, graph/passes/fuse_swish.cc
// and fuse_float_chain.cc). 1-D runs as 2-D with H = 1.
//
// Compute: depthwise (group == C == M) convolutions run direct on the
// dwconv_f32 kernel family (kernels/dwconv_f32.h), runs of output planes
// per call, the residual and Relu / Clip applied by the kernel before its
// store; in FP32 so does a single-channel conv (C == M == group == 1, an
// audio front end's long 1-D filter), one plane, which the SGEMM would run
// as a 1-row product (Basic Pitch's 256-tap stride-2 CQT filters,
// RESULTS.md section 230). A 1x1 convolution with strides and no padding first copies the
// pixels it reads and then runs as a pointwise one, image by image (the
// copy is still in L2 when the product reads it). 2-D kernels larger
// than 1x1 with constant weights, one group and output channels a multiple
// of the SGEMM's column tile (ResNet's 3x3 convs, the RGB stems), or under
// 16 channels per group (RegNet's grouped 3x3 convs) run the
// NHWC conv (kernels/conv_nhwc_f32.h: pixels as the microkernel's rows,
// channels as its vector columns, A read in place from a channels-last
// copy of the image), unless the output rows are too narrow. Other dense FP32 convolutions
// with constant weights and one group whose output pixels would pad the
// SGEMM's column tile badly (7x7 and 14x14 planes), by enough FMA steps
// per output to pay for a transpose (transposed()), run the
// output-transposed product (conv_f32_transposed.h: pixels as rows, channels
// as vector columns, then a transpose). Otherwise 2-D kernels larger than 1x1
// with constant weights and at least 16 channels per group (or one group
// and kw * C >= 16) run the tap conv (kernels/conv_taps_f32.h: per-tap
// GEMMs, B read in place from a phase-split padded copy of the image);
// everything else is the blocked SGEMM (kernels/sgemm_f32.h): y[g] = W[g]
// (M/G x C/G*kh*kw) * col (C/G*kh*kw x OH*OW), whose B panels are packed
// straight from the image (Im2colView: col is never materialised; the
// input itself is B when the conv is 1x1, stride 1, no padding) and whose A
// panels (constant weights) are packed once when the layer is created.
// Bias, the residual and Relu / Clip are the SGEMM's (or the tap conv's)
// tile epilogue, applied while each tile is in cache, in the unfused
// graph's order (bit for bit). At batch > 1 the paths run image by image
// and have the next image fetched while one image's tiles run
// (SgemmEpilogue::ahead). 3-D convolutions materialise
// col (C/G*kd*kh*kw x OD*OH*OW) per image and group and run the same SGEMM
// (FP32 only). With int8rt_precision="bf16"
// (engine/bf16_layers.h) the same product runs on the BF16 GEMM, the
// weights of each group converted and packed once here (with their taps,
// for the direct order; a 1x1 conv over images declared 1 x 1, an SE
// block's FC conv, as W^T for one GEMM over the batch's pixels,
// conv_f32_pixels_bf16.cc), with the same tile
// epilogue (bias, residual, Relu / Clip). A depthwise conv in BF16 runs on
// the dwconv_bf16 kernel (ops/bf16_depthwise.h). A BF16 conv reads and
// writes bfloat16 tensors where the builder made them so (the tensors
// between BF16 convs, engine/bf16_layers.h): the BF16 GEMM's run_bf16_io,
// which reads the image's BF16 pairs and rounds its tiles' stores.
//
// With "int8rt_output_scale" (and "int8rt_output_zero_point") the conv
// writes its output as int8 NHWC itself, a mixed engine's float conv at a
// float island's exit (engine/lower_int8_float_exit.cc): a few images at a
// time into a float scratch that stays in L2, each quantized there by
// int8rt.Quantize's own code (ops/int8/quantize_rule.h), so the same bytes
// as the conv followed by that Quantize, without the float tensor.
//
// This file is the layer: construction, shapes and which path runs;
// conv_f32_layer.h declares its class, conv_f32_dense.cc holds the dense
// products (the packed weights, the NHWC / tap / transposed / SGEMM / BF16
// GEMM calls and their epilogue), conv_f32_depthwise.cc the depthwise
// kernel calls; conv_f32_geom.h holds the geometry and the
// input copies (3-D im2col, strided 1x1 subsample), conv_f32_transposed.h
// the output-transposed product, conv_f32_nhwc.h the conv on channels-last
// tensors (int8rt_layout="nhwc", engine/f32_layout.h: X, the residual and
// Y stored [N, H, W, C]; the same bits as on NCHW tensors), and
// conv_f32_nchw16c.h the conv on channel-blocked tensors
// (int8rt_layout="nchw16c", engine/f32_blocked.h).
#include <algorithm>

#include "core/checked_math.h"
#include "engine/f32_blocked.h"
#include "engine/f32_layout.h"
#include "engine/ops/conv_f32_layer.h"
#include "engine/ops/conv_f32_nchw16c.h"
#include "kernels/aligned_allocator.h"

namespace int8rt {
namespace engine {

ConvF32Layer::ConvF32Layer(const Network& net, const Node& node, WindowAttrs w, int64_t group, size_t rank)
    : w_(std::move(w)), group_(group), rank_(rank), act_(parse_fused_activation(node)),
      residual_(node.attrs.has("int8rt_residual") ? node.attrs.get_int("int8rt_residual", -1) : -1),
      prefix_(layer_error_prefix(node)), column_(is_column_conv(net, node, w_, rank_)),
      nhwc_io_(channels_last(node)) {
  const bool bf16 = wants_bf16(net, node);
  if (nhwc_io_ && (bf16 || rank_ != 2 || column_ || group_ != 1 || node.outputs.size() != 1)) {
    throw NotSupported(prefix_ + "channels-last tensors need a 2-D FP32 conv of one group");
  }
  y16_ = net.tensor(node.outputs[0]).dtype == DataType::kBFloat16;
  if (y16_ && (!bf16 || (act_.kind != FusedActivation::Kind::kNone && !fused_.clip))) {
    throw NotSupported(prefix_ + "a bfloat16 output needs the layer in bf16 with no activation but Relu / Clip");
  }
  const Tensor& wt = net.tensor(node.inputs[1]);
  if (bf16 && group_ > 1 && wt.shape[1] == 1 && wt.shape[0] == group_) {  // depthwise
    dw16_ = std::make_unique<Bf16Depthwise>(wt.f32.data(), group_, wt.shape[2] * (rank_ == 2 ? wt.shape[3] : 1));
  } else if (bf16) {
    const int64_t Mg = wt.shape[0] / group_;
    const int64_t K = static_cast<int64_t>(wt.f32.size()) / std::max<int64_t>(wt.shape[0], 1);
    if (Mg * group_ != wt.shape[0]) {
      throw InvalidArgument(prefix_ + "weights " + shape_str(wt.shape) + " do not split into " +
                            std::to_string(group_) + " groups");
    }
    const int64_t taps = K / std::max<int64_t>(wt.shape[1], 1);  // kh * kw: the direct order is packed too
    if (one_pixel_images(net, node, w_, group_, rank_, residual_)) {  // W^T, for one GEMM over the batch
      bf16_.choose();
      pixels16_ = bf16_.kernel->pack({wt.f32.data(), K, wt.shape[0], K, /*trans=*/true, /*left=*/false});
    } else {
      for (int64_t grp = 0; grp < group_; ++grp) {
        bf16_.add({wt.f32.data() + grp * Mg * K, Mg, K, K, false, /*left=*/true, taps});
      }
    }
  } else if (rank_ != 3) {  // gemm_3d reads the weights as they are
    pack_weights(wt);
  }
  if (nhwc_io_) channels_last_ = std::make_unique<ChannelsLastConvF32>(*uk_, act_, net, node);
  if (node.attrs.has("int8rt_output_scale")) {
    ConvertAttrs q;
    q.scale = node.attrs.get_float("int8rt_output_scale", 0.0);
    q.zero_point = node.attrs.get_int("int8rt_output_zero_point", 0);
    if (!(q.scale > 0.0) || q.zero_point < -128 || q.zero_point > 127 || rank_ != 2 || nhwc_io_ || column_ ||
        node.outputs.size() != 1 || net.tensor(node.outputs[0]).dtype != DataType::kInt8) {
      throw NotSupported(prefix_ + "an int8 output (int8rt_output_scale) needs a 2-D conv on NCHW tensors, one "
                         "int8 output, a positive scale and a zero point in [-128, 127] (here: " +
                         std::to_string(rank_) + "-D" + (nhwc_io_ ? ", channels-last" : "") +
                         (column_ ? ", run as its row twin" : "") + ", scale " + std::to_string(q.scale) +
                         ", zero point " + std::to_string(q.zero_point) + ")");
    }
    quant_ = std::make_unique<QuantizeRule>(q);
  }
}

std::vector<std::pair<DataType, Shape>> ConvF32Layer::infer(const std::vector<const Value*>& in) const {
  ConvGeom g = geometry(in);
  Shape out{g.N, g.M};
  if (rank_ == 3) out.push_back(g.od);
  if (rank_ >= 2) out.push_back(g.oh);
  out.push_back(g.ow);
  if (nhwc_io_ || quant_) out = {g.N, g.oh, g.ow, g.M};
  if (residual_ >= 0) {  // a dense BF16 conv may read a bfloat16 residual (bf16_layers.h)
    const bool r16 = !bf16_.empty() && in.size() > static_cast<size_t>(residual_) && in[residual_] &&
                     in[residual_]->dtype() == DataType::kBFloat16;
    const Value& r = require_input(in, static_cast<size_t>(residual_),
                                   r16 ? DataType::kBFloat16 : DataType::kFloat32, prefix_);
    if (r.shape() != (quant_ ? Shape{g.N, g.M, g.oh, g.ow} : out)) {
      throw InvalidArgument(prefix_ + "residual shape " + shape_str(r.shape()) + " differs from output " +
                            shape_str(out));
    }
  }
  return {{quant_ ? DataType::kInt8 : y16_ ? DataType::kBFloat16 : DataType::kFloat32, out}};
}

void ConvF32Layer::run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
  ConvGeom g = geometry(in);
  if (column_) g = as_row(g);
  if (quant_) {
    run_int8_out(in, g, out[0]->data<int8_t>());
  } else {
    run_images(in, g, 0, out[0]->data<void>());
  }
}

std::string ConvF32Layer::describe() const {
  const bool bf16 = !bf16_.empty() || dw16_;
  return std::string(bf16 ? "bf16" : "fp32") + " conv" + std::to_string(rank_) + "d group=" +
         std::to_string(group_) + act_.describe() + (pixels16_ ? " 1x1 images: one GEMM over the batch" : "") +
         (dw16_ ? dw16_->describe() : bf16_.describe()) +
         (y16_ ? " out=bfloat16" : "") + (nhwc_io_ ? " layout=nhwc" : "") +
         (quant_ ? " out=int8 (" + quant_->describe() + ")" : "");
}

void ConvF32Layer::run_images(const std::vector<const Value*>& in, const ConvGeom& g, int64_t n, void* yv) const {
  const int64_t x_image = g.C * g.D * g.H * g.W, y_image = g.M * g.od * g.oh * g.ow;
  auto at = [&](size_t i, int64_t image) -> const void* {  // input i from image n on, float or bfloat16
    const Value* v = in[i];
    return v->dtype() == DataType::kBFloat16 ? static_cast<const void*>(v->data<uint16_t>() + n * image)
                                             : static_cast<const void*>(v->data<float>() + n * image);
  };
  const float* x = static_cast<const float*>(at(0, x_image));
  const float* w = in[1]->data<float>();
  const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
  const void* res_any = residual_ >= 0 ? at(static_cast<size_t>(residual_), y_image) : nullptr;
  float* y = static_cast<float*>(yv);
  if (channels_last_) {
    const float* res = static_cast<const float*>(res_any);
    const kernels::NhwcConv* nhwc =
        nhwc_ && kernels::nhwc_conv_declines(tap_shape(g), uk_->mr).empty() ? nhwc_.get() : nullptr;
    channels_last_->run(x, bias, res, y, g, nhwc, tap_shape(g),
                        [&](const float* xt, const float* rt, float* yt) { run_nchw(xt, w, bias, rt, yt, g); });
  } else if (rank_ == 3) {
    gemm_3d(x, w, bias, y, g);
    epilogue(static_cast<const float*>(res_any), y, g);
  } else if (dw16_) {
    depthwise_bf16(at(0, x_image), in[0]->dtype() == DataType::kBFloat16, bias, static_cast<const float*>(res_any),
                   yv, g);
  } else if (pixels16_) {
    pixels_bf16(at(0, x_image), in[0]->dtype() == DataType::kBFloat16, bias, yv, g);
  } else if (g.G == g.C && g.M == g.C && (g.G > 1 || bf16_.empty())) {  // every group one channel in, one out
    depthwise(x, w, bias, static_cast<const float*>(res_any), y, g);
  } else {
    const bool x16 = in[0]->dtype() == DataType::kBFloat16;
    const bool r16 = residual_ >= 0 && in[residual_]->dtype() == DataType::kBFloat16;
    const float* res = r16 ? nullptr : static_cast<const float*>(res_any);
    if (x16 || y16_ || r16) {  // bfloat16 tensors: the direct path reads and writes them as they are
      gemm_bf16_io(at(0, x_image), x16, bias, res, r16 ? static_cast<const uint16_t*>(res_any) : nullptr, yv, g);
      return;
    }
    run_nchw(x, w, bias, res, y, g);
  }
}

void ConvF32Layer::run_int8_out(const std::vector<const Value*>& in, const ConvGeom& g, int8_t* y) const {
  const int64_t y_image = g.M * g.oh * g.ow;
  const int64_t group = std::max<int64_t>(1, kScratchBytes / std::max<int64_t>(1, y_image * 4));
  thread_local kernels::AlignedFloats scratch;  // 64-byte aligned; grown, never shrunk: no allocation per run once grown
  for (int64_t n = 0; n < g.N; n += group) {
    ConvGeom part = g;
    part.N = std::min(group, g.N - n);
    if (scratch.size() < static_cast<size_t>(part.N * y_image)) scratch.resize(static_cast<size_t>(part.N * y_image));
    run_images(in, part, n, scratch.data());
    quant_->run(Shape{part.N, g.M, g.oh, g.ow}, scratch.data(), y + n * y_image);
  }
}

bool ConvF32Layer::is_column_conv(const Network& net, const Node& node, const WindowAttrs& w, size_t rank) {
  const Shape& xs = net.tensor(node.inputs[0]).shape;
  const bool no_w_pads = w.pads.size() != 4 || (w.pads[1] == 0 && w.pads[3] == 0);
  return rank == 2 && xs.size() == 4 && xs[3] == 1 && w.kernel[1] == 1 && w.kernel[0] > 1 && no_w_pads;
}

ConvGeom ConvF32Layer::as_row(ConvGeom g) const {
  if (g.W != 1 || g.ow != 1) {
    throw InvalidArgument(prefix_ + "input width " + std::to_string(g.W) +
                          ": the layer was built for the declared width 1");
  }
  std::swap(g.H, g.W); std::swap(g.kh, g.kw); std::swap(g.sh, g.sw);
  std::swap(g.dh, g.dw); std::swap(g.ph, g.pw); std::swap(g.oh, g.ow);
  return g;
}

ConvGeom ConvF32Layer::geometry(const std::vector<const Value*>& in) const {
  const bool x16 = (!bf16_.empty() || dw16_) && in.size() > 0 && in[0] && in[0]->dtype() == DataType::kBFloat16;
  const ConvOperands ops = conv_operands(in, rank_, prefix_, x16 ? DataType::kBFloat16 : DataType::kFloat32);
  thread_local Shape nchw;  // a channels-last X read as NCHW (kept: no allocation per run)
  if (nhwc_io_) nchw.assign({ops.x[0], ops.x[3], ops.x[1], ops.x[2]});
  const Shape& xs = nhwc_io_ ? nchw : ops.x;
  const Shape& ws = ops.w;
  ConvGeom g{};
  g.N = xs[0];
  g.C = xs[1];
  g.M = ws[0];
  g.G = group_;
  if (g.C % group_ != 0 || ws[1] != g.C / group_ || g.M % group_ != 0) {  // no product: group may be huge
    throw InvalidArgument(prefix_ + "weights " + shape_str(ws) + " do not match input channels " +
                          std::to_string(g.C) + " with group " + std::to_string(group_));
  }
  if (in.size() > 2 && in[2] && (in[2]->dtype() != DataType::kFloat32 || !is_shape_1d(in[2]->shape(), g.M))) {
    throw InvalidArgument(prefix_ + "bias must be float32 [" + std::to_string(g.M) + "], got " +
                          shape_str(in[2]->shape()));
  }
  for (size_t d = 0; d < rank_; ++d) {
    if (ws[2 + d] != w_.kernel[d]) {
      throw InvalidArgument(prefix_ + "weights " + shape_str(ws) + " do not match kernel_shape " +
                            ints_str(w_.kernel));
    }
  }
  DimGeom last = window_geometry(w_, rank_ - 1, xs.back(), prefix_);
  g.W = xs.back(); g.kw = ws.back(); g.sw = w_.strides.back(); g.dw = w_.dilations.back();
  g.pw = last.pad_begin; g.ow = last.out;
  if (rank_ >= 2) {
    const size_t d = rank_ - 2;
    DimGeom first = window_geometry(w_, d, xs[2 + d], prefix_);
    g.H = xs[2 + d]; g.kh = ws[2 + d]; g.sh = w_.strides[d]; g.dh = w_.dilations[d];
    g.ph = first.pad_begin; g.oh = first.out;
  } else {
    g.H = 1; g.kh = 1; g.sh = 1; g.dh = 1; g.ph = 0; g.oh = 1;
  }
  if (rank_ == 3) {
    DimGeom depth = window_geometry(w_, 0, xs[2], prefix_);
    g.D = xs[2]; g.kd = ws[2]; g.sd = w_.strides[0]; g.dd = w_.dilations[0];
    g.pd = depth.pad_begin; g.od = depth.out;
  }
  return g;
}

namespace {

std::unique_ptr<Layer> make_conv(const Network& net, const Node& node) {
  if (node.inputs.size() < 2 || node.inputs[0] < 0 || node.inputs[1] < 0) {
    throw InvalidArgument(layer_error_prefix(node) + "needs input X and weights W");
  }
  WindowAttrs w = parse_window(node, true, false);
  const Shape& ws = net.tensor(node.inputs[1]).shape;
  if (ws.size() < 3) {
    throw NotSupported(layer_error_prefix(node) + "weights '" + net.tensor(node.inputs[1]).name +
                       "' need a known shape [M, C/group, k...], got " + shape_str(ws));
  }
  size_t rank = ws.size() - 2;
  if (rank > 3) throw NotSupported(layer_error_prefix(node) + std::to_string(rank) + "-D convolution is not supported");
  Shape kernel(ws.begin() + 2, ws.end());
  if (!w.kernel.empty() && w.kernel != kernel) {
    throw InvalidArgument(layer_error_prefix(node) + "kernel_shape " + ints_str(w.kernel) +
                          " does not match weights " + shape_str(ws));
  }
  w.kernel = kernel;
  fill_window_defaults(w, rank, node);
  int64_t group = node.attrs.get_int("group", 1);
  if (group < 1) throw InvalidArgument(layer_error_prefix(node) + "group must be >= 1");
  // The input channels are group x W's second dim: a group (from an engine
  // file, say) whose product overflows is refused here, not computed with.
  checked_mul(group, ws[1], layer_error_prefix(node) + "group x weight input channels");
  if (node.attrs.has("int8rt_residual")) {
    int64_t r = node.attrs.get_int("int8rt_residual", -1);
    if (r != 3 || !has_input(node, 3)) {
      throw unsupported_attr(node, "int8rt_residual", std::to_string(r), "expected 3, the index of a 4th input");
    }
  }
  if (channel_blocked(node)) return make_blocked_conv(net, node, std::move(w), group);
  return std::make_unique<ConvF32Layer>(net, node, std::move(w), group, rank);
}

INT8RT_REGISTER_LAYER("Conv", make_conv);

}  // namespace
}  // namespace engine
}  // namespace int8rt
