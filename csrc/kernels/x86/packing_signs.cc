// The sign-pattern packing (layout in packing_signs.h): 16 sign-flipped
// copies of every 32-byte group of a plain c4 packing.
#include "kernels/x86/packing_signs.h"

#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace x86 {

int64_t sign_pattern_bytes(const IgemmLayout& L) {
  return int64_t{L.groups} * L.nbk * L.block_stride * kSignPatterns;
}

PackedIgemmWeights expand_sign_patterns(const PackedIgemmWeights& plain) {
  const IgemmLayout& L = plain.layout;
  if (L.block != 8 || L.cgroup != 4 || L.elem_bytes != 1 || L.strip != 1 || plain.comp.size() ||
      !plain.res_begin.empty()) {
    throw InvalidArgument("expand_sign_patterns: needs a plain int8 packing of block 8, c4, strip 1");
  }
  constexpr int kGroup = 32;  // 8 channels x 4 inputs
  PackedIgemmWeights out{IgemmLayout(L.groups, L.kg, L.cg, L.taps, L.block, L.cgroup, kSignPatterns, L.strip),
                         AlignedBuffer<int8_t>(sign_pattern_bytes(L)), {}, {}, {}};
  const int64_t groups = int64_t{L.groups} * L.nbk * L.taps * L.q;  // every 32-byte group, in order
  const int8_t* src = plain.w.data();
  int8_t* dst = out.w.data();
  for (int64_t i = 0; i < groups; ++i, src += kGroup) {
    for (int s = 0; s < kSignPatterns; ++s, dst += kGroup) {
      for (int b = 0; b < kGroup; ++b) {
        const int e = b % 4;  // the input of this byte within the group
        dst[b] = (s >> e) & 1 ? static_cast<int8_t>(-src[b]) : src[b];
      }
    }
  }
  return out;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
