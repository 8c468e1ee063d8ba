// The float32 Conv's output-transposed product (engine/ops/conv_f32.cc
// chooses it: one group, constant weights, and output planes that would pad
// the SGEMM's column tile badly, ResNet's and MobileNet's 7x7 and 14x14
// stages): y^T = op(x)^T W^T per image, the output pixels as the SGEMM's
// rows and the output channels as its vector columns, then a transpose
// into NCHW with the residual and the activation applied while each chunk
// is in cache (the residual add and a Relu / Clip in the transpose's own
// stores: kernels/transpose_x32.h, tile_add).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "engine/ops/conv_f32_geom.h"
#include "engine/ops/op_util.h"
#include "kernels/sgemm_f32.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace engine {

// One per layer; run() is safe to call from several threads at once (the
// packed W^T is made once, on the first run; the scratch is per thread).
class TransposedConvF32 {
 public:
  // `uk`: the layer's SGEMM microkernel; `act`: its fused activation.
  TransposedConvF32(const kernels::SgemmKernel& uk, const FusedActivation& act);

  // y = act(conv(x, w) + bias (+ res)) for the N images of `g` (one group),
  // `w` the layer's [M][C*kh*kw] weights (the same on every call), `bias`
  // [M] or nullptr, `res` y's shape or nullptr. Every output gets the same
  // FMAs in the same k order as on the im2col SGEMM (the product's
  // operands swapped), so the same bits, and the same residual add and
  // activation as a separate pass.
  void run(const float* x, const float* w, const float* bias, const float* res, float* y,
           const ConvGeom& g) const;

 private:
  // The layer's microkernel with the row tile widened to one 14 x 14
  // image's pixels (kImageRows, rounded up to mr, or the kernel's own mc
  // where larger): ResNet-50's 14 x 14 stage ran as two row tasks of
  // 108 + 88 pixels, each streaming all of the layer's packed W^T (1 MB at
  // 1024 x 256) through the cache, so the weights came in twice per image.
  // One task of 204 rows keeps its A block (204 x kc floats, 160 KB at
  // kc = 192) in L2 and reads W^T once. Tiling only: the same bits.
  static kernels::SgemmKernel widened(const kernels::SgemmKernel& uk);
  static constexpr int64_t kImageRows = 196;
  const kernels::SgemmKernel uk_;
  FusedActivation act_;
  kernels::SgemmEpilogue clip_;  // Relu / Clip as the SGEMM's clip, when it is one
  const kernels::TransposeX32Kernel* transpose_ = &kernels::choose<kernels::TransposeX32Kernel>();
  mutable std::once_flag wt_once_;
  // W^T, packed on the first run, kCols output channels per chunk: each
  // chunk's product [P][256] is transposed (and its residual and activation
  // applied) while it is in L2, where one [P][M] product (ResNet's 1024 and
  // 2048 channels: 0.8 MB) was not.
  static constexpr int64_t kCols = 256;
  // A pointwise conv's pixels (op(A) = x^T) are packed into the SGEMM's
  // [kc][6] panels, once per K slice and chunk, when the chunk has at least
  // this many output channels (4 B panels); below it they are read in
  // place. Read in place, each B panel's walk down the row tiles reads the
  // slice's pixels 196 bytes (49 pixels) or 784 bytes (196) apart, kc rows
  // of them for every panel; packed, a row tile's panel is one contiguous
  // run (one 24-byte copy per k). Measured (RESULTS.md section 71, 11-21
  // alternated rounds, packed / in place): ResNet-50's 2048->512 @7 0.82x,
  // 512->2048 @7 + the residual 0.78x, 1024->256 @14 0.94-0.95x;
  // MobileNetV2's 960->160 @7 0.79x, 320->1280 @7 0.78x, 576->96 @14
  // 0.79-0.96x, 384->64 @14 0.72-0.96x. Under 64 channels not measured: a
  // chunk of one or two panels reads each pixel once or twice, which the
  // copy cannot beat by much. The same values in the same FMAs in the same
  // order: the same bits either way.
  // Where every chunk packs them, the pixels are packed once per image
  // (kernels::pack_a_into, a per-thread buffer) and read by all chunks:
  // 256 -> 1024 packed its image four times, once per 256-channel chunk.
  static constexpr int64_t kPackPixelsMinCols = 64;
  // Fewer rows than this in the last packed panel of pixels (P % mr: 7 x 7
  // planes' 49 pixels leave 1 in 12-row and 6-row tiles) and the pixels are
  // read in place instead, whose row tiles the driver evens out: a 1-row
  // tile runs 2 FMA chains, bound by their latency at a third of a full
  // tile's time for a twelfth of its work, and 4 rows (8 chains) are what
  // the FMA rate needs. Measured on AVX-512 (RESULTS.md section 102,
  // in place / packed): Lite0's 1152->320 @7 0.965-0.98x, 1152->192 @7 0.94x,
  // MobileNetV2's 960->160 @7 0.92x, ResNet-50's 2048->512 @7 0.97x,
  // 512->2048 @7 0.99x, 160->960 @7 1.00x. The same bits either way.
  static constexpr int64_t kMinTailRows = 4;
  mutable std::vector<kernels::PackedB> wt_;
};

}  // namespace engine
}  // namespace int8rt
