// The AVX2 depthwise FP32 tier's phase walk (dwconv_f32_phases8.cc), called
// by the tier's entry point (dwconv_f32_c8.cc) for the planes its other two
// walks leave to the reference loop. AVX2 translation units only (its
// definitions are compiled with the tier's flags).
#pragma once

#include <cstdint>

#include "kernels/abi/dwconv_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

// Whether the phase walk runs `p`: output rows at least one vector (8
// pixels) wide, non-negative pads. Any stride and dilation.
bool dwconv_phases8_takes(const DwConvF32Plane& p);

// Plane t of `p` (channel t % C). Uses the calling thread's scratch.
void dwconv_phases8_plane(const DwConvF32Plane& p, int64_t t);

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
