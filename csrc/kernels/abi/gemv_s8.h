// The one-pixel pointwise int8 conv microkernel boundary (x86/conv_gemv.cc
// drives it, x86/avx512vnni/igemv_8x32c4.cc implements it): plain structs
// and function pointers only, as kernels/abi/conv_gemm_s8.h.
//
// A one-pixel conv is a 1x1 conv over a 1 x 1 input, one group: the
// squeeze-and-excitation convs on [N, C, 1, 1] (fc1 C -> C/4, fc2 back),
// a GEMV per image. The batch's N rows run up to 8 at a time against each
// tile of 32 output channels, so each weight is read once per 8 images.
//
// Packed weights: [ceil(K/32) tiles][ceil(C/4)][32 channels][4 input
// channels] int8, channels past K and input channels past C zero; acc_init
// [ceil(K/32) * 32] int32 (-128 * sum(w) for shifted or u8-coded rows) or
// null.
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

struct GemvRows {
  const int8_t* x = nullptr;          // row 0's C input bytes; rows C bytes apart
  int rows = 0;                       // 1..kGemvRows
  bool shift = false;                 // true: bytes are int8, read as x ^ 0x80; false: u8 as they are
  int C = 0;
  int nc = 0;                         // valid channels of the tile, 1..32
  const int8_t* w = nullptr;          // the tile's packed weights
  const int32_t* acc_init = nullptr;  // the tile's 32 starts, or null (0)
  TileEpilogue ep;                    // row 0, the tile's channel 0 (scale, bias, y, residual)
};
using GemvRowsFn = void (*)(const GemvRows&);

constexpr int kGemvRows = 8;
constexpr int kGemvTile = 32;

namespace avx512vnni {
void igemv_rows(const GemvRows& r);
}  // namespace avx512vnni

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
