// Depthwise int8 conv microkernel, AVX2: one output row, channels in passes
// of up to 32 (4 ymm blocks of 8).
//
// Register tile: 1 output pixel x 4 blocks of 8 channels = 4 int32
// accumulators; per tap, 4 activation and 4 weight registers.
//
// Packed weights (pack_dw_weights, block 8): [C/8][tap][8] int32, each the
// weight in the low int16 and 0 in the high int16. Activations are
// sign-extended to int32 (vpmovsxbd), i.e. int16 pairs (x, sign(x)), so
// vpmaddwd gives x * w + sign * 0 = x * w exactly. Padding taps read
// DwRow::pad_value, as in the reference: they are skipped when it is 0;
// otherwise the filter rows outside the input come from the driver as the
// accumulators' start (DwRow::acc_init) and a pixel whose window is clipped
// on the left or right adds pad_value * w for its columns outside
// (pad_value sign-extended to int32, the same pair product). The partial
// last block is read through a small buffer and stored through the
// epilogue's partial path.
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx2/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

template <int NB>
void pixel_blocks(const DwRow& d, int ow, int cb0, int r_begin, int r_end) {
  const int taps = d.R * d.S;
  const int c0 = cb0 * 8;
  int valid[NB];
  __m256i acc[NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    valid[j] = d.C - c0 - 8 * j;
    acc[j] = d.acc_init ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d.acc_init + c0 + 8 * j))
                        : _mm256_setzero_si256();
  }
  const int iw0 = ow * d.stride_w - d.pad_left;
  const int ih0 = d.oh * d.stride_h - d.pad_top;
  if (d.pad_value != 0 && (iw0 < 0 || iw0 + (d.S - 1) * d.dilation_w >= d.W)) {
    const __m256i pv = _mm256_set1_epi32(d.pad_value);
    for (int r = r_begin; r < r_end; ++r) {
      for (int s = 0; s < d.S; ++s) {
        const int iw = iw0 + s * d.dilation_w;
        if (iw >= 0 && iw < d.W) continue;
        const int32_t* wp = d.w + (static_cast<int64_t>(cb0) * taps + r * d.S + s) * 8;
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const __m256i wv = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(wp + static_cast<int64_t>(j) * taps * 8));
          acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(pv, wv));
        }
      }
    }
  }
  for (int r = r_begin; r < r_end; ++r) {
    const int ih = ih0 + r * d.dilation_h;
    const int8_t* xrow = d.x + static_cast<int64_t>(ih) * d.W * d.C + c0;
    for (int s = 0; s < d.S; ++s) {
      const int iw = iw0 + s * d.dilation_w;
      if (iw < 0 || iw >= d.W) continue;
      const int8_t* xp = xrow + static_cast<int64_t>(iw) * d.C;
      const int32_t* wp = d.w + (static_cast<int64_t>(cb0) * taps + r * d.S + s) * 8;
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m256i xv = load_s8x8(xp + 8 * j, valid[j]);
        const __m256i wv = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(wp + static_cast<int64_t>(j) * taps * 8));
        acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(xv, wv));
      }
    }
  }
  const int64_t row = ow - d.ow_begin;
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = d.ep;
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) store_requantized(acc[j], ep, row, c0 + 8 * j, valid[j]);
}

}  // namespace

void dwconv_row(const DwRow& d) {
  const int ih0 = d.oh * d.stride_h - d.pad_top;
  int r_begin = 0, r_end = d.R;
  while (r_begin < d.R && ih0 + r_begin * d.dilation_h < 0) ++r_begin;
  while (r_end > r_begin && ih0 + (r_end - 1) * d.dilation_h >= d.H) --r_end;
  const int blocks = (d.C + 7) / 8;
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

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
