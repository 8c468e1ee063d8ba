// The float32 Conv on channels-last tensors (conv_f32_nhwc.h).
#include "engine/ops/conv_f32_nhwc.h"

#include <algorithm>
#include <vector>

#include "kernels/aligned_allocator.h"

namespace int8rt {
namespace engine {

// The SGEMM tiling of the 1x1 product: the layer's microkernel as it is for
// planes over kSmallImage pixels; for smaller ones the row tile widened to
// a whole image (one row task: W^T read once per image) and column tiles of
// kPointwiseCols channels (the C block, 264 x 256 floats, in L2 between K
// slices; on every plane it measured 1.09-1.16x slower at 56 x 56,
// RESULTS.md section 113). Decided from the declared plane; tiling only.
kernels::SgemmKernel ChannelsLastConvF32::tiling(const kernels::SgemmKernel& uk, const Network& net,
                                                 const Node& node) {
  const Shape& ys = net.tensor(node.outputs[0]).shape;  // [N, oh, ow, M]: channels-last
  kernels::SgemmKernel pw = uk;
  if (ys.size() == 4 && ys[1] > 0 && ys[2] > 0 && ys[1] * ys[2] <= kSmallImage) {
    pw.mc = std::max(uk.mc, (kSmallImage + uk.mr - 1) / uk.mr * uk.mr);
    pw.nc = std::max<int64_t>(uk.nr, std::min(uk.nc, kPointwiseCols / uk.nr * uk.nr));
  }
  return pw;
}

ChannelsLastConvF32::ChannelsLastConvF32(const kernels::SgemmKernel& uk, const FusedActivation& act,
                                         const Network& net, const Node& node)
    : act_(act), pw_(tiling(uk, net, node)) {
  clip_.clip = act_.as_clip(&clip_.lo, &clip_.hi);
  const Tensor& wt = net.tensor(node.inputs[1]);
  if (wt.is_constant && wt.dtype == DataType::kFloat32 && wt.shape.size() == 4 && wt.shape[2] == 1 &&
      wt.shape[3] == 1) {
    wt_ = kernels::pack_b_once(pw_, wt.shape[1], wt.shape[0], {wt.f32.data(), wt.shape[1], true});
  }
}

void ChannelsLastConvF32::run(const float* x, const float* bias, const float* res, float* y, const ConvGeom& g,
                              const kernels::NhwcConv* nhwc, const kernels::TapConvShape& ts,
                              const NchwRun& nchw) const {
  const int64_t P = g.oh * g.ow, image = g.H * g.W * g.C, out = P * g.M;
  if (!wt_.data.empty() && g.ph == 0 && g.pw == 0) {
    if (is_pointwise(g) && P > kSmallImage) {
      pointwise(x, bias, res, y, g.N * P, nullptr, g);
    } else {
      // Image by image; the next image, written a layer ago and read
      // next, fetched while this one's product runs (SgemmEpilogue::ahead).
      for (int64_t n = 0; n < g.N; ++n) {
        const float* xn = is_pointwise(g) ? x + n * image : subsample(x + n * image, g);
        pointwise(xn, bias, res ? res + n * out : nullptr, y + n * out, P, n + 1 < g.N ? x + (n + 1) * image : nullptr,
                  g);
      }
    }
    if (!clip_.clip && !act_.unary) act_.apply(y, g.N * out);
    return;
  }
  if (nhwc) {
    kernels::SgemmEpilogue ep = clip_;
    ep.row_bias = bias;
    ep.ldr = g.M;
    for (int64_t n = 0; n < g.N; ++n) {
      ep.residual = res ? res + n * out : nullptr;
      const bool next = n + 1 < g.N;  // its padded copy reads it next
      ep.ahead = next ? x + (n + 1) * image : nullptr;
      ep.ahead_bytes = next ? image * static_cast<int64_t>(sizeof(float)) : 0;
      nhwc->run(ts, x + n * image, ep, y + n * out, true, /*channels_last=*/true);
    }
    if (!clip_.clip) act_.apply(y, g.N * out);
    return;
  }
  thread_local kernels::AlignedFloats xt, rt, yt;  // 64-byte aligned (aligned_allocator.h)
  xt.resize(static_cast<size_t>(g.N * image));
  yt.resize(static_cast<size_t>(g.N * out));
  if (res) rt.resize(static_cast<size_t>(g.N * out));
  for (int64_t n = 0; n < g.N; ++n) {
    transpose(g.C, g.H * g.W, x + n * image, xt.data() + n * image);
    if (res) transpose(g.M, P, res + n * out, rt.data() + n * out);
  }
  nchw(xt.data(), res ? rt.data() : nullptr, yt.data());
  for (int64_t n = 0; n < g.N; ++n) transpose(P, g.M, yt.data() + n * out, y + n * out);
}

void ChannelsLastConvF32::transpose(int64_t a, int64_t b, const float* src, float* dst) const {
  transpose_->tile(a, b, reinterpret_cast<const uint32_t*>(src), a, reinterpret_cast<uint32_t*>(dst), b);
}

// y [rows][M] = x [rows][C] W^T + bias (+ res), clipped or Swish'd in the
// tile epilogue; `next` (or nullptr): the next image, fetched ahead.
void ChannelsLastConvF32::pointwise(const float* x, const float* bias, const float* res, float* y, int64_t rows,
                                    const float* next, const ConvGeom& g) const {
  kernels::SgemmEpilogue ep = clip_;
  ep.col_bias = bias;
  ep.residual = res;
  ep.ldr = g.M;
  ep.ahead = next;
  ep.ahead_bytes = next ? g.H * g.W * g.C * static_cast<int64_t>(sizeof(float)) : 0;
  if (act_.unary) {  // Swish, HardSwish
    ep.unary = act_.unary;
    ep.unary_op = act_.unary_op;
  }
  kernels::GemmOperand a{x, g.C, false};
  kernels::GemmOperand b;
  b.packed_b = &wt_;
  // Pixel rows a multiple of 4 KiB apart (C a multiple of 1024) all fall
  // in one L1 set when a tile reads them in place (ResNet-50's 1024 -> 256
  // @14 and 2048 -> 512 @7: 1.25x and 1.3x the NCHW layer's time): the
  // SGEMM packs them per K slice instead. Packing every layer's measured
  // slower (RESULTS.md section 113).
  a.pack_rows = g.C % 1024 == 0;
  if (rows <= kSmallImage && g.M > pw_.nc && (rows % pw_.mr == 0 || rows % pw_.mr >= kMinTailRows)) {
    // One image in one row task, several column tiles: its pixels packed
    // once for all of them, each tile's A panels then contiguous.
    thread_local kernels::PackedA pixels;
    kernels::pack_a_into(pw_, rows, g.C, a, &pixels);
    a.packed = &pixels;
  }
  kernels::sgemm(pw_, rows, g.M, g.C, a, b, y, g.M, false, true, &ep);
}

// The pixels a strided 1x1 conv reads of one channels-last image, into the
// calling thread's scratch [oh][ow][C] (valid until its next call).
const float* ChannelsLastConvF32::subsample(const float* x, const ConvGeom& g) {
  thread_local kernels::AlignedFloats picked;  // 64-byte aligned (aligned_allocator.h)
  picked.resize(static_cast<size_t>(g.oh * g.ow * g.C));
  float* d = picked.data();
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    for (int64_t ox = 0; ox < g.ow; ++ox, d += g.C) {
      const float* p = x + ((oy * g.sh) * g.W + ox * g.sw) * g.C;
      std::copy(p, p + g.C, d);
    }
  }
  return picked.data();
}

}  // namespace engine
}  // namespace int8rt
