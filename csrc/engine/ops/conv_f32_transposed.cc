// The float32 Conv's output-transposed product (conv_f32_transposed.h).
//
// Per image: A is the image itself, transposed (a pointwise conv: packed
// once for all chunks when each has kPackPixelsMinCols output channels or
// more, else per K slice and chunk, or read in place under that or when
// the packed panels would end in a tile of under kMinTailRows rows), else its
// im2col, packed per tile; B is W^T, packed once; the
// bias is a column bias of the first K slice. The product goes into the
// thread's scratch [P][256], 256 output channels at a time, and each chunk
// is then transposed into y, with the residual and the activation applied
// to it while it is in cache (without a residual, Relu / Clip are the tile
// epilogue's, before the transpose: a pass over the chunk saved; a separate
// pass over y and res measured slower on ResNet-50's 14x14 stage). With a
// residual, the add and a Relu / Clip happen in the transpose's stores
// (TransposeX32Kernel::tile_add, an ISA-dispatched kernel: this file is
// baseline code), other activations in act_.apply after it: one pass over
// y instead of two (RESULTS.md section 92). While each chunk's product
// runs, the driver fetches what is read next (SgemmEpilogue::ahead): the
// chunk's residual, else a share of the next image's pixels, which at
// batch 8 were written a layer earlier and have left L2 (RESULTS.md
// section 108).
#include "engine/ops/conv_f32_transposed.h"

#include <algorithm>

#include "kernels/aligned_allocator.h"

namespace int8rt {
namespace engine {

kernels::SgemmKernel TransposedConvF32::widened(const kernels::SgemmKernel& uk) {
  kernels::SgemmKernel wide = uk;
  wide.mc = std::max(uk.mc, (kImageRows + uk.mr - 1) / uk.mr * uk.mr);
  return wide;
}

TransposedConvF32::TransposedConvF32(const kernels::SgemmKernel& uk, const FusedActivation& act)
    : uk_(widened(uk)), act_(act) {
  clip_.clip = act_.as_clip(&clip_.lo, &clip_.hi);
}

void TransposedConvF32::run(const float* x, const float* w, const float* bias, const float* res, float* y,
                            const ConvGeom& g) const {
  const int64_t K = g.C * g.kh * g.kw, P = g.oh * g.ow;
  std::call_once(wt_once_, [&] {
    for (int64_t m0 = 0; m0 < g.M; m0 += kCols) {
      wt_.push_back(kernels::pack_b_once(uk_, K, std::min(kCols, g.M - m0), {w + m0 * K, K, true}));
    }
  });
  const bool pointwise = is_pointwise(g);
  const int64_t cols = std::min(kCols, g.M);
  thread_local kernels::AlignedFloats scratch;  // 64-byte aligned (aligned_allocator.h)
  if (scratch.size() < static_cast<size_t>(P * cols)) scratch.resize(static_cast<size_t>(P * cols));
  // Every chunk packs the pixels (see kPackPixelsMinCols): pack them once.
  // Packed panels of pixels end in a tile of P % mr rows; under
  // kMinTailRows (49 pixels in 12-row tiles: 12, 12, 12, 12, 1) read them
  // in place, where the driver shares the rows out evenly (10, 10, 10, 10, 9).
  const bool short_tail = P % uk_.mr != 0 && P % uk_.mr < kMinTailRows;
  const bool pack_once = pointwise && !short_tail && wt_.size() > 1 &&
                         g.M - (g.M - 1) / kCols * kCols >= kPackPixelsMinCols;
  thread_local kernels::PackedA pixels;
  for (int64_t n = 0; n < g.N; ++n) {
    const float* xn = x + n * g.C * g.H * g.W;
    kernels::Im2colView view{xn, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, g.oh, g.ow};
    kernels::GemmOperand a{xn, P, /*trans=*/true};
    if (!pointwise) a.im2col = &view;
    if (pack_once) kernels::pack_a_into(uk_, P, K, a, &pixels);
    for (size_t chunk = 0; chunk < wt_.size(); ++chunk) {
      const int64_t m0 = static_cast<int64_t>(chunk) * kCols, mc = std::min(kCols, g.M - m0);
      // The pixels of channel k broadcast from the image's row k (not
      // packed) only for chunks of few output channels; see kPackPixelsMinCols.
      a.in_place = pointwise && (short_tail || mc < kPackPixelsMinCols);
      if (pack_once) a.packed = &pixels;
      kernels::SgemmEpilogue ep;
      ep.col_bias = bias ? bias + m0 : nullptr;
      if (!res) {  // Relu / Clip commute with the transpose: applied in the tile epilogue
        ep.clip = clip_.clip;
        ep.lo = clip_.lo;
        ep.hi = clip_.hi;
      }
      if (res) {  // read by the transpose's stores right after this product
        ep.ahead = res + (n * g.M + m0) * P;
        ep.ahead_bytes = mc * P * static_cast<int64_t>(sizeof(float));
      } else if (n + 1 < g.N) {  // the next image's pixels, a share per chunk
        const int64_t image = g.C * g.H * g.W * static_cast<int64_t>(sizeof(float)), parts = wt_.size();
        const int64_t first = image * chunk / parts;
        ep.ahead = reinterpret_cast<const char*>(xn + g.C * g.H * g.W) + first;
        ep.ahead_bytes = image * (chunk + 1) / parts - first;
      }
      kernels::GemmOperand b;
      b.packed_b = &wt_[chunk];
      kernels::sgemm(uk_, P, mc, K, a, b, scratch.data(), mc, false, true, &ep);
      float* yc = y + (n * g.M + m0) * P;
      if (res) {  // the residual add and a Relu / Clip in the transpose's stores: one pass over y
        const float bounds[2] = {clip_.lo, clip_.hi};
        transpose_->tile_add(mc, P, scratch.data(), mc, res + (n * g.M + m0) * P, yc, P,
                             clip_.clip ? bounds : nullptr);
      } else {
        transpose_->tile(mc, P, reinterpret_cast<const uint32_t*>(scratch.data()), mc,
                         reinterpret_cast<uint32_t*>(yc), P);
      }
      if (!clip_.clip) act_.apply(yc, mc * P);
    }
  }
}

}  // namespace engine
}  // namespace int8rt
