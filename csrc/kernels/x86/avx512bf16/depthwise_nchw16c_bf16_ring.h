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

// Whether depthwise_bf16x16c_ring takes a's window: dilation 1, column
// stride 1 or 2, 5 wide, or 3 wide and 2+ tall but for the 3x3 windows of
// equal strides 1 or 2 (nchw16c_bf16.cc's two-row step).
inline bool depthwise_ring(const DepthwiseBf16x16c& a) {
  if (a.dw != 1 || a.dh != 1 || (a.sw != 1 && a.sw != 2)) return false;
  const bool two_rows = a.kh == 3 && a.kw == 3 && a.sh == a.sw;
  return a.kw == 5 || (a.kw == 3 && a.kh >= 2 && !two_rows);
}

// depthwise_bf16x16c for such a window (the contract's bits).
void depthwise_bf16x16c_ring(const DepthwiseBf16x16c& a);

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
