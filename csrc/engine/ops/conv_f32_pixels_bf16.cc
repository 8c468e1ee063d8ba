// The float32 Conv layer's BF16 1x1 conv over one-pixel images (class in
// engine/ops/conv_f32_layer.h): a squeeze-and-excitation block's FC convs
// (MobileNetV3's 960 -> 240 -> 960, EfficientNet's), [N, C, 1, 1] in and
// [N, M, 1, 1] out. Run per image on the left-weights product, each image
// was a one-column GEMM that read all of W (460 KB at 960 x 240) for one
// pixel: MobileNetV3 b8's 7 x 7 stage 0.31 ms per FC conv against
// OpenVINO's 0.07 (RESULTS.md section 262). Here the batch's pixels are the
// rows of one GEMM, y[N][M] = x[N][C] * W^T, W^T packed once as the BF16
// GEMM's right-hand weights (kernels/gemm_bf16.h), so W is read once per
// row tile of 8 images.
//
// Same bits as the per-image product (kernels/abi/gemm_bf16.h): each output
// is one chain over k from zero, pair by pair in ascending k, with the same
// BF16 operands (x by bf16::from_f32, or the bfloat16 tensor's bits; W by
// the same conversion at pack) in the products (a * b = b * a, exact), then
// the bias as one FP32 add (here the epilogue's one-row residual, ldr 0,
// there its row bias), then the clip; a bfloat16 output rounded once.
// Checked in tests/test_se23_pixels_bf16.py (== the per-image layer, bytes).
#include <algorithm>

#include "engine/ops/conv_f32_layer.h"

namespace int8rt {
namespace engine {

bool ConvF32Layer::one_pixel_images(const Network& net, const Node& node, const WindowAttrs& w, int64_t group,
                                    size_t rank, int64_t residual) {
  const Shape& xs = net.tensor(node.inputs[0]).shape;
  const bool no_pads = std::all_of(w.pads.begin(), w.pads.end(), [](int64_t p) { return p == 0; });
  return rank == 2 && group == 1 && residual < 0 && xs.size() == 4 && xs[2] == 1 && xs[3] == 1 &&
         w.kernel == std::vector<int64_t>{1, 1} && no_pads &&
         (w.auto_pad == WindowAttrs::AutoPad::kNotSet || w.auto_pad == WindowAttrs::AutoPad::kValid);
}

void ConvF32Layer::pixels_bf16(const void* x, bool x16, const float* bias, void* y, const ConvGeom& g) const {
  if (g.H != 1 || g.W != 1 || g.oh != 1 || g.ow != 1) {
    throw InvalidArgument(prefix_ + "input " + std::to_string(g.H) + " x " + std::to_string(g.W) +
                          ": the layer was built for the declared 1 x 1 images");
  }
  kernels::SgemmEpilogue ep = fused_;  // Relu / Clip
  ep.residual = bias;                  // one row added to every image's row: the bias, one FP32 add
  ep.ldr = 0;
  const kernels::GemmOperand a{x16 ? nullptr : static_cast<const float*>(x), g.C, false};
  pixels16_->run_bf16_io(g.N, a, x16 ? static_cast<const uint16_t*>(x) : nullptr,
                         y16_ ? nullptr : static_cast<float*>(y), y16_ ? static_cast<uint16_t*>(y) : nullptr, g.M,
                         true, &ep);
  if (!fused_.clip && !y16_) epilogue(nullptr, static_cast<float*>(y), g);
}

}  // namespace engine
}  // namespace int8rt
