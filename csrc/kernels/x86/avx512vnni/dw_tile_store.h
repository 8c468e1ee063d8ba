// The epilogue of an AVX512-VNNI depthwise row tile (NPIX output columns x
// NB blocks of 16 channels, int32 accumulators): shared by the pair- and
// quad-row kernels (dwconv_pairs_16c.cc, dwconv_quads_16c.cc). int8 rows go
// through epilogue.h's one-masked-store row, float outputs per block; the
// arithmetic is epilogue.h's (ref/requantize.h's, bit for bit). Included
// only from this folder's files (AVX-512 flags, this ISA's namespace).
#pragma once

#include <cstdint>

#include "kernels/x86/avx512vnni/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {

// Stores output columns [ow, ow + NPIX) x channels [c0, c0 + nc) (nc up to
// NB * 16; ce: the blocks' epilogue operands).
template <int NPIX, int NB>
inline void store_dw_tile(const __m512i (&acc)[NPIX][NB], const TileEpilogue& ep, const ChannelEpilogue* ce,
                          int nc, int ow, int c0) {
  if (!ep.out_f32) {
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    int8_t* y = static_cast<int8_t*>(ep.y) + c0;
    #pragma GCC unroll 8
    for (int i = 0; i < NPIX; ++i) {
      const int64_t at = int64_t{ow + i} * ep.y_stride;
      const int8_t* res = ep.residual ? ep.residual + int64_t{ow + i} * ep.residual_stride + c0 : nullptr;
      store_requantized_row<NB>(acc[i], ce, nc, res, ep.residual_scale, lo, hi, y + at);
    }
    return;
  }
  #pragma GCC unroll 8
  for (int i = 0; i < NPIX; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      if (16 * j < nc) store_requantized(acc[i][j], ce[j], ep, ow + i, c0 + 16 * j);
    }
  }
}

// The operands of blocks [b0, b0 + NB) of a row of C channels, loaded once
// for the row; returns the channels of the group inside C.
template <int NB>
inline int load_dw_group_epilogue(const TileEpilogue& ep, int C, int b0, ChannelEpilogue (&ce)[NB]) {
  const int nc = C - b0 * 16 < NB * 16 ? C - b0 * 16 : NB * 16;
  #pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    const int valid = nc - 16 * j;
    ce[j] = load_channel_epilogue(ep, b0 * 16 + 16 * j, valid > 0 ? valid : 0);  // mask 0: nothing read
  }
  return nc;
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
