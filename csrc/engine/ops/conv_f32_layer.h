// The float32 Conv layer's class (engine/ops/conv_f32.cc says which path runs
// which convolution): its state (the packed weights, the chosen kernels,
// the fused activation) and its methods, defined by concept in three files:
// conv_f32.cc the layer (construction, shapes, the choice of path per run),
// conv_f32_dense.cc the dense products (NHWC / tap conv, output-transposed,
// im2col SGEMM, BF16 GEMM, 3-D) and their epilogue, conv_f32_depthwise.cc
// the depthwise kernels (FP32 and BF16), conv_f32_pixels_bf16.cc the BF16
// 1x1 conv over one-pixel images as one GEMM over the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/bf16_layers.h"
#include "engine/layer.h"
#include "engine/ops/bf16_depthwise.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/conv_f32_geom.h"
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

class ConvF32Layer : public Layer {
 public:
  ConvF32Layer(const Network& net, const Node& node, WindowAttrs w, int64_t group, size_t rank);

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override;

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override;

  std::string describe() const override;

 private:
  // conv_f32.cc: the layer.

  // Images [n, n + g.N) of the inputs into y (float32, or bfloat16 where
  // y16_), laid out as the output tensor from its image n on.
  void run_images(const std::vector<const Value*>& in, const ConvGeom& g, int64_t n, void* yv) const;

  // The int8 output: images in groups whose float output (kScratchBytes at
  // most, one image at least) is computed into this thread's scratch and
  // quantized from there while in L2, NCHW float -> NHWC int8.
  void run_int8_out(const std::vector<const Value*>& in, const ConvGeom& g, int8_t* y) const;

  // A kh x 1 kernel over images one pixel wide (magika's 5x1 conv over
  // [N, 256, 512, 1]: a 1-D conv spelled in 2-D) is the 1 x kh kernel over
  // one row of H pixels: the same bytes in the same order, for x, W and y.
  // Run that way, the row-wise kernels (NHWC, tap conv) take it, where
  // output rows one pixel wide fell to an im2col SGEMM (13x slower).
  // Decided when the layer is made (the weights are packed for it), from
  // the declared input width; a run of another width is refused.
  static bool is_column_conv(const Network& net, const Node& node, const WindowAttrs& w, size_t rank);

  // A column conv's geometry as its row twin's (refuses a width other than 1).
  ConvGeom as_row(ConvGeom g) const;

  // One run's geometry from its inputs' shapes, each checked against the
  // weights, the bias and the window attributes.
  ConvGeom geometry(const std::vector<const Value*>& in) const;

  // conv_f32_dense.cc: the dense products.

  // Relu and Clip run in the SGEMM's tile epilogue (after the residual,
  // which the epilogue adds first) or in the depthwise kernel.
  static kernels::SgemmEpilogue fused_clip(const FusedActivation& act);

  // Constant weights of a dense (not depthwise) convolution, each group's
  // [M/G, C/G*kh*kw] packed once into the SGEMM's A panels (a column conv's
  // as its row twin's: [M/G, C/G*1*kh], the same floats).
  void pack_weights(const Tensor& wt);

  // `g` as the NHWC / tap conv kernels' shape.
  kernels::TapConvShape tap_shape(const ConvGeom& g) const;

  // A dense FP32 conv on NCHW tensors.
  void run_nchw(const float* x, const float* w, const float* bias, const float* res, float* y,
                const ConvGeom& g) const;

  // A dense 2-D conv in FP32 (or on the BF16 GEMM) with FP32 tensors, `res`
  // the residual or nullptr: the output-transposed product, the NHWC / tap
  // conv or the im2col SGEMM, and the activation their epilogue left.
  void dense(const float* x, const float* w, const float* bias, const float* res, float* y,
             const ConvGeom& g) const;

  // `res` (the residual input, or nullptr) goes into the SGEMM / tap conv /
  // BF16 tile epilogue.
  // Returns whether the activation was applied: Relu / Clip by every
  // FP32 path's epilogue, Swish / HardSwish by the im2col SGEMM's (SgemmEpilogue::unary,
  // on each task's tile while it is in cache), a Chain likewise (SgemmEpilogue::post);
  // on the BF16 GEMM of one group any activation, over each image's rows after its product;
  // otherwise the caller runs it over y.
  bool gemm_path(const float* x, const float* w, const float* bias, const float* res, float* y,
                 const ConvGeom& g) const;

  // A 3-D conv: col materialised per image and group (im2col_3d), one SGEMM each.
  void gemm_3d(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) const;

  // A dense BF16 conv with a bfloat16 input (x16) and / or output (y16_):
  // per image and group, the BF16 GEMM's run_bf16_io over the image as it
  // lies (strided 1x1 convs too: the direct path's stride phases), the
  // tile epilogue adding the bias and residual (FP32 res, or bfloat16 r16)
  // and clipping.
  void gemm_bf16_io(const void* x, bool x16, const float* bias, const float* res, const uint16_t* r16, void* y,
                    const ConvGeom& g) const;

  // One image's `rows` output rows of g, as epilogue() takes them.
  static ConvGeom image_rows(ConvGeom g, int64_t rows);

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
  bool transposed(const ConvGeom& g) const;

  // The residual `r` (or nullptr) and then the activation on the output.
  void epilogue(const float* r, float* y, const ConvGeom& g) const;

  // conv_f32_pixels_bf16.cc: a BF16 1x1 conv over one-pixel images.

  // A BF16 1x1 conv of one group, no padding and no residual over images
  // declared 1 x 1 ([N, C, 1, 1]: a squeeze-and-excitation block's FC
  // convs): its weights are packed once as the right-hand operand
  // (pixels16_) and a run is one GEMM over the batch's pixels.
  static bool one_pixel_images(const Network& net, const Node& node, const WindowAttrs& w, int64_t group,
                               size_t rank, int64_t residual);

  // y[N][M] = x[N][C] * W^T on pixels16_, x and y float32 or bfloat16 as
  // the tensors are, the bias and Relu / Clip in the tile epilogue, another
  // activation over y afterwards. The per-image product's bits (refuses
  // images other than 1 x 1: the layer was packed for them).
  void pixels_bf16(const void* x, bool x16, const float* bias, void* y, const ConvGeom& g) const;

  // conv_f32_depthwise.cc: the depthwise kernels.

  // Output planes in runs of about 64 KiB per kernel call (the kernel
  // fetches a run's next plane ahead of it), in whole groups of 16 (else 8)
  // channels where C allows (the AVX-512 and AVX2 tiers run such groups
  // with the channels as vector lanes); the kernel adds
  // the residual and applies Relu / Clip (fused_) in registers, any other
  // activation follows on the run while it is in cache.
  void depthwise(const float* x, const float* w, const float* bias, const float* res, float* y,
                 const ConvGeom& g) const;

  // The BF16 depthwise kernel: bias, residual and Relu / Clip in its
  // epilogue; another activation on an FP32 output afterwards.
  void depthwise_bf16(const void* x, bool x_bf16, const float* bias, const float* res, void* y,
                      const ConvGeom& g) const;

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
  std::unique_ptr<kernels::PackedBf16Gemm> pixels16_;  // one_pixel_images: W^T packed as right weights, or null
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

}  // namespace engine
}  // namespace int8rt
