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
// column stride 1 or 2. (3x3 windows of strides (2, 1) / (1, 2) ran 0.91-1.11
// of their old walk's time this way: left to it, RESULTS.md section 280.)
inline bool depthwise_ring(const DepthwiseBf16x16c& a) {
  return a.kw == 5 && a.dw == 1 && a.dh == 1 && (a.sw == 1 || a.sw == 2);
}

// depthwise_bf16x16c for such a window (the contract's bits).
void depthwise_bf16x16c_ring(const DepthwiseBf16x16c& a);

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
