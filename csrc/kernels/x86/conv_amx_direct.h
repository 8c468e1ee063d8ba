// The AMX direct-conv driver (baseline code, x86/conv_amx_direct.cc): spatial
// convs (R x S > 1) of one group, read by amx/conv_direct.h's microkernel
// straight from a padded phase-plane copy of the input, no im2col gather.
// x86/conv_amx.cc's AmxConvKernel takes this path where
// amx_direct_applies() and its microkernel has the strip functions.
#pragma once

#include <memory>

#include "kernels/conv_gemm_s8.h"
#include "kernels/x86/amx/conv_direct.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// Whether the direct path serves s: one group, a spatial window, and
// contiguous filter rows (dilation_w 1: rows mode) or at least 32 input
// channels (channel mode pads each tap to a multiple of 64 channels; fewer
// would leave most of every chunk zero, the gather packs them).
bool amx_direct_applies(const ConvShape& s);

// Packs OIHW weights w for s (amx_direct_applies(s)); fn: the microkernel
// for s's input codes (conv_direct_strip_u8 for u8-coded inputs).
std::unique_ptr<PackedConv> pack_amx_direct(AmxConvStripFn fn, const char* name, const ConvShape& s,
                                            const int8_t* w);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
