// The BF16 channel-blocked (NCHW16c) microkernel boundary (the nchw16c_bf16
// family, kernels/nchw16c_bf16.h; the layers of engine/bf16_blocked.h). A
// blocked BF16 tensor of C channels is stored [N][CB][H][W][16] uint16
// (BF16 bits), CB = ceil(C / 16): channel c of pixel p is lane c % 16 of the
// 32-byte line (c / 16, p). Lanes past C are +0 (every writer stores +0
// there), so the pair (2q, 2q + 1) of channels of a pixel is one aligned
// 32-bit word that never straddles two blocks. After OpenVINO's nChw16c
// bf16 kernels (brgconv_avx512_*_bf16, jit_avx512_dw_conv_fwd_kernel_bf16):
// a pixel's 16 channels in one line, one broadcast per input channel pair.
//
// The arithmetic is the NCHW BF16 layers', operation for operation, so a
// blocked engine gives the NCHW BF16 engine's bits wherever both round the
// same tensors (tests/test_bf16_blocked.py):
//   pointwise (1x1, one group): acc = 0; for channel pairs q ascending:
//               acc = dot_pair(acc, x[2q, 2q+1][p], w[m][2q, 2q+1]) (kernels/ref/bf16.h:
//               VDPBF16PS, odd element first), the padded pair's missing
//               channel 0 in both operands (as the GEMM pads K);
//               v = acc + bias[m]; v = v + residual (BF16 widened, when
//               given); clip; y = bf16::from_f32(v)  (abi/gemm_bf16.h)
//   depthwise:  v = bias; for (ky, kx) row-major, every tap (+0 outside the
//               image): v = fma(w[ky][kx], x(iy, ix), v); residual, clip,
//               y = from_f32(v)  (abi/dwconv_bf16.h; w the taps rounded to
//               BF16, held as FP32)
//   dense conv (one group, any 2-D window, strides, pads, dilations; the
//               direct BF16 GEMM's order, kernels/gemm_bf16_direct.h:
//               k' = tap * Ce + c): acc = 0; for taps (ky, kx) row-major
//               whose input pixel is inside the image: for channel pairs q
//               ascending: acc = dot_pair(acc, x[2q, 2q+1](iy, ix),
//               w[m][2q, 2q+1][ky][kx]); then the pointwise epilogue (bias,
//               residual, clip, from_f32). The direct path adds a padded
//               tap's zero products instead of skipping it: acc + (+-0)
//               == acc for finite weights, except that a -0 partial sum
//               becomes +0, so the two differ at most in the sign of a zero
//               output of a conv without a (nonzero) bias. A 1x1 conv is the
//               one-tap case (the pointwise entry's operations).
//   max pool:   m = -inf; for (ky, kx) row-major, taps inside the image:
//               m = m > x ? m : x (widened, exact); y = m's BF16 bits
//               (exact: m is one of the inputs or -inf). RNE rounding is
//               monotone, so this is the BF16 rounding of the FP32 pool of
//               the unrounded values (the NCHW BF16 engine's order).
//   mean:       s = 0; for p ascending: s = s + x[p]; y = s / P (FP32 out)
// (clip: clip_f32 of kernels/ref/clip_f32.h; NaN stays NaN.) The padded
// lanes of every output are stored +0.
// The AMX order (x86/amx/conv_nchw16c_bf16_32x32.cc, TDPBF16PS; pointwise
// and dense conv): acc = 0; for taps row-major whose input row is inside
// the image (a 1x1 conv: its one tap): for input block pairs (2j, 2j + 1),
// j ascending: even = odd = 0; for the pair's 16 channel pairs q = 16j ..
// 16j + 15 ascending (x the pixel's lines, a line of zeros where the input
// column is outside the image or the block is past CB; w the zero pair
// past QP): even = FTZ(fma(x[2q], w[2q], even)), odd = FTZ(fma(x[2q+1],
// w[2q+1], odd)); acc = FTZ(acc + FTZ(even + odd)); DAZ on every operand,
// every step rounded to nearest even; then the pointwise epilogue. A dense
// conv of one input block (C <= 16) whose kernel row holds at most 16
// pairs (kw > 1, dw == 1, kw * QP <= 16: the 7x7 stem of 3 channels) sums
// a kernel row per step instead: for ky ascending whose input row is
// inside: even = odd = 0; for kx ascending, for q < QP ascending (x zero
// where the input column is outside): the same two fused steps; then acc =
// FTZ(acc + FTZ(even + odd)). The
// same BF16 products as the order above, summed in another
// order: the FP32 sums differ by at most 2 (K + 2) 2^-24 S (S = sum of
// |x w| over its K = 2 QP kh kw products; abi/gemm_bf16.h's bound), before
// the epilogue (tests/cpp/test_nchw16c_bf16_amx.cc).
// The AVX512-BF16 stem order (x86/avx512bf16/conv_nchw16c_bf16.cc,
// conv_row_pairs): a dense conv of one input block with an odd channel
// count (the 7x7 / 2 stem of 3 channels), no column dilation, on planes 16+
// wide, pairs channel-taps along each kernel row ([kx][c] flattened, pairs
// of consecutive values, an odd row's last value alone with a zero
// partner) instead of channel pairs per tap; pixels whose taps reach a
// padded column keep the dense order above. Same products, another order,
// the same bound (tests/cpp/test_nchw16c_bf16_avx512bf16.cc).
// Plain structs and declarations, so ISA translation units may include it.
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

constexpr int64_t kBf16Block = 16;  // channels per block (one 32-byte line)
constexpr int64_t kBf16BlockedMaxRows = 16;  // a depthwise window's rows (kh) at most

// A conv's fused float activation other than Relu / Clip (the engine's
// FusedActivation: Swish, HardSwish, an element-wise chain):
// fn(ctx, v, n) maps n FP32 values in place after the bias, before their
// BF16 rounding, by the very function the NCHW BF16 conv applies to its
// FP32 output (element by element, whatever n), so the bits that conv's
// reader rounds. Given only without a residual or a clip; a kernel may call
// fn once over a tile's values (padded lanes stored +0 after it). fn null:
// none.
struct Bf16x16cAct {
  void (*fn)(const void* ctx, float* v, int64_t n) = nullptr;
  const void* ctx = nullptr;
};

// Output blocks [mb0, mb1) x pixels [p0, p1) of a 1x1 conv of N images:
// pixel q is pixel q % P of image q / P (N = 1: one image's pixels).
struct PointwiseBf16x16c {
  const uint16_t* x = nullptr;         // [N][CB][P][16]
  const uint16_t* w = nullptr;         // packed [MB][QP][16][2]: w[mb][q][l][i] = W[mb*16+l][2q+i], 0 past M / C
  const float* bias = nullptr;         // [MB * 16], 0 past M; or nullptr: no bias add (the GEMM's)
  const uint16_t* residual = nullptr;  // [N][MB][P][16] or nullptr
  uint16_t* y = nullptr;               // [N][MB][P][16]
  int64_t C = 0, M = 0, P = 0, mb0 = 0, mb1 = 0, p0 = 0, p1 = 0;  // p0, p1 < N * P
  int64_t N = 1;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  Bf16x16cAct act;
};
using PointwiseBf16x16cFn = void (*)(const PointwiseBf16x16c&);

// Runs `one` on each image's part of a's pixels (its pointers moved to the
// image, N = 1): the kernels that work image by image (ref/nchw16c_bf16.cc).
void pointwise_bf16x16c_per_image(const PointwiseBf16x16c& a, PointwiseBf16x16cFn one);

// Output rows [oy0, oy1) of one channel block of one image's depthwise conv.
struct DepthwiseBf16x16c {
  const uint16_t* x = nullptr;         // [H][W][16]
  // [kh * kw][16] FP32 taps, 0 past C: a conv's weights rounded to BF16; a
  // squeeze-and-excitation scale's gates as they are (ops/bf16_blocked_scale.cc)
  const float* w = nullptr;
  const float* bias = nullptr;         // [16], 0 past C
  const uint16_t* residual = nullptr;  // [oh][ow][16] or nullptr
  uint16_t* y = nullptr;               // [oh][ow][16]
  int64_t lanes = 16;                  // real channels of this block (the rest stored +0)
  // kh <= kBf16BlockedMaxRows (engine/bf16_blocked.h takes no taller window)
  int64_t H = 0, W = 0, oh = 0, ow = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int64_t oy0 = 0, oy1 = 0;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  Bf16x16cAct act;
};
using DepthwiseBf16x16cFn = void (*)(const DepthwiseBf16x16c&);

// Output blocks [mb0, mb1) x output rows [oy0, oy1) of one image's dense
// conv of one group from a blocked input.
struct ConvBf16x16c {
  const uint16_t* x = nullptr;         // [CB][H][W][16]
  // Or (x unused) the image's float32 NCHW planes [C][H][W], each value
  // rounded as to_blocked rounds it (so the same bits as x from the entry's
  // conversion): only for a family entry with conv_reads_f32, a tap-row
  // window (bf16_tap_row_window) of at most kBf16MaxF32Channels channels.
  const float* xf = nullptr;
  // packed [MB][taps][QP][16][2]: w[mb][t][q][l][i] = W[mb*16+l][2q+i][t], 0 past M / C
  // (taps = kh * kw row-major; a 1x1 conv's is the pointwise packing)
  const uint16_t* w = nullptr;
  const float* bias = nullptr;         // [MB * 16], 0 past M; or nullptr: no bias add
  const uint16_t* residual = nullptr;  // [MB][oh][ow][16] or nullptr
  uint16_t* y = nullptr;               // [MB][oh][ow][16]
  int64_t C = 0, M = 0;
  int64_t H = 0, W = 0, oh = 0, ow = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int64_t oy0 = 0, oy1 = 0, mb0 = 0, mb1 = 0;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  Bf16x16cAct act;
};
using ConvBf16x16cFn = void (*)(const ConvBf16x16c&);

// The AMX order's tap-row windows (above): one input block, kw > 1, no
// column dilation, a kernel row of at most 16 channel pairs.
inline bool bf16_tap_row_window(int64_t C, int64_t kw, int64_t dw) {
  return C <= kBf16Block && kw > 1 && dw == 1 && kw * ((C + 1) / 2) <= 16;
}
constexpr int64_t kBf16MaxF32Channels = 4;  // ConvBf16x16c::xf's planes at most (a stem's image)

// Output rows [oy0, oy1) of one channel block of one image's max pool.
struct MaxPoolBf16x16c {
  const uint16_t* x = nullptr;  // [H][W][16]
  uint16_t* y = nullptr;        // [oh][ow][16]
  int64_t lanes = 16;           // real channels of this block (the rest stored +0)
  int64_t H = 0, W = 0, oh = 0, ow = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  int64_t oy0 = 0, oy1 = 0;
};
using MaxPoolBf16x16cFn = void (*)(const MaxPoolBf16x16c&);

// The region's entry: cw <= 16 NCHW planes of P pixels, float32 at xf
// (rounded, bf16::from_f32) or, when xf is null, bfloat16 at xh (copied);
// plane c at c * P; into one block y [P][16], lanes past cw +0.
using ToBlockedBf16Fn = void (*)(const float* xf, const uint16_t* xh, int64_t P, int64_t cw, uint16_t* y);

// Per block b of `blocks`: means[b * 16 + l] = mean over p < P of x[b][p][l].
using BlockMeanBf16Fn = void (*)(const uint16_t* x, int64_t blocks, int64_t P, float* means);

namespace ref {
void pointwise_bf16x16c(const PointwiseBf16x16c& a);  // ref/nchw16c_bf16.cc
void depthwise_bf16x16c(const DepthwiseBf16x16c& a);
void block_mean_bf16(const uint16_t* x, int64_t blocks, int64_t P, float* means);
void conv_bf16x16c(const ConvBf16x16c& a);
void maxpool_bf16x16c(const MaxPoolBf16x16c& a);
void to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t cw, uint16_t* y);
}  // namespace ref
namespace x86 {
namespace avx512bf16 {
// x86/avx512bf16/nchw16c_bf16.cc: pointwise 8 pixels x 2 output blocks
// (6 x 4 for long reductions) of zmm accumulators (VDPBF16PS, the input
// pair broadcast), depthwise 8 pixels of one row or, for 3x3 windows of
// stride 1 / 2, 8 / 6 pixels of two rows (one zmm per pixel), the BF16
// inputs widened as loaded.
void pointwise_bf16x16c(const PointwiseBf16x16c& a);
void depthwise_bf16x16c(const DepthwiseBf16x16c& a);
void block_mean_bf16(const uint16_t* x, int64_t blocks, int64_t P, float* means);
// x86/avx512bf16/conv_nchw16c_bf16.cc: dense conv, 4 output blocks x up to
// 6 pixels (of one row; across rows on planes under 16 wide) of VDPBF16PS
// accumulators; max pool 16 lanes per zmm.
void conv_bf16x16c(const ConvBf16x16c& a);
void maxpool_bf16x16c(const MaxPoolBf16x16c& a);
// x86/avx512bf16/convert_nchw16c_bf16.cc: 16 pixels per step, VPERMW.
void to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t cw, uint16_t* y);
}  // namespace avx512bf16
namespace amx {
// x86/amx/conv_nchw16c_bf16_32x32.cc: the AMX order above, 32 pixels x 2
// output blocks of TDPBF16PS tiles, two input blocks (16 pairs) per step.
void pointwise_bf16x16c(const PointwiseBf16x16c& a);
void conv_bf16x16c(const ConvBf16x16c& a);
}  // namespace amx
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
