// Two int8 output rows of the AMX GEMM microkernel's epilogue
// (amx/igemm_32x32c4.cc) requantized together, with the clamp done on the
// narrowed bytes: the same bytes as ref/requantize.h's
//   t = cvt(acc) * scale;  t = t + bias;  t = t + cvt(res) * rs;
//   t = clamp(t, lo, hi);  q = round_half_even(t)
// in fewer vector instructions than avx512vnni/epilogue.h's
// store_requantized_row (float max / min per 16 lanes, one pack, permute and
// xor per row): here q' = cvtps2dq(t) (RNE), saturated to [-128, 127] by the
// packs, then max / min with round(lo), round(hi) on the 64 packed bytes of
// both rows (only where they bind), one xor and one permute per row.
//
// Why the bytes are the reference's (R = round half to even, monotone):
// byte_clamp_ok() checks that |t| < 2^30 for every operand a step can see
// (|acc| <= kchunks * 64 * 128 * 128, |scale|, |bias|, 128 |rs| of its
// channels; call_bytes_ok: all of a call's channels, once per call), so t
// is finite and cvtps2dq gives R(t) exactly
// (no 0x80000000 "indefinite"). check_epilogue puts lo <= hi inside
// [-128, 127], so R(lo) <= R(hi) are bytes, and
//   t < lo:  R(t) <= R(lo), so clamp(sat8(R(t)), R(lo), R(hi)) = R(lo) = R(clamp(t));
//   t > hi:  symmetrically R(hi);  lo <= t <= hi: R(t) in [R(lo), R(hi)], untouched.
// Calls that fail the check (huge scales, NaN / inf operands) keep the
// float clamps of store_requantized_row.
//
// Emulated build (INT8RT_X86_EMULATED, tests): the byte max / min as loops
// (avx512_emulation.h has no vpmaxsb), no xors (the caller's byte loops).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/avx512vnni/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

namespace ve = INT8RT_X86_NS(avx512vnni);

// Whether every |t| of a step over channels ce[0..1] (masked lanes zero)
// stays below 2^30: the bound of the file comment, in float (each of its
// roundings is relative 2^-24; 2^30 leaves a factor 2 to 2^31). NaN or
// infinite operands compare false.
inline bool byte_clamp_ok(const ve::ChannelEpilogue* ce, int kchunks, bool residual, float residual_scale) {
  const __m512 acc_max = _mm512_set1_ps(static_cast<float>(kchunks) * 64.0f * 16384.0f);
  const __m512 res_max = _mm512_set1_ps(residual ? std::fabs(residual_scale) * 128.0f : 0.0f);
  const __m512 minus = _mm512_set1_ps(-1.0f), limit = _mm512_set1_ps(1073741824.0f);
  bool ok = true;
  for (int j = 0; j < 2; ++j) {
    const __m512 s = _mm512_max_ps(ce[j].scale, _mm512_mul_ps(ce[j].scale, minus));
    const __m512 b = _mm512_max_ps(ce[j].bias, _mm512_mul_ps(ce[j].bias, minus));
    const __m512 bound = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(s, acc_max), b), res_max);
    ok = ok && _mm512_cmp_ps_mask(bound, limit, _CMP_LT_OQ) == static_cast<__mmask16>(0xFFFF);
  }
  return ok;
}

// byte_clamp_ok over channels [0, nc) of ep (a whole call's, checked once
// for all its steps), with the bounds inside [-128, 127].
inline bool call_bytes_ok(const TileEpilogue& ep, int nc, int kchunks) {
  if (!(ep.lo >= -128.0f && ep.hi <= 127.0f)) return false;
  for (int c = 0; c < nc; c += 32) {
    const int n = nc - c < 32 ? nc - c : 32;
    const ve::ChannelEpilogue ce[2] = {ve::load_channel_epilogue(ep, c, n < 16 ? n : 16),
                                       ve::load_channel_epilogue(ep, c + 16, n > 16 ? n - 16 : 0)};
    if (!byte_clamp_ok(ce, kchunks, ep.residual != nullptr, ep.residual_scale)) return false;
  }
  return true;
}

// Clamps each signed byte of v to [lo, hi] (lo8 / hi8: the bounds in every byte).
inline __m512i clamp_bytes(__m512i v, bool do_lo, __m512i lo8, bool do_hi, __m512i hi8) {
#if defined(INT8RT_X86_EMULATED)
  alignas(64) int8_t x[64], l[64], h[64];
  _mm512_storeu_si512(x, v);
  _mm512_storeu_si512(l, lo8);
  _mm512_storeu_si512(h, hi8);
  for (int i = 0; i < 64; ++i) {
    if (do_lo && x[i] < l[i]) x[i] = l[i];
    if (do_hi && x[i] > h[i]) x[i] = h[i];
  }
  return _mm512_load_si512(x);
#else
  if (do_lo) v = _mm512_max_epi8(v, lo8);
  if (do_hi) v = _mm512_min_epi8(v, hi8);
  return v;
#endif
}

// 16 residual bytes at p: all of them (kFull, no mask) or the lanes of m.
template <bool kFull>
inline __m128i load_residual16(const int8_t* p, __mmask16 m) {
#if defined(INT8RT_X86_EMULATED)
  return _mm_maskz_loadu_epi8(kFull ? static_cast<__mmask16>(0xFFFF) : m, p);
#else
  if constexpr (kFull) {
    (void)m;
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  } else {
    return _mm_maskz_loadu_epi8(m, p);
  }
#endif
}

// cvtps2dq of one block's t (clamps left to the bytes); kFull: all 16 lanes valid.
template <bool kResidual, bool kFull = false>
inline __m512i requantize_block(__m512i acc, const ve::ChannelEpilogue& ce, const int8_t* res, __m512 rs,
                                __m128i res_flip) {
  __m512 t = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), ce.scale), ce.bias);
  if constexpr (kResidual) {
    __m128i r8 = load_residual16<kFull>(res, ce.m);
#if INT8RT_EPILOGUE_U8_CODES
    r8 = _mm_xor_si128(r8, res_flip);
#else
    (void)res_flip;
#endif
    t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8)), rs));
  }
  return _mm512_cvtps_epi32(t);
}

// Bounds and constants of a step's two-row stores.
struct Rows2 {
  const ve::ChannelEpilogue* ce;
  int nc;                   // valid channels, 1..32
  __m512 rs;                // residual scale in every lane
  __m512i lo8, hi8, flip;   // R(lo), R(hi), the output xor, in every byte
  bool do_lo, do_hi;        // whether R(lo) > -128 / R(hi) < 127
  __m128i res_flip;         // the residual xor in every byte
};

inline Rows2 make_rows2(const ve::ChannelEpilogue* ce, int nc, const TileEpilogue& ep, int out_xor) {
  const int lo = static_cast<int>(std::nearbyint(ep.lo)), hi = static_cast<int>(std::nearbyint(ep.hi));
  Rows2 r;
  r.ce = ce;
  r.nc = nc;
  r.rs = _mm512_set1_ps(ep.residual_scale);
  // Bytes broadcast as dwords (set1_epi8 is not emulated).
  auto bytes = [](int b) { return _mm512_set1_epi32(static_cast<int32_t>(0x01010101u * static_cast<uint8_t>(b))); };
  r.lo8 = bytes(lo);
  r.hi8 = bytes(hi);
  r.flip = bytes(out_xor);
  r.do_lo = lo > -128;
  r.do_hi = hi < 127;
#if INT8RT_EPILOGUE_U8_CODES
  r.res_flip = _mm_set1_epi8(static_cast<char>(ep.residual_xor));
#else
  r.res_flip = __m128i{};
#endif
  return r;
}

// Rows a0 / a1 (two blocks of 16 sums each, block 1 ignored where nc <= 16),
// residual rows res0 / res1 (kResidual), stored to y0 / y1. kFull: the
// step's 32 channels all valid (r.nc == 32): no lane masks, no test of nc.
template <bool kResidual, bool kFull = false>
inline void store_rows2(const Rows2& r, const __m512i* a0, const __m512i* a1, const int8_t* res0,
                        const int8_t* res1, int8_t* y0, int8_t* y1) {
  __m512i q[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  q[0] = requantize_block<kResidual, kFull>(a0[0], r.ce[0], res0, r.rs, r.res_flip);
  q[2] = requantize_block<kResidual, kFull>(a1[0], r.ce[0], res1, r.rs, r.res_flip);
  if (kFull || r.nc > 16) {
    q[1] = requantize_block<kResidual, kFull>(a0[1], r.ce[1], res0 + 16, r.rs, r.res_flip);
    q[3] = requantize_block<kResidual, kFull>(a1[1], r.ce[1], res1 + 16, r.rs, r.res_flip);
  }
  // As store_requantized_row's packs: lane L holds dwords 4L..4L+3 of q0..q3
  // in turn; `order` gathers q0, q1 (row 0) into bytes 0-31, `order1` q2, q3.
  __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
  b = clamp_bytes(b, r.do_lo, r.lo8, r.do_hi, r.hi8);
#if INT8RT_EPILOGUE_U8_CODES
  b = _mm512_xor_si512(b, r.flip);
#endif
  const __m512i order0 = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __m512i order1 = _mm512_set_epi32(13, 9, 5, 1, 12, 8, 4, 0, 15, 11, 7, 3, 14, 10, 6, 2);
  const __mmask64 m = kFull ? __mmask64{0xFFFFFFFFu} : (__mmask64{1} << r.nc) - 1;
  _mm512_mask_storeu_epi8(y0, m, _mm512_permutexvar_epi32(order0, b));
  _mm512_mask_storeu_epi8(y1, m, _mm512_permutexvar_epi32(order1, b));
}

}  // namespace
}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
