// The narrow pointwise int8 conv microkernel boundary (x86/conv_narrow.cc
// drives it, x86/avx512vnni/igemm_narrow_16c4.cc implements it): plain
// structs and function pointers only, as kernels/abi/conv_gemm_s8.h.
//
// A narrow conv is a 1x1 conv (stride 1, no padding, one group) with at most
// 16 output channels and at most 32 input channels: MobileNet-class
// projections at 112 x 112 (16 -> 16, 32 -> 16). Its input is a plain
// [pixels][C] matrix and its output [pixels][K]; one zmm of 16 int32 lanes
// holds one pixel's output channels, the c4 weights of all C channels stay in
// registers (ceil(C/4) <= 8 zmm), and pixels run 8 at a time (eight
// independent vpdpbusd chains) with the group of 4 input bytes of each
// pixel broadcast from memory.
//
// Packed weights: [ceil(C/4)][16 channels][4 input channels] int8, channels
// past K and input channels past C zero; acc_init holds
// the accumulators' start per channel (-128 * sum(w) for u8-shifted rows,
// null for rows that are their own u8 values).
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

struct NarrowRows {
  const int8_t* x = nullptr;          // pixel 0's C input bytes; pixels C bytes apart
  bool shift = false;                 // true: bytes are int8, read as x ^ 0x80 (x + 128); false: u8 as they are
  int64_t pixels = 0;
  int C = 0;                          // 1..kNarrowMaxC
  int K = 0;                          // 1..kNarrowMaxK
  const int8_t* w = nullptr;          // packed as above
  const int32_t* acc_init = nullptr;  // [16] or null (start at 0)
  TileEpilogue ep;                    // pixel 0 (y, residual); y_stride = residual_stride = K
};
using NarrowRowsFn = void (*)(const NarrowRows&);

constexpr int kNarrowMaxC = 32;
constexpr int kNarrowMaxK = 16;

namespace avx512vnni {
void igemm_narrow_rows(const NarrowRows& r);
}  // namespace avx512vnni

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
