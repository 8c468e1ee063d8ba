// Dense FP32 2-D convolution with the output pixels as the SGEMM
// microkernel's rows and the output channels as its vector columns ("NHWC
// conv"), for kernels larger than 1x1 (ResNet's 3x3 convs, the 7x7 / 2 and
// 3x3 / 2 RGB stems, RegNet's grouped 3x3 convs of 8 channels per group):
// the implicit GEMM of ONNX Runtime's NCHWc direct convolution, on the SGEMM
// family's microkernel (sgemm_f32.h). Grouped: each group is its own
// product over its C/G channels of the shared channels-last copy (A in place
// at the group's first channel) and its M/G output channels (B panels of
// nr columns, the last one zero-padded: 8 of 16 lanes for 8 per group).
//
// Per run the image is copied once into a zero-padded channels-last buffer
// xp[q][r][c] = x[c][q - ph][r - pw] (0 outside), Hp x Wp x C with
// Hp = (oh - 1) sh + (kh - 1) dh + 1 and Wp likewise. Output pixel (oy, ox)
// and tap (i, j) read the C channels at xp[oy sh + i dh][ox sw + j dw], so
// on one output row the pixels are lda = sw * C floats apart and every
// (tap, channel) row k of the product is one offset
// a_rows[k] = (i dh Wp + j dw) C + c from the tile's first pixel: the
// microkernel reads A in place (SgemmTile::a_rows), broadcasting one float
// per pixel, against B = the weights W^T [(i, j, c)][m], packed once into
// nr-column panels. Tiles are runs of at most mr pixels of one output row
// (a row of ow pixels is cut into ceil(ow / mr) runs of near-equal length),
// so no lane and no row computes a dropped pixel, whatever the stride; the
// vector lanes are the output channels (ResNet's are multiples of 32).
// Each block of output rows is computed into the thread's scratch
// [pixels][M] and then transposed into y [M][oh][ow] (the transpose_f32
// family), the residual added and the clip applied there when a residual
// is fused; otherwise bias and clip are the microkernel's tile epilogue.
//
// Summation order: k = (i, j, c) ascending (taps row-major, the group's
// channels within a tap), one FMA chain per output (or slices of equal size when K
// exceeds 4608: each slice one microkernel call accumulating into C), the
// bias added after the (first) sum, the clip on the last. Fixed by the layer's shape and the
// microkernel (never by the thread count); within the SGEMM bound of
// abi/sgemm_f32.h of the exact product (tests/test_fp32_ops.py).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv_taps_f32.h"
#include "kernels/sgemm_f32.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace kernels {

// "" when the NHWC conv suits the weights of `s` (TapConvShape's C, M, G,
// kh, kw) on a microkernel `nr` columns wide, else why not: 1x1, one group
// whose output channels would leave the last column panel ragged (the tap
// conv and im2col paths vectorise over pixels instead; but one panel at
// least half full is taken for images under 16 channels), depthwise, 16 or
// more channels per group (the tap conv), or groups whose output channels
// fill under half a panel or leave a ragged panel after full ones.
std::string nhwc_conv_weights_decline(const TapConvShape& s, int nr);

// "" when it can run the geometry `s` well with an `mr`-row tile, else why
// not: an empty output, or output rows under half the tile's height (each
// row is cut into runs of at most mr pixels; the caller falls back to the
// im2col SGEMM).
std::string nhwc_conv_declines(const TapConvShape& s, int mr);

// One layer's constant weights [M][C/G][kh][kw] (C, M, G, kh, kw of the
// shape; the rest is read per run), packed once for `uk`; run() is const
// and may be called from any thread.
class NhwcConv {
 public:
  NhwcConv(const SgemmKernel& uk, const TapConvShape& weights, const float* w);

  // y[M][oh][ow] of one image x[C][H][W] for `s` (whose C, M, G, kh, kw must be
  // the weights'; nhwc_conv_declines(s, mr) == ""); `ep` as for the tap conv
  // (row_bias: one per output channel, or nullptr; residual [M][oh * ow] with
  // ldr = oh * ow, or nullptr; clip; ahead: fetched a share per block while
  // its tiles run, SgemmEpilogue's contract). Uses the calling thread's scratch
  // (grown, never shrunk); parallel_for over blocks of output rows when
  // `parallel`. With `channels_last`, x is [H][W][C], y [oh][ow][M] and the
  // residual [oh * ow][ldr] (ldr = M): the padded copy moves whole pixel
  // rows (no transpose in), the tiles store into y (no transpose out) and
  // the residual and clip follow per block in the same order: the same bits.
  void run(const TapConvShape& s, const float* x, const SgemmEpilogue& ep, float* y, bool parallel,
           bool channels_last = false) const;

 private:
  struct Slice {
    int64_t first, kc;  // first row k of the slice, rows
    int64_t b_off;      // offset of its ceil(M / nr) panels [kc][nr] in b_
  };
  void block(const TapConvShape& s, const float* xp, int64_t wp, const int64_t* a_rows, int64_t oy0,
             int64_t oy1, const SgemmEpilogue& ep, float* y, int64_t index, int64_t blocks,
             bool channels_last) const;
  // xp [hp][wp][C]: the image copied in, zero-padded (transposed unless channels_last).
  void pad_copy(const TapConvShape& s, const float* x, int64_t hp, int64_t wp, float* xp, bool channels_last) const;

  const SgemmKernel* uk_;
  const TransposeX32Kernel* transpose_;
  TapConvShape w_;  // C, M, kh, kw
  std::vector<Slice> slices_;
  std::vector<float> b_;  // every slice's panels
};

}  // namespace kernels
}  // namespace int8rt
