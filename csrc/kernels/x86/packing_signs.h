// The sign-pattern packing of the AVX2 signed-input igemm tile
// (avx2/igemm_6x16c4sp.cc; baseline code, run at pack time).
//
// From an uncompensated int8 igemm packing of block 8, c4, strip 1
// (packing.h) whose weights are all in [-127, 127]: every 32-byte group
// of a block (8 channels x 4 inputs, channel-major) becomes 16 copies of
// it, copy s holding w[l][e] * (bit e of s ? -1 : 1):
//   out[g][b][tap][q][s][l][e] = in[g][b][tap][q][l][e] * sign_s(e)
// so the layout is the input's with elem_bytes 16 (one copy's bytes per
// weight: block_stride 16 times as long), read by the same driver.
#pragma once

#include <cstdint>

#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// Copies of each group per pattern packing.
constexpr int kSignPatterns = 16;

// The sign-pattern packing of `plain` (see above); plain's layout must be
// block 8, cgroup 4, elem_bytes 1, strip 1, with no compensation or
// residual groups (throws otherwise). A -128 in plain would negate to
// itself: callers pack only weights in [-127, 127].
PackedIgemmWeights expand_sign_patterns(const PackedIgemmWeights& plain);

// Bytes expand_sign_patterns makes from a packing of layout L.
int64_t sign_pattern_bytes(const IgemmLayout& L);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
