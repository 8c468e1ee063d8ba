// The int8 transposed-conv microkernel boundary (kernels/abi/conv_gemm_s8.h's
// split): between the x86 driver of the kernel-equals-stride ConvTranspose
// (x86/conv_transpose_ks.cc, baseline code) and its per-ISA microkernels.
// No inline code, nothing from the STL (STYLE.md, "ISA code is fenced").
//
// With kernel == stride, no pads, dilation 1 and one group, every output
// pixel receives exactly one tap from one input pixel:
//   y[n][R*i + qy][S*j + qx][k] = epilogue(sum_c x[n][i][j][c] * w[c][k][qy][qx]),
// so each input row i and phase row qy is a GEMM of the row's W pixels
// against the R x (S*K) weights of that qy, written in place: output row
// R*i + qy holds the W x S*K products contiguously. The igemm tiles
// (abi/conv_gemm_s8.h) run that GEMM where S*K fills their 8-channel blocks;
// the dot microkernel below runs the 2 x 2, K = 1 upsampling head (S*K = 2:
// a 16-wide tile would hold 2 valid channels) with pixels in the lanes.
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// One input row of a 2 x 2, stride 2, K = 1 transposed conv: W pixels of C
// int8 channels at x (pixels C apart, only x[0 .. W*C) read), each pixel's
// four outputs n = 2*qy + qx stored at y0 + 2j + qx (qy = 0) and y1 + 2j + qx
// (qy = 1), int8 or float as ep.out_f32. w: int16 weights [chunks][4][16],
// chunk c holding input channels 16c .. 16c + 15 of output n (zero past C);
// ep.scale / ep.bias: 8 floats each (the layer's channel-0 value 8 times;
// bias zeros where the layer has none), ep.y / y_stride / residual unused.
struct TransposeDotRow {
  const int8_t* x = nullptr;
  int W = 0, C = 0, chunks = 0;
  const int16_t* w = nullptr;
  void* y0 = nullptr;
  void* y1 = nullptr;
  TileEpilogue ep;
};
using TransposeDotFn = void (*)(const TransposeDotRow&);

namespace avx2 {
// Two pixels per ymm of 8 int32 sums [pixel j: n 0..3 | pixel j + 1: n 0..3],
// int16 vpmaddwd products (exact for every int8 x and w), the epilogue of
// avx2/epilogue.h (avx2/conv_transpose_dot_2x2.cc).
void conv_transpose_dot_2x2(const TransposeDotRow& r);
}  // namespace avx2

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
