// The epilogue of ref/requantize.h on 16 channels in a zmm register, for the
// AVX512-VNNI microkernels only (included from this folder's files, which are
// compiled with the AVX-512 flags; the functions live in this ISA's namespace
// so no other translation unit can link to them). The AMX kernels' emulated
// twins (tests, INT8RT_X86_EMULATED) compile this same text against
// kernels/x86/emulation/avx512_emulation.h, in x86::emulated::avx512vnni.
//
// Same float operations, same order, one rounding each:
//   t = cvt(acc) * scale;  t = t + bias (or + 0.0f);  t = t + cvt(res) * rs;
//   t = t >= lo ? t : lo;  t = t <= hi ? t : hi;      int8: cvtps2dq (RNE).
// For float outputs the clamps are compare + blend, not max/min: maxps
// returns its second operand for equal inputs, which would differ from the
// reference for -0.0 against a bound of +0.0. For int8 outputs that
// difference vanishes in the rounding, so they use max/min (fewer
// instructions in the kernels' hottest epilogue).
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/emulation/avx512.h"

// u8 codes (TileEpilogue::out_xor / residual_xor): the native VNNI kernels
// only. The emulated twins serve the AMX tier, whose kernel does its own u8
// output / residual xors (amx/igemm_32x32c4.cc, RESULTS.md section 150) so
// that its native and emulated builds agree; they compile without them here.
#ifdef INT8RT_X86_EMULATED
#define INT8RT_EPILOGUE_U8_CODES 0
#else
#define INT8RT_EPILOGUE_U8_CODES 1
#endif

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512vnni) {

inline __mmask16 channel_mask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// The per-channel operands of the epilogue for channels [c, c + valid) of
// the tile (valid in 1..16), loaded once for all the pixels that share them.
struct ChannelEpilogue {
  __mmask16 m;
  __m512 scale, bias;
};

inline ChannelEpilogue load_channel_epilogue(const TileEpilogue& ep, int c, int valid) {
  const __mmask16 m = channel_mask(valid);
  return {m, _mm512_maskz_loadu_ps(m, ep.scale + c),
          ep.bias ? _mm512_maskz_loadu_ps(m, ep.bias + c) : _mm512_setzero_ps()};
}

// Requantizes acc (channels [c, c + valid) of the tile, ce loaded for them)
// for output row `row` and stores it.
inline void store_requantized(__m512i acc, const ChannelEpilogue& ce, const TileEpilogue& ep,
                              int64_t row, int c) {
  const __mmask16 m = ce.m;
  __m512 t = _mm512_cvtepi32_ps(acc);
  t = _mm512_mul_ps(t, ce.scale);
  t = _mm512_add_ps(t, ce.bias);
  if (ep.residual) {
    __m128i r8 = _mm_maskz_loadu_epi8(m, ep.residual + row * ep.residual_stride + c);
#if INT8RT_EPILOGUE_U8_CODES
    r8 = _mm_xor_si128(r8, _mm_set1_epi8(static_cast<char>(ep.residual_xor)));  // the codes
#endif
    __m512 r = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8));
    r = _mm512_mul_ps(r, _mm512_set1_ps(ep.residual_scale));
    t = _mm512_add_ps(t, r);
  }
  const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
  if (ep.out_f32) {
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, lo, _CMP_GE_OQ), lo, t);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, hi, _CMP_LE_OQ), hi, t);
    _mm512_mask_storeu_ps(static_cast<float*>(ep.y) + row * ep.y_stride + c, m, t);
  } else {
    // int8 output: max/min clamp in one instruction each. They differ from
    // the blends only where t equals a bound (they return the bound, e.g.
    // +0.0 for t = -0.0), and equal values round to the same integer; t is
    // never NaN (finite accumulator, scale, bias and residual).
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    // t is within [-128, 127] (check_epilogue), so the saturating narrow is
    // exact, and so is the truncating one that keeps q's byte xor-ed with
    // ep.out_xor (u8 codes: q + 128).
#if INT8RT_EPILOGUE_U8_CODES
    _mm512_mask_cvtepi32_storeu_epi8(static_cast<int8_t*>(ep.y) + row * ep.y_stride + c, m,
                                     _mm512_xor_si512(_mm512_cvtps_epi32(t), _mm512_set1_epi32(ep.out_xor)));
#else
    _mm512_mask_cvtsepi32_storeu_epi8(static_cast<int8_t*>(ep.y) + row * ep.y_stride + c, m,
                                      _mm512_cvtps_epi32(t));
#endif
  }
}

// One int8 output row of up to 64 channels (blocks 0..nb-1, `nc` channels
// valid, ce[j] loaded for block j's valid channels): each block requantized
// as store_requantized's int8 branch does, the blocks narrowed together with
// saturating packs (exact: every value is already inside [-128, 127]) and
// stored with one byte-masked store instead of one vpmovsdb store per block
// (those stores were most of the epilogue of short-reduction 1x1 convs).
// The row's residual, if any, at `res`, each byte xor-ed with res_flip's
// (TileEpilogue::residual_xor); every byte stored xor-ed with the bytes of
// `flip` (0x80 each: u8 codes, TileEpilogue::out_xor).
template <int NB>
inline void store_requantized_row(const __m512i* acc, const ChannelEpilogue* ce, int nc, const int8_t* res,
                                  float residual_scale, __m512 lo, __m512 hi, int8_t* y, __m512i flip,
                                  __m128i res_flip) {
  __m512i q[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  #pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    if (16 * j >= nc) break;
    __m512 t = _mm512_cvtepi32_ps(acc[j]);
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
    q[j] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(t, lo), hi));
  }
  // packs work within 128-bit lanes: lane L of the packed bytes holds
  // elements 4L..4L+3 of blocks 0, 1, 2, 3 in turn; the permute moves dword
  // 4 * (d % 4) + d / 4 to d, so block j's 16 bytes land at 16 j.
  const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __mmask64 m = nc >= 64 ? ~__mmask64{0} : (__mmask64{1} << nc) - 1;
#if INT8RT_EPILOGUE_U8_CODES
  _mm512_mask_storeu_epi8(y, m, _mm512_xor_si512(_mm512_permutexvar_epi32(order, b), flip));
#else
  (void)flip, (void)res_flip;
  _mm512_mask_storeu_epi8(y, m, _mm512_permutexvar_epi32(order, b));
#endif
}

// The same with int8 codes as they are (no flip).
template <int NB>
inline void store_requantized_row(const __m512i* acc, const ChannelEpilogue* ce, int nc, const int8_t* res,
                                  float residual_scale, __m512 lo, __m512 hi, int8_t* y) {
  store_requantized_row<NB>(acc, ce, nc, res, residual_scale, lo, hi, y, _mm512_setzero_si512(), __m128i{});
}

// The same for one pixel: channels [c, c + valid), valid in 1..16.
inline void store_requantized(__m512i acc, const TileEpilogue& ep, int64_t row, int c,
                              int valid) {
  store_requantized(acc, load_channel_epilogue(ep, c, valid), ep, row, c);
}

}  // namespace INT8RT_X86_NS(avx512vnni)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
