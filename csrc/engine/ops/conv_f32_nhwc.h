// The float32 Conv on channels-last tensors (engine/ops/conv_f32.cc runs it
// for a node with int8rt_layout="nhwc", engine/f32_layout.h): x [N][H][W][C],
// the residual and y [N][oh][ow][M], the weights OIHW as always.
//
// A 1x1 conv without padding is one SGEMM y [P][M] = x [P][C] W^T: x read in
// place as the row-major A (packed per K slice where its rows lie a multiple
// of 4 KiB apart), W^T packed once as B, the bias as column bias, the
// residual and Relu / Clip (or Swish / HardSwish) in the tile epilogue. The
// batch's pixels are one product on planes over kSmallImage pixels; smaller
// planes (14 x 14, 7 x 7) run image by image in one row task, column tiles
// of kPointwiseCols channels, the image's pixels packed once for all of them
// where there are several, the next image fetched ahead (as the NCHW layer's
// output-transposed product, conv_f32_transposed.h). A strided 1x1 conv
// subsamples each image's pixel rows just before its product. A larger
// kernel runs the NHWC conv (kernels/conv_nhwc_f32.h) on the image as it is:
// no transpose in or out. Any other geometry (the NHWC conv declining a
// run's shape) converts to NCHW, runs the NCHW layer and converts back.
// Every output gets the NCHW layer's operations in its order: the same bits.
#pragma once

#include <cstdint>

#include "core/function_ref.h"
#include "engine/ops/conv_f32_geom.h"
#include "engine/ops/op_util.h"
#include "int8rt/network.h"
#include "kernels/conv_nhwc_f32.h"
#include "kernels/sgemm_f32.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace engine {

// One per layer; run() is const and thread-safe (per-thread scratch).
class ChannelsLastConvF32 {
 public:
  // `uk`: the layer's SGEMM microkernel; `act`: its fused activation; the
  // node's constant 1x1 weights (if it has them) are packed here as W^T.
  ChannelsLastConvF32(const kernels::SgemmKernel& uk, const FusedActivation& act, const Network& net,
                      const Node& node);

  // The NCHW layer's run of (x, residual, y) on NCHW copies, for the
  // geometries taken no other way (referenced, not copied: no allocation per run).
  using NchwRun = FunctionRef<void(const float* x, const float* res, float* y)>;

  // y = act(conv(x) + bias (+ res)) for the N images of `g` (one group);
  // `nhwc`: the layer's NHWC conv when it takes `ts`, else nullptr.
  void run(const float* x, const float* bias, const float* res, float* y, const ConvGeom& g,
           const kernels::NhwcConv* nhwc, const kernels::TapConvShape& ts, const NchwRun& nchw) const;

 private:
  void pointwise(const float* x, const float* bias, const float* res, float* y, int64_t rows, const float* next,
                 const ConvGeom& g) const;
  static const float* subsample(const float* x, const ConvGeom& g);
  void transpose(int64_t a, int64_t b, const float* src, float* dst) const;  // dst [a][b] = src [b][a]
  static kernels::SgemmKernel tiling(const kernels::SgemmKernel& uk, const Network& net, const Node& node);

  static constexpr int64_t kSmallImage = 256;
  static constexpr int64_t kPointwiseCols = 256;
  // Packed pixel panels ending in a tile of fewer rows (7 x 7: 49 = 4 x 12
  // + 1) are left to the driver, which shares in-place rows out evenly
  // (conv_f32_transposed.h's kMinTailRows, measured there).
  static constexpr int64_t kMinTailRows = 4;

  FusedActivation act_;
  kernels::SgemmEpilogue clip_;  // Relu / Clip as the SGEMM's clip, when it is one
  const kernels::SgemmKernel pw_;  // the 1x1 product's tiling (tiling())
  kernels::PackedB wt_;            // W^T packed for pw_; empty unless 1x1 with constant weights
  const kernels::TransposeX32Kernel* transpose_ = &kernels::choose<kernels::TransposeX32Kernel>();
};

}  // namespace engine
}  // namespace int8rt
