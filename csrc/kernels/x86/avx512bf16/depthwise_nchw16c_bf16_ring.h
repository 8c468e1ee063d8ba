// The BF16 channel-blocked depthwise conv from a ring of widened rows on
// AVX512-BF16 (depthwise_nchw16c_bf16_ring.cc), which depthwise_bf16x16c
// (nchw16c_bf16.cc) hands the windows below to. Included only by this ISA
// folder's files, which compile natively and against the emulation header
// (kernels/x86/emulation/avx512.h), so both builds get their namespace's twin.
#pragma once

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {

// Whether depthwise_bf16x16c_ring takes a's window: 5 wide, dilation 1,
// column stride 1, rows of 8 outputs or more. Left to the old walk, as they
// ran slower or level this way (RESULTS.md section 280): column stride 2
// (EfficientNet-B0's 5x5 / 2 at 56 x 56 x1.03-1.10, at 14 x 14 x1.30), 7 x 7
// planes (x1.01-1.17), 3x3 windows of strides (2, 1) / (1, 2) (0.91-1.11).
inline bool depthwise_ring(const DepthwiseBf16x16c& a) {
  return a.kw == 5 && a.dw == 1 && a.dh == 1 && a.sw == 1 && a.ow >= 8;
}

// depthwise_bf16x16c for such a window (the contract's bits).
void depthwise_bf16x16c_ring(const DepthwiseBf16x16c& a);

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
