// ref/requantize.h's int8 epilogue on rows of 16-channel blocks with both
// conversions as exact magic-number additions instead of VCVTDQ2PS /
// VCVTPS2DQ (port 0 only on the AMX cores, where they did not overlap the
// tile products: RESULTS.md sections 199 and 207). For the AMX kernels'
// packed int8 rows (compiled natively and in the emulated twins, like
// avx512vnni/epilogue.h, whose operands and row store it shares).
//
// Let M = 1.5 * 2^23 (bits 0x4B400000). Floats in [2^23, 2^24) are exactly
// the integers there, so:
//   int32 -> float: a kernel whose accumulators start at 0x4B400000 (added
//     to its initial sums at pack time; int32 adds wrap, the sum is exact)
//     ends with the bits 0x4B400000 + acc, which read as a float are M + acc
//     exactly when -2^22 <= acc <= 2^22; minus M is then float(acc) exactly
//     (an integer of at most 2^22: no rounding), as the reference's cast.
//     Outside that range the bits are not M + acc: the caller proves the
//     bound per channel at pack time (x86/conv_amx_direct.h,
//     amx_direct_acc_bound) and takes the plain epilogue where it fails.
//   float -> int32: after the clamp t is in [-128, 127]; t + M rounds t
//     half to even (the reference's round_to_s8 is this same addition) and
//     its bits are 0x4B400000 + rne(t); minus 0x4B400000 (an integer
//     subtraction) is rne(t). No bound needed.
// The rest (scale, bias, residual, clamp, narrowing) is the reference's
// order, one rounding each, as store_requantized_row.
#pragma once

#include <cstdint>

#include "kernels/x86/avx512vnni/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512vnni) {

// The bits a magic-path accumulator starts from (added to its initial sums).
constexpr int32_t kMagicAccBits = 0x4B400000;
// The largest |acc| for which the bits kMagicAccBits + acc are the float
// M + acc.
constexpr int64_t kMagicAccLimit = int64_t{1} << 22;

// store_requantized_row<NB> for accumulators that started at kMagicAccBits
// (each acc[j] lane: kMagicAccBits + the true sum, |sum| <= kMagicAccLimit).
template <int NB>
inline void store_requantized_row_magic(const __m512i* acc, const ChannelEpilogue* ce, int nc, const int8_t* res,
                                        float residual_scale, __m512 lo, __m512 hi, int8_t* y, __m512i flip,
                                        __m128i res_flip) {
  const __m512 m = _mm512_set1_ps(12582912.0f);  // 1.5 * 2^23
  const __m512i mbits = _mm512_set1_epi32(kMagicAccBits);
  __m512i q[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  #pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    if (16 * j >= nc) break;
    __m512 t = _mm512_sub_ps(_mm512_castsi512_ps(acc[j]), m);  // float(sum), exact
    t = _mm512_mul_ps(t, ce[j].scale);
    t = _mm512_add_ps(t, ce[j].bias);
    if (res) {
      __m128i r8 = _mm_maskz_loadu_epi8(ce[j].m, res + 16 * j);
#if INT8RT_EPILOGUE_U8_CODES
      r8 = _mm_xor_si128(r8, res_flip);
#endif
      __m512 r = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8));
      r = _mm512_mul_ps(r, _mm512_set1_ps(residual_scale));
      t = _mm512_add_ps(t, r);
    }
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    q[j] = _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(t, m)), mbits);  // rne(t)
  }
  (void)res_flip;
  store_narrowed_row(q, nc, y, flip);
}

}  // namespace INT8RT_X86_NS(avx512vnni)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
