// Depthwise int8 conv microkernel, AVX512-VNNI: one output row, channels in
// passes of up to 64 (4 zmm blocks of 16).
//
// Register tile: 1 output pixel x 4 blocks of 16 channels = 4 int32
// accumulators; per tap, 4 activation and 4 weight registers.
//
// Packed weights (pack_dw_weights, block 16): [C/16][tap][16] int32, each
// the weight in the low int16 and 0 in the high int16. Activations are
// sign-extended to int32 (vpmovsxbd), so each int32 lane is the int16 pair
// (x, sign(x)) and vpdpwssd adds x * w + sign * 0 = x * w exactly.
// Padding taps are skipped (they contribute 0, as in the reference); the
// last, partial block is loaded and stored under a channel mask.
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx512vnni/epilogue.h"
#include "kernels/x86/ukernel_abi.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

// Channels [cb0*16, cb0*16 + NB*16) (clipped to C) of output pixel ow.
template <int NB>
void pixel_blocks(const DwRow& d, int ow, int cb0, int r_begin, int r_end) {
  const int taps = d.R * d.S;
  const int c0 = cb0 * 16;
  __mmask16 mask[NB];
  __m512i acc[NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    mask[j] = channel_mask(d.C - c0 - 16 * j);
    acc[j] = _mm512_setzero_si512();
  }
  const int iw0 = ow * d.stride_w - d.pad_left;
  const int ih0 = d.oh * d.stride_h - d.pad_top;
  for (int r = r_begin; r < r_end; ++r) {
    const int ih = ih0 + r * d.dilation_h;
    const int8_t* xrow = d.x + static_cast<int64_t>(ih) * d.W * d.C + c0;
    for (int s = 0; s < d.S; ++s) {
      const int iw = iw0 + s * d.dilation_w;
      if (iw < 0 || iw >= d.W) continue;
      const int8_t* xp = xrow + static_cast<int64_t>(iw) * d.C;
      const int32_t* wp = d.w + (static_cast<int64_t>(cb0) * taps + r * d.S + s) * 16;
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask[j], xp + 16 * j));
        const __m512i wv = _mm512_loadu_si512(wp + static_cast<int64_t>(j) * taps * 16);
        acc[j] = _mm512_dpwssd_epi32(acc[j], xv, wv);
      }
    }
  }
  const int64_t row = ow - d.ow_begin;
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    store_requantized(acc[j], d.ep, row, c0 + 16 * j, d.C - c0 - 16 * j);
  }
}

}  // namespace

void dwconv_row(const DwRow& d) {
  // Filter rows inside the input are the same for the whole output row.
  const int ih0 = d.oh * d.stride_h - d.pad_top;
  int r_begin = 0, r_end = d.R;
  while (r_begin < d.R && ih0 + r_begin * d.dilation_h < 0) ++r_begin;
  while (r_end > r_begin && ih0 + (r_end - 1) * d.dilation_h >= d.H) --r_end;
  const int blocks = (d.C + 15) / 16;
  for (int ow = d.ow_begin; ow < d.ow_end; ++ow) {
    int cb = 0;
    for (; cb + 4 <= blocks; cb += 4) pixel_blocks<4>(d, ow, cb, r_begin, r_end);
    switch (blocks - cb) {
      case 3: pixel_blocks<3>(d, ow, cb, r_begin, r_end); break;
      case 2: pixel_blocks<2>(d, ow, cb, r_begin, r_end); break;
      case 1: pixel_blocks<1>(d, ow, cb, r_begin, r_end); break;
      default: break;
    }
  }
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
