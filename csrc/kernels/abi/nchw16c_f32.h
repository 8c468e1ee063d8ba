// The FP32 channel-blocked (NCHW16c) microkernel boundary (the nchw16c_f32
// family, kernels/nchw16c_f32.h; the layers of engine/f32_blocked.h). A
// blocked tensor of C channels is stored [N][CB][H][W][16], CB = ceil(C / 16):
// channel c of pixel p is lane c % 16 of the 64-byte line (c / 16, p). Lanes
// past C are padding: finite, never read into a real channel (the packed
// weights are zero there). After ONNX Runtime's NCHWc kernels (MLAS
// sconv_kernel_avx512f / sconv_depthwise_avx512f): a pixel's 16 channels in
// one line, one aligned load per tap, a broadcast per input channel.
//
// The arithmetic (every tier the same bits; the reference spells it out):
//   pointwise:  a = 0; for c ascending: a = fma(x[c][p], w[m][c], a);
//               y[m][p] = clip(a + bias[m] + residual[m][p])
//   depthwise:  a = 0; for (ky, kx) row-major, taps inside the image only:
//               a = fma(x[iy][ix], w[ky][kx], a);  y = clip(a + bias + residual)
//   dense:      a = 0; for c, then (ky, kx) row-major, taps inside the image
//               only: a = fma(x[c][iy][ix], w[m][c][ky][kx], a);  y as above
//               (x an NCHW image: a region's first conv, the stem)
//   conv:       a = 0; for (ky, kx) row-major, taps inside the image only,
//               then c ascending: a = fma(x[c][iy][ix], w[m][c][ky][kx], a);
//               y as above (x blocked: 3x3, 7x7, strided 1x1, ...)
//   max pool:   m = -inf; for (ky, kx) row-major, taps inside the image
//               only: m = m > x[iy][ix] ? m : x[iy][ix];  y = m
//   avg pool:   s = 0; for (ky, kx) row-major, taps inside the image only:
//               s = s + x[iy][ix];  y = s / (count_h[oy] * count_w[ox])
//               (the NCHW AveragePool's operations: the same bits)
//   mean:       s = 0; for p ascending: s = s + x[p];  y = s / P
//   scale:      y[p] = x[p] * s   (one rounding: the NCHW Mul's bits)
// (residual when given, clip when asked: max(., lo) then min(., hi), NaN ->
// lo; then the caller's PostOp, when given, on every output.) The FP32 NCHW convs add in another order (bias first, SGEMM slices),
// so blocked and NCHW engines differ by the rounding of K fused products:
// each output within (K + 2) * 2^-24 * (|bias| + sum |w x|) of the exact
// value, K the taps or input channels (tests/test_f32_blocked.py).
// Plain structs and declarations, so ISA translation units may include it.
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

constexpr int64_t kBlock16 = 16;  // channels per block (one zmm of floats)

// An element-wise function the caller applies to finished outputs (a fused
// Swish): called on runs of `count` contiguous outputs, each after its last
// store, while they are in cache; its order of calls does not change bits.
struct PostOp {
  void (*apply)(const void* ctx, float* y, int64_t count) = nullptr;  // nullptr: none
  const void* ctx = nullptr;
};

// Output blocks [mb0, mb1) x pixels [p0, p1) of one image's 1x1 conv.
struct PointwiseNchw16c {
  const float* x = nullptr;         // [CB][P][16] (CB = ceil(C / 16))
  const float* w = nullptr;         // packed [MB][C][16]: w[mb][c][l] = W[mb * 16 + l][c], 0 past M
  const float* bias = nullptr;      // [MB * 16], 0 past M
  const float* residual = nullptr;  // [MB][P][16] or nullptr
  float* y = nullptr;               // [MB][P][16]
  int64_t C = 0, P = 0, mb0 = 0, mb1 = 0, p0 = 0, p1 = 0;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  PostOp post;  // after the clip
};
using PointwiseNchw16cFn = void (*)(const PointwiseNchw16c&);

// Output rows [oy0, oy1) of one channel block of one image's depthwise conv.
struct DepthwiseNchw16c {
  const float* x = nullptr;         // [H][W][16]
  const float* w = nullptr;         // [kh * kw][16], 0 past C
  const float* bias = nullptr;      // [16]
  const float* residual = nullptr;  // [oh][ow][16] or nullptr
  float* y = nullptr;               // [oh][ow][16]
  int64_t H = 0, W = 0, oh = 0, ow = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int64_t oy0 = 0, oy1 = 0;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  PostOp post;  // after the clip
};
using DepthwiseNchw16cFn = void (*)(const DepthwiseNchw16c&);

// Output blocks [mb0, mb1) x rows [oy0, oy1) of one image's dense conv of
// one group to a blocked output, from an NCHW input of a few channels
// (`dense`: a network's stem) or from a blocked input (`conv`: any kernel,
// strides, pads, dilations: ResNet's 3x3 convs and strided 1x1 projections).
struct DenseNchw16c {
  const float* x = nullptr;         // dense: [C][H][W]; conv: [CB][H][W][16]
  const float* w = nullptr;         // dense: packed [MB][C * kh * kw][16] (w[mb][(c, ky, kx)][l]);
                                    // conv: [MB][kh * kw][C][16] (w[mb][t][c][l] = W[mb * 16 + l][c][t]); 0 past M
  const float* bias = nullptr;      // [MB * 16]
  const float* residual = nullptr;  // conv: [MB][oh][ow][16] or nullptr; dense: nullptr (not read)
  float* y = nullptr;               // [MB][oh][ow][16]
  int64_t C = 0, H = 0, W = 0, oh = 0, ow = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int64_t mb0 = 0, mb1 = 0, oy0 = 0, oy1 = 0;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  PostOp post;  // after the clip
  // conv only: `images` images, x / y / residual x_image / y_image floats
  // apart (x, y, residual: the first one's); each output's operations are
  // one image's, so any split of a batch into calls gives the same bits.
  int64_t images = 1, x_image = 0, y_image = 0;
};
using DenseNchw16cFn = void (*)(const DenseNchw16c&);

// Image n of a conv call, as a call of that image alone.
inline DenseNchw16c conv_image(const DenseNchw16c& a, int64_t n) {
  DenseNchw16c one = a;
  one.x += n * a.x_image;
  one.y += n * a.y_image;
  if (one.residual) one.residual += n * a.y_image;
  one.images = 1;
  return one;
}

// Output rows [oy0, oy1) of one channel block of one image's max or average
// pool (padded taps are skipped: they never win a max and add nothing).
struct PoolNchw16c {
  const float* x = nullptr;  // [H][W][16]
  float* y = nullptr;        // [oh][ow][16]
  int64_t H = 0, W = 0, oh = 0, ow = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int64_t oy0 = 0, oy1 = 0;
  // Average pool only: the divisor's factors per output row and column
  // (AveragePool's tap counts, engine/ops/op_util.h's pool_divisors).
  const float* count_h = nullptr;  // [oh]
  const float* count_w = nullptr;  // [ow]
};
using PoolNchw16cFn = void (*)(const PoolNchw16c&);

// Per block b of `blocks`: means[b * 16 + l] = mean over p < P of x[b][p][l].
using BlockMeanFn = void (*)(const float* x, int64_t blocks, int64_t P, float* means);
// Per block b: y[b][p][l] = x[b][p][l] * s[b * 16 + l] (s padded to whole blocks).
using BlockScaleFn = void (*)(const float* x, const float* s, int64_t blocks, int64_t P, float* y);

namespace ref {
void pointwise_nchw16c(const PointwiseNchw16c& a);  // ref/nchw16c_f32.cc
void depthwise_nchw16c(const DepthwiseNchw16c& a);
void dense_nchw16c(const DenseNchw16c& a);
void conv_nchw16c(const DenseNchw16c& a);
void maxpool_nchw16c(const PoolNchw16c& a);
void avgpool_nchw16c(const PoolNchw16c& a);
void block_mean_f32(const float* x, int64_t blocks, int64_t P, float* means);
void block_scale_f32(const float* x, const float* s, int64_t blocks, int64_t P, float* y);
}  // namespace ref
namespace x86 {
namespace avx512 {
// x86/avx512/nchw16c_f32.cc: 6 pixels x 4 output blocks of zmm accumulators
// (pointwise), up to 8 pixels of one row (depthwise), 12 pixels x 2 blocks
// (dense), one zmm per block.
void pointwise_nchw16c(const PointwiseNchw16c& a);
void depthwise_nchw16c(const DepthwiseNchw16c& a);
void dense_nchw16c(const DenseNchw16c& a);
// x86/avx512/conv_nchw16c_f32.cc: 6 pixels of a row x 4 output blocks.
void conv_nchw16c(const DenseNchw16c& a);
void maxpool_nchw16c(const PoolNchw16c& a);
void avgpool_nchw16c(const PoolNchw16c& a);
void block_mean_f32(const float* x, int64_t blocks, int64_t P, float* means);
void block_scale_f32(const float* x, const float* s, int64_t blocks, int64_t P, float* y);
}  // namespace avx512
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
