// Merged taps of the igemm driver (x86/conv_igemm.cc): each output pixel's
// whole R x S x C window gathered into one row of kc bytes, so that a stem
// conv with a small window (R*S*C <= kMaxMergedTaps, conv_igemm_weights.h)
// runs as a 1x1 conv over those rows. The weights are packed in the same
// order (merge_taps: reduction index (r*S + s)*C + c).
//
// Why: MobileNetV2's and EfficientNet-Lite0's stem (3x3, stride 2, C = 3,
// K = 32) in merged rows reduces 3 taps of 12 values (9 real) and fills 3
// row pointers per pixel with border checks; per 6 x 16 tile that is 9
// groups of 4 and about a quarter of the layer in the driver's pointer fill
// (perf, 1 thread). Gathered, a pixel is 7 groups of 4 (27 real values) and
// one pointer; the gather reads the input once.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace igemm {

// Writes out[((n * OH + oh) * OW + ow) * kc + i] for every output pixel of
// the batch, i in [0, kc): the window's values in (r, s, c) order, pad_value
// where a tap is padding, then kc - R*S*C bytes that meet zero weights
// (input bytes or zeros: any value). kc >= R*S*C, kc % 4 == 0, kc <= 32,
// R*S*C <= 32; s.groups == 1 and s.dilation_w == 1 (use_merged_taps). Runs
// output rows through parallel_for; out holds batch * OH * OW * kc bytes.
void gather_taps(const ConvShape& s, int batch, const int8_t* x, int kc, int8_t* out);

}  // namespace igemm
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
