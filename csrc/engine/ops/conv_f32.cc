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
// store. A 1x1 convolution with strides and no padding first copies the
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
// for the direct order), with the same tile
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
// This file is the layer: shapes, which path runs, the packed weights and
// the depthwise / SGEMM calls; conv_f32_geom.h holds the geometry and the
// input copies (3-D im2col, strided 1x1 subsample), conv_f32_transposed.h
// the output-transposed product, conv_f32_nhwc.h the conv on channels-last
// tensors (int8rt_layout="nhwc", engine/f32_layout.h: X, the residual and
// Y stored [N, H, W, C]; the same bits as on NCHW tensors), and
// conv_f32_nchw16c.h the conv on channel-blocked tensors
// (int8rt_layout="nchw16c", engine/f32_blocked.h).
#include <algorithm>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/bf16_layers.h"
#include "engine/f32_blocked.h"
#include "engine/f32_layout.h"
#include "engine/layer.h"
#include "engine/ops/bf16_depthwise.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/conv_f32_geom.h"
#include "engine/ops/conv_f32_nchw16c.h"
#include "engine/ops/conv_f32_nhwc.h"
#include "engine/ops/conv_f32_transposed.h"
#include "engine/ops/int8/quantize_rule.h"
#include "engine/ops/op_util.h"
#include "kernels/conv_nhwc_f32.h"
#include "kernels/conv_taps_f32.h"
#include "kernels/dwconv_f32.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::GemmOperand;
using kernels::Im2colView;
using kernels::sgemm;

class ConvLayer : public Layer {
 public:
  ConvLayer(const Network& net, const Node& node, WindowAttrs w, int64_t group, size_t rank)
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
      for (int64_t grp = 0; grp < group_; ++grp) {
        bf16_.add({wt.f32.data() + grp * Mg * K, Mg, K, K, false, /*left=*/true, taps});
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
                           "int8 output, a positive scale and a zero point in [-128, 127]");
      }
      quant_ = std::make_unique<QuantizeRule>(q);
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
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

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    ConvGeom g = geometry(in);
    if (column_) g = as_row(g);
    if (quant_) {
      run_int8_out(in, g, out[0]->data<int8_t>());
    } else {
      run_images(in, g, 0, out[0]->data<void>());
    }
  }

  std::string describe() const override {
    const bool bf16 = !bf16_.empty() || dw16_;
    return std::string(bf16 ? "bf16" : "fp32") + " conv" + std::to_string(rank_) + "d group=" +
           std::to_string(group_) + act_.describe() + (dw16_ ? dw16_->describe() : bf16_.describe()) +
           (y16_ ? " out=bfloat16" : "") + (nhwc_io_ ? " layout=nhwc" : "") +
           (quant_ ? " out=int8 (" + quant_->describe() + ")" : "");
  }

 private:
  // Images [n, n + g.N) of the inputs into y (float32, or bfloat16 where
  // y16_), laid out as the output tensor from its image n on.
  void run_images(const std::vector<const Value*>& in, const ConvGeom& g, int64_t n, void* yv) const {
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
    } else if (g.G == g.C && g.M == g.C && g.G > 1) {
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

  // The int8 output: images in groups whose float output (kScratchBytes at
  // most, one image at least) is computed into this thread's scratch and
  // quantized from there while in L2, NCHW float -> NHWC int8.
  void run_int8_out(const std::vector<const Value*>& in, const ConvGeom& g, int8_t* y) const {
    const int64_t y_image = g.M * g.oh * g.ow;
    const int64_t group = std::max<int64_t>(1, kScratchBytes / std::max<int64_t>(1, y_image * 4));
    thread_local std::vector<float> scratch;  // grown, never shrunk: no allocation per run once grown
    for (int64_t n = 0; n < g.N; n += group) {
      ConvGeom part = g;
      part.N = std::min(group, g.N - n);
      if (scratch.size() < static_cast<size_t>(part.N * y_image)) scratch.resize(static_cast<size_t>(part.N * y_image));
      run_images(in, part, n, scratch.data());
      quant_->run(Shape{part.N, g.M, g.oh, g.ow}, scratch.data(), y + n * y_image);
    }
  }

  // A dense FP32 conv on NCHW tensors.
  void run_nchw(const float* x, const float* w, const float* bias, const float* res, float* y,
                const ConvGeom& g) const {
    if (!is_strided_pointwise(g)) {
      dense(x, w, bias, res, y, g);
      return;
    }
    // A strided 1x1 conv image by image: each image's pixels are copied
    // just before its product reads them, from L2, where the whole
    // batch's copy (6.4 MB at ResNet-50's 256 -> 512 / 2, batch 8) had
    // left the caches by the time its later images ran. The products are
    // per image on every path: the same bits.
    ConvGeom one = g;
    one.N = 1;
    const int64_t image = g.C * g.H * g.W, out = g.M * g.oh * g.ow;
    for (int64_t n = 0; n < g.N; ++n) {
      ConvGeom gn = one;
      const float* xn = subsample(x + n * image, gn);
      dense(xn, w, bias, res ? res + n * out : nullptr, y + n * out, gn);
    }
  }

  // Relu and Clip run in the SGEMM's tile epilogue (after the residual,
  // which the epilogue adds first) or in the depthwise kernel.
  static kernels::SgemmEpilogue fused_clip(const FusedActivation& act) {
    kernels::SgemmEpilogue ep;
    ep.clip = act.as_clip(&ep.lo, &ep.hi);
    return ep;
  }

  // A kh x 1 kernel over images one pixel wide (magika's 5x1 conv over
  // [N, 256, 512, 1]: a 1-D conv spelled in 2-D) is the 1 x kh kernel over
  // one row of H pixels: the same bytes in the same order, for x, W and y.
  // Run that way, the row-wise kernels (NHWC, tap conv) take it, where
  // output rows one pixel wide fell to an im2col SGEMM (13x slower).
  // Decided when the layer is made (the weights are packed for it), from
  // the declared input width; a run of another width is refused.
  static bool is_column_conv(const Network& net, const Node& node, const WindowAttrs& w, size_t rank) {
    const Shape& xs = net.tensor(node.inputs[0]).shape;
    const bool no_w_pads = w.pads.size() != 4 || (w.pads[1] == 0 && w.pads[3] == 0);
    return rank == 2 && xs.size() == 4 && xs[3] == 1 && w.kernel[1] == 1 && w.kernel[0] > 1 && no_w_pads;
  }

  ConvGeom as_row(ConvGeom g) const {
    if (g.W != 1 || g.ow != 1) {
      throw InvalidArgument(prefix_ + "input width " + std::to_string(g.W) +
                            ": the layer was built for the declared width 1");
    }
    std::swap(g.H, g.W); std::swap(g.kh, g.kw); std::swap(g.sh, g.sw);
    std::swap(g.dh, g.dw); std::swap(g.ph, g.pw); std::swap(g.oh, g.ow);
    return g;
  }

  // Constant weights of a dense (not depthwise) convolution, each group's
  // [M/G, C/G*kh*kw] packed once into the SGEMM's A panels (a column conv's
  // as its row twin's: [M/G, C/G*1*kh], the same floats).
  void pack_weights(const Tensor& wt) {
    const int64_t M = wt.shape[0], C = group_ * wt.shape[1];
    const int64_t kh = column_ ? 1 : wt.shape[2], kw = column_ ? wt.shape[2] : wt.shape[3];
    if (!wt.is_constant || wt.dtype != DataType::kFloat32 || M % group_ != 0 || (group_ == C && M == C)) return;
    const int64_t Mg = M / group_, K = static_cast<int64_t>(wt.f32.size()) / std::max<int64_t>(M, 1);
    if (K * M != static_cast<int64_t>(wt.f32.size())) return;
    if (rank_ == 2) {
      // The NHWC conv (kernels/conv_nhwc_f32.h) where the output channels
      // fill the tile's vector columns; a run it declines (narrow output
      // rows) packs A per tile on the im2col path.
      kernels::TapConvShape ts;
      ts.C = C; ts.M = M; ts.G = group_; ts.kh = kh; ts.kw = kw;
      if (kernels::nhwc_conv_weights_decline(ts, uk_->nr).empty()) {
        nhwc_ = std::make_unique<kernels::NhwcConv>(*uk_, ts, wt.f32.data());
        return;
      }
    }
    if (rank_ == 2 && kh * kw > 1 && (C / group_ >= 16 || (group_ == 1 && kw * C >= 16))) {
      // In the tap conv's order (kernels/conv_taps_f32.h) for the shapes it
      // takes; a run it declines (an output under half its grid's width)
      // packs A per tile on the im2col path.
      kernels::TapConvShape ts;
      ts.C = C; ts.M = M; ts.G = group_; ts.kh = kh; ts.kw = kw;
      taps_ = std::make_unique<kernels::TapConv>(*uk_, ts, wt.f32.data());
      return;
    }
    for (int64_t grp = 0; grp < group_; ++grp) {
      packed_.push_back(kernels::pack_a_once(*uk_, Mg, K, {wt.f32.data() + grp * Mg * K, K, false}));
    }
  }

  kernels::TapConvShape tap_shape(const ConvGeom& g) const {
    kernels::TapConvShape s;
    s.C = g.C; s.H = g.H; s.W = g.W; s.M = g.M; s.G = g.G; s.kh = g.kh; s.kw = g.kw;
    s.sh = g.sh; s.sw = g.sw; s.dh = g.dh; s.dw = g.dw; s.ph = g.ph; s.pw = g.pw; s.oh = g.oh; s.ow = g.ow;
    return s;
  }

  // Output planes in runs of about 64 KiB per kernel call (the kernel
  // fetches a run's next plane ahead of it), in whole groups of 16 (else 8)
  // channels where C allows (the AVX-512 and AVX2 tiers run such groups
  // with the channels as vector lanes); the kernel adds
  // the residual and applies Relu / Clip (fused_) in registers, any other
  // activation follows on the run while it is in cache.
  void depthwise(const float* x, const float* w, const float* bias, const float* res, float* y,
                 const ConvGeom& g) const {
    const int64_t P = g.oh * g.ow;
    int64_t run = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, P));
    // whole channel groups for the channel-blocked walks (16 channels on
    // AVX-512, 8 on AVX2); with C = 16k + 8 (MobileNetV3's 72, 120, ...)
    // also 16, so that a batch-1 run's groups start at multiples of 16
    if (g.C % 16 == 0 || (g.C % 8 == 0 && g.C > 16)) {
      run = (run + 15) / 16 * 16;
    } else if (g.C % 8 == 0) {
      run = (run + 7) / 8 * 8;
    }
    const kernels::SgemmEpilogue& clip = fused_;
    kernels::DwConvF32Plane p;
    p.x = x; p.w = w; p.bias = bias; p.y = y; p.C = g.C;
    p.residual = res;
    p.clip = clip.clip; p.lo = clip.lo; p.hi = clip.hi;
    p.H = g.H; p.W = g.W; p.oh = g.oh; p.ow = g.ow; p.kh = g.kh; p.kw = g.kw;
    p.sh = g.sh; p.sw = g.sw; p.dh = g.dh; p.dw = g.dw; p.ph = g.ph; p.pw = g.pw;
    parallel_for(g.N * g.C, run, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; t += run) {
        kernels::DwConvF32Plane part = p;
        part.first = t;
        part.count = std::min(run, end - t);
        dw_->plane(part);
        if (!p.clip) act_.apply(y + t * P, part.count * P);
      }
    });
  }

  // The BF16 depthwise kernel: bias, residual and Relu / Clip in its
  // epilogue; another activation on an FP32 output afterwards.
  void depthwise_bf16(const void* x, bool x_bf16, const float* bias, const float* res, void* y,
                      const ConvGeom& g) const {
    Bf16DepthwiseRun r;
    r.x = x;
    r.x_bf16 = x_bf16;
    r.bias = bias;
    r.residual = res;
    r.y = y;
    r.y_bf16 = y16_;
    r.clip = fused_.clip; r.lo = fused_.lo; r.hi = fused_.hi;
    r.N = g.N; r.C = g.C; r.H = g.H; r.W = g.W; r.oh = g.oh; r.ow = g.ow; r.kh = g.kh; r.kw = g.kw;
    r.sh = g.sh; r.sw = g.sw; r.dh = g.dh; r.dw = g.dw; r.ph = g.ph; r.pw = g.pw;
    dw16_->run(r);
    if (!fused_.clip && !y16_) act_.apply(static_cast<float*>(y), g.N * g.M * g.oh * g.ow);
  }

  // A dense BF16 conv with a bfloat16 input (x16) and / or output (y16_):
  // per image and group, the BF16 GEMM's run_bf16_io over the image as it
  // lies (strided 1x1 convs too: the direct path's stride phases), the
  // tile epilogue adding the bias and residual (FP32 res, or bfloat16 r16)
  // and clipping.
  void gemm_bf16_io(const void* x, bool x16, const float* bias, const float* res, const uint16_t* r16, void* y,
                    const ConvGeom& g) const {
    const int64_t Cg = g.C / g.G, Mg = g.M / g.G, P = g.oh * g.ow;
    const bool pointwise = is_pointwise(g);
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const int64_t xo = (n * g.C + grp * Cg) * g.H * g.W, yo = (n * g.M + grp * Mg) * P;
        const float* xf = x16 ? nullptr : static_cast<const float*>(x) + xo;
        Im2colView view{xf, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, g.oh, g.ow};
        GemmOperand b{xf, P, false};
        if (!pointwise) b.im2col = &view;
        kernels::SgemmEpilogue ep = fused_;
        ep.row_bias = bias ? bias + grp * Mg : nullptr;
        ep.residual = res ? res + yo : nullptr;
        ep.ldr = P;
        bf16_.packed[grp]->run_bf16_io(P, b, x16 ? static_cast<const uint16_t*>(x) + xo : nullptr,
                                       y16_ ? nullptr : static_cast<float*>(y) + yo,
                                       y16_ ? static_cast<uint16_t*>(y) + yo : nullptr, P, true, &ep,
                                       r16 ? r16 + yo : nullptr);
      }
    }
    if (!fused_.clip && !y16_) epilogue(nullptr, static_cast<float*>(y), g);
  }

  void gemm_3d(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) const {
    const int64_t Cg = g.C / g.G, Mg = g.M / g.G, K = Cg * g.kd * g.kh * g.kw, P = g.od * g.oh * g.ow;
    std::vector<float> col(static_cast<size_t>(K * P));
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        im2col_3d(x + (n * g.C + grp * Cg) * g.D * g.H * g.W, Cg, g, col.data());
        float* yg = y + (n * g.M + grp * Mg) * P;
        if (bias) {
          for (int64_t m = 0; m < Mg; ++m) std::fill(yg + m * P, yg + (m + 1) * P, bias[grp * Mg + m]);
        }
        sgemm(*uk_, Mg, P, K, {w + grp * Mg * K, K, false}, {col.data(), P, false}, yg, P, bias != nullptr);
      }
    }
  }

  // A dense 2-D conv in FP32 (or on the BF16 GEMM) with FP32 tensors, `res`
  // the residual or nullptr: the output-transposed product, the NHWC / tap
  // conv or the im2col SGEMM, and the activation their epilogue left.
  void dense(const float* x, const float* w, const float* bias, const float* res, float* y,
             const ConvGeom& g) const {
    if (bf16_.empty()) {  // the SGEMM / tap conv epilogue adds the residual and clips
      if (transposed(g)) {
        transposed_.run(x, w, bias, res, y, g);
      } else if (!gemm_path(x, w, bias, res, y, g)) {
        epilogue(nullptr, y, g);
      }
    } else if (!gemm_path(x, w, bias, res, y, g)) {  // the BF16 tile epilogue adds the bias and the residual and clips
      epilogue(nullptr, y, g);
    }
  }

  // `res` (the residual input, or nullptr) goes into the SGEMM / tap conv /
  // BF16 tile epilogue.
  // Returns whether the activation was applied: Relu / Clip by every
  // FP32 path's epilogue, Swish / HardSwish by the im2col SGEMM's (SgemmEpilogue::unary,
  // on each task's tile while it is in cache), a Chain likewise (SgemmEpilogue::post);
  // on the BF16 GEMM of one group any activation, over each image's rows after its product;
  // otherwise the caller runs it over y.
  bool gemm_path(const float* x, const float* w, const float* bias, const float* res, float* y,
                 const ConvGeom& g) const {
    const int64_t Cg = g.C / g.G, Mg = g.M / g.G, K = Cg * g.kh * g.kw, P = g.oh * g.ow;
    const bool pointwise = is_pointwise(g);
    if (nhwc_ && kernels::nhwc_conv_declines(tap_shape(g), uk_->mr).empty()) {
      const kernels::TapConvShape ts = tap_shape(g);
      kernels::SgemmEpilogue ep = fused_;
      ep.row_bias = bias;
      ep.ldr = P;
      const int64_t image = g.C * g.H * g.W;
      for (int64_t n = 0; n < g.N; ++n) {
        ep.residual = res ? res + n * g.M * P : nullptr;
        // the next image, which its padded copy reads next, fetched while this one's tiles run
        const bool next = n + 1 < g.N;
        ep.ahead = next ? x + (n + 1) * image : nullptr;
        ep.ahead_bytes = next ? image * static_cast<int64_t>(sizeof(float)) : 0;
        nhwc_->run(ts, x + n * image, ep, y + n * g.M * P, true);
      }
      return fused_.clip;
    }
    if (taps_) {
      const kernels::TapConvShape ts = tap_shape(g);
      if (kernels::tap_conv_declines(ts).empty()) {
        kernels::SgemmEpilogue ep = fused_;
        ep.row_bias = bias;
        ep.ldr = P;
        for (int64_t n = 0; n < g.N; ++n) {
          ep.residual = res ? res + n * g.M * P : nullptr;
          taps_->run(ts, x + n * g.C * g.H * g.W, ep, y + n * g.M * P, true);
        }
        return fused_.clip;
      }
    }
    auto one = [&](int64_t n, int64_t grp, bool parallel) {
      const float* xg = x + (n * g.C + grp * Cg) * g.H * g.W;
      float* yg = y + (n * g.M + grp * Mg) * P;
      GemmOperand b{xg, P, false};
      b.cold = pointwise && g.N * g.C * g.H * g.W * static_cast<int64_t>(sizeof(float)) > kColdInputBytes;
      Im2colView view{xg, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, g.oh, g.ow};
      if (!pointwise) b.im2col = &view;  // packed from the image, panel by panel
      kernels::SgemmEpilogue ep = fused_;  // bias, residual and activation on each tile while in cache
      ep.row_bias = bias ? bias + grp * Mg : nullptr;
      ep.residual = res ? res + (n * g.M + grp * Mg) * P : nullptr;
      ep.ldr = P;
      if (g.G == 1 && n + 1 < g.N) {  // the next image's product reads it next
        ep.ahead = x + (n + 1) * g.C * g.H * g.W;
        ep.ahead_bytes = g.C * g.H * g.W * static_cast<int64_t>(sizeof(float));
      }
      if (!bf16_.empty()) {
        bf16_.packed[grp]->run(P, b, yg, P, false, parallel, &ep);
        // Another activation (a Chain, Swish) over this image's rows right after its product, while they
        // are in L2 (the BF16 GEMM's tiles take Relu / Clip only), not over the whole batch afterwards.
        if (parallel && !fused_.clip) epilogue(nullptr, yg, image_rows(g, Mg));
      } else {
        GemmOperand a{w + grp * Mg * K, K, false};
        if (!packed_.empty()) a.packed = &packed_[grp];
        if (act_.unary) {  // Swish, HardSwish
          ep.unary = act_.unary;
          ep.unary_op = act_.unary_op;
        }
        if (act_.chain) {  // a Chain (float_chain.h), on each block of rows while in cache
          ep.post = [](const void* ctx, float* y, int64_t n) { static_cast<const FusedActivation*>(ctx)->apply(y, n); };
          ep.post_ctx = &act_;
        }
        sgemm(*uk_, Mg, P, K, a, b, yg, P, false, parallel, &ep);
      }
    };
    if (g.G == 1) {
      for (int64_t n = 0; n < g.N; ++n) one(n, 0, true);
    } else {
      parallel_for(g.N * g.G, 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) one(t / g.G, t % g.G, false);
      });
    }
    return fused_.clip || (bf16_.empty() && (act_.unary || act_.chain)) || (!bf16_.empty() && g.G == 1);
  }

  // One image's `rows` output rows of g, as epilogue() takes them.
  static ConvGeom image_rows(ConvGeom g, int64_t rows) {
    g.N = 1;
    g.M = rows;
    return g;
  }

  // Whether the transposed product (transposed_) runs `g`: one group,
  // constant weights, and it computes at least 6% fewer tile columns than
  // the tap conv or the im2col SGEMM, whose columns are the output pixels
  // (ResNet's 7x7 stage: 49 pixels padded to 64, or 61 tap-grid columns; its
  // output channels are multiples of 32). The 6% pays for the transpose
  // only where the product is deep enough: the FMA steps saved per output,
  // the saved fraction times K, at least kTransposedMinSavedSteps.
  // Kernels larger than 1x1 only up to 64 pixels: their im2col panels, 8
  // pixels wide, are packed per tile and cost more than the padding saves
  // on larger planes (measured: 3x3 128 @28 2.2x slower, 3x3 512 @7 faster).
  // The NHWC conv, where it takes the geometry, runs first; where it declines
  // (output rows narrower than its tile: Silero VAD's 1x3 convs over 4
  // frames) the choice is made here as for any conv with constant weights,
  // instead of an im2col SGEMM packing the weights on every call.
  bool transposed(const ConvGeom& g) const {
    const bool constant_weights = !packed_.empty() || taps_ || nhwc_;
    if (!bf16_.empty() || g.G != 1 || !constant_weights) return false;
    if (nhwc_ && kernels::nhwc_conv_declines(tap_shape(g), uk_->mr).empty()) return false;
    const int64_t nr = uk_->nr, P = g.oh * g.ow;
    if (g.kh * g.kw > 1 && P > 64) return false;
    auto padded = [nr](int64_t n) { return (n + nr - 1) / nr * nr; };
    int64_t cols = P;
    if (taps_ && kernels::tap_conv_declines(tap_shape(g)).empty()) cols = kernels::tap_conv_columns(tap_shape(g));
    const double tiles = static_cast<double>(padded(g.M)) * P, other = static_cast<double>(g.M) * padded(cols);
    const double saved = 1.0 - tiles / other, K = static_cast<double>(g.C * g.kh * g.kw);
    return tiles * 1.06 < other && saved * K >= kTransposedMinSavedSteps;
  }

  // The residual `r` (or nullptr) and then the activation on the output.
  void epilogue(const float* r, float* y, const ConvGeom& g) const {
    if (!r && act_.kind == FusedActivation::Kind::kNone) return;
    const int64_t P = g.od * g.oh * g.ow;
    parallel_for(g.N * g.M, std::max<int64_t>(1, 4096 / P), [&](int64_t begin, int64_t end) {
      float* p = y + begin * P;
      int64_t n = (end - begin) * P;
      if (r) {
        const float* q = r + begin * P;
        for (int64_t i = 0; i < n; ++i) p[i] = p[i] + q[i];
      }
      act_.apply(p, n);
    });
  }

  ConvGeom geometry(const std::vector<const Value*>& in) const {
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

  WindowAttrs w_;
  int64_t group_;
  size_t rank_;
  FusedActivation act_;
  int64_t residual_;
  std::string prefix_;
  bool column_;  // runs as its row twin (is_column_conv)
  bool nhwc_io_;  // X, the residual and Y are channels-last (engine/f32_layout.h)
  const kernels::SgemmKernel* uk_ = &kernels::choose<kernels::SgemmKernel>();  // once per layer
  const kernels::DwConvF32Kernel* dw_ = &kernels::choose<kernels::DwConvF32Kernel>();
  std::vector<kernels::PackedA> packed_;  // per group, when the weights are constant
  // The transposed product's transpose (and its packed pixels) cost about
  // as much per output as this many FMA steps: at 14 x 14 (196 pixels, 208
  // as tile columns: 5.8% saved) the transposed product measured slower
  // than the pointwise SGEMM at K = 64-96 (MobileNetV2's 64->384 and
  // 96->576 0.85-0.95x, Lite0's 80->480 and 112->672 0.88-1.02x the time
  // untransposed) and faster or even from K = 256 (ResNet-50's 256->1024
  // +res 1.05x, 1024->256 1.08x slower untransposed; 384->64 and 576->96
  // 1.00 and 0.98); at 7 x 7 (23% saved) from K = 160 (MobileNetV2's
  // 160->960: 1.18x slower untransposed). RESULTS.md section 75. The same
  // FMAs per output in the same order either way: the same bits.
  static constexpr double kTransposedMinSavedSteps = 10.0;
  // A pointwise conv's input past this many bytes (the whole batch's) was
  // written long enough ago to have left the caches (ResNet-50 at batch 8:
  // 12.8-25.7 MB at 28 x 28 and 56 x 56; at batch 1 at most 3.2 MB, in L3):
  // the SGEMM then fetches its B rows ahead (GemmOperand::cold).
  static constexpr int64_t kColdInputBytes = 8 << 20;
  std::unique_ptr<kernels::NhwcConv> nhwc_;  // the NHWC conv (kernels/conv_nhwc_f32.h), or null
  std::unique_ptr<kernels::TapConv> taps_;  // the same weights for the tap conv (kernels/conv_taps_f32.h), or null
  kernels::SgemmEpilogue fused_ = fused_clip(act_);  // the SGEMM's clip, when it can take the activation
  Bf16Gemm bf16_;  // empty unless the node runs in BF16 (and is not depthwise)
  std::unique_ptr<Bf16Depthwise> dw16_;  // a depthwise conv in BF16, or null
  bool y16_ = false;  // the output is a bfloat16 tensor (bf16_layers.h, mark_bf16_tensors)
  TransposedConvF32 transposed_{*uk_, act_};  // the output-transposed product, when transposed() says
  std::unique_ptr<ChannelsLastConvF32> channels_last_;  // when nhwc_io_
  std::unique_ptr<QuantizeRule> quant_;  // int8rt_output_scale: the output is int8 NHWC, or null
  // A group of images' float output in run_int8_out's scratch: within L2
  // (1 MiB on Zen 4 / 5, 1.25-2 MiB on recent Intel cores) beside the
  // conv's own working set.
  static constexpr int64_t kScratchBytes = 512 << 10;
};

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
  return std::make_unique<ConvLayer>(net, node, std::move(w), group, rank);
}

INT8RT_REGISTER_LAYER("Conv", make_conv);

}  // namespace
}  // namespace engine
}  // namespace int8rt
