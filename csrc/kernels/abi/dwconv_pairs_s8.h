// The depthwise int8 conv microkernel boundary of the "pair rows" scheme
// (x86/conv_dw_pairs.cc drives it, x86/avx2/dwconv_pairs_8c.cc and
// x86/avx512vnni/dwconv_pairs_16c.cc implement it): plain structs and
// function pointers only, as kernels/abi/conv_gemm_s8.h.
//
// A pair row is one input row ih rewritten as int16 pairs: column j holds,
// per channel c (C rounded up to cb, a multiple of the microkernel's block
// of channels kDwPairBlock: 8 for AVX2, 16 for AVX512-VNNI),
//   ( v(ih, iw, c), v(ih, iw + dilation_w, c) ),  iw = j * col_step - pad_left,
// where v is the input inside it and pad_value outside it (and 0 for
// c >= C). Filter taps s = 2p and 2p + 1 of output column ow then sit in one
// pair at column (ow * stride_w + 2p * dilation_w) / col_step, which vpmaddwd
// multiplies with the weight pair (w[2p], w[2p + 1]) (w[S] = 0 for odd S)
// into one int32 per channel: two taps per multiply, no widening or bounds
// checks in the inner loop. int16 products of int8 values never overflow
// vpmaddwd (|sum| <= 2 * 128 * 128), so the sums are exact.
//
// Quad rows (AVX512-VNNI's dw_quad_build / dw_quad_row, taps 4 in
// DwPairsUkernel): the same bytes per column ([cb][4] uint8 instead of
// [cb][2] int16), column j holding per channel the four taps
//   v(ih, iw + t * dilation_w) + 128,  t = 0..3,
// so vpdpbusd multiplies four taps of 16 channels (u8) with the weight quad
// (w[4q], .., w[4q + 3]) (s8, zero past S) in one instruction. Every tap
// slot adds (v + 128) * w, padding and zero weights included, so starting
// each channel's sum at -128 * sum(w) (stored before each block's weights)
// leaves sum(v * w) exactly; |sums| stay far inside int32.
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// Builds one pair row (see above) into `out` ([cols][cb][2] int16).
struct DwPairSource {
  const int8_t* x = nullptr;  // input row ih ([W][C] int8), or null: a row of padding (all pad_value)
  int W = 0, C = 0, cb = 0;
  int cols = 0, col_step = 1, pad_left = 0, dilation_w = 1;
  int pad_value = 0;
  int16_t* out = nullptr;
};
using DwPairBuildFn = void (*)(const DwPairSource&);

// One output row of a depthwise conv from its R pair rows.
struct DwPairRow {
  const int16_t* const* rows = nullptr;  // [R] pair (or quad) rows (built by DwPairBuildFn)
  int R = 1, P = 1;         // filter rows, tap pairs (quads) per filter row (ceil(S / 2), ceil(S / 4))
  int OW = 0, C = 0, cb = 0;
  int col_per_ow = 1;       // pair-row columns between output columns (stride_w / col_step)
  int col_per_pair = 1;     // columns between tap pairs (quads): 2 (4) * dilation_w / col_step
  // [cb / block][R][P][block][2] int16 weight pairs; quads: per block
  // [block] int32 (-128 * sum(w)), then [R][P][block][4] int8
  const int16_t* w = nullptr;
  TileEpilogue ep;          // output column 0, channel 0; columns ep.y_stride apart
};
using DwPairRowFn = void (*)(const DwPairRow&);

namespace avx2 {
constexpr int kDwPairBlock = 8;
void dw_pair_build(const DwPairSource& s);
void dw_pair_row(const DwPairRow& r);
}  // namespace avx2

namespace avx512vnni {
constexpr int kDwPairBlock = 16;
void dw_pair_build(const DwPairSource& s);
void dw_pair_row(const DwPairRow& r);
// Quad rows (above): the same structs, the buffers holding u8 quads.
void dw_quad_build(const DwPairSource& s);
void dw_quad_row(const DwPairRow& r);
}  // namespace avx512vnni

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
