// A channel-blocked stem reading the network's float image on AVX512-BF16
// (ConvBf16x16c::xf of kernels/abi/nchw16c_bf16.h, the family's
// conv_reads_f32): the two functions its translation units share. Included
// only by this ISA folder's files, which compile natively and against the
// emulation header (kernels/x86/emulation/avx512.h), so both builds get
// their namespace's twin.
#pragma once

#include <cstdint>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {

// to_blocked_bf16 with the cw planes `plane` elements apart (P pixels of
// each, from xf or xh): the same bits per pixel (convert_nchw16c_bf16.cc).
void planes_to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t plane, int64_t cw, uint16_t* y);

// conv_bf16x16c for a.xf (conv_stem_f32_bf16.cc): the input rows the
// call's output rows read, converted into this thread's scratch as the
// region's entry converts them, then the blocked conv over that scratch.
void conv_bf16x16c_f32(const ConvBf16x16c& a);

// The blocked conv it then runs (conv_nchw16c_bf16.cc; declared here too for
// the emulated twin's namespace, which the abi header does not name).
void conv_bf16x16c(const ConvBf16x16c& a);

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
