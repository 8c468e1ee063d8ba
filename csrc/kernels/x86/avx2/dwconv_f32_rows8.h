// The AVX2 depthwise FP32 tier's stride-1 plane walk (dwconv_f32_rows8.cc),
// called by the tier's entry point (dwconv_f32_c8.cc). AVX2 translation
// units only (its definitions are compiled with the tier's flags).
#pragma once

#include <cstdint>

#include "kernels/abi/dwconv_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

// Narrowest output row the plane walk takes: on rows under 32 pixels its
// 2 x 4-vector tile never runs and the 8-row single-vector columns
// measured 1.4-1.5x slower than the channel-blocked walk (192 channels at
// 28 x 28, 576 at 14 x 14; 960 at 7 x 7 equal); at 56 and 112 pixels it
// is 0.74-0.80x the walk's time (RESULTS.md section 69).
constexpr int64_t kRows8MinWidth = 32;

// Whether the plane walk runs `p`: stride 1, dilation 1, output rows at
// least kRows8MinWidth wide.
bool dwconv_rows8_takes(const DwConvF32Plane& p);

// Plane t of `p` (channel t % C), any padding; the same bits as the
// channel-blocked walk. Uses the calling thread's scratch.
void dwconv_rows8_plane(const DwConvF32Plane& p, int64_t t);

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
