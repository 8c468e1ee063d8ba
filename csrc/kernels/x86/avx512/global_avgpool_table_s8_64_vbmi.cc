// The table form of int8 global average pooling (ref::global_avgpool_table_s8,
// contract in kernels/abi/eltwise_s8.h), AVX-512 F/BW + VBMI: 64 channels of
// one image at a time, each channel's float sum in pixel order from 0.0f,
// exactly the reference's sequence of additions.
//
// What changes is the lookup of table[x + 128]. Table256 (s8_convert.h) looks
// up 16 floats with 8 permutes and 7 blends; here the table is held as four
// 256-byte planes (plane b = byte b of every entry; built per call, two byte
// permutes per 64 entries and plane), and one pixel's 64 codes
// look up each plane with two vpermi2b (entries 0..127 and 128..255, index
// bits 0-6) and one blend on the code's sign (x < 0 <=> x + 128 < 128):
// 8 permutes and 4 blends for 64 floats' bytes. Interleaving the planes
// (vpunpck{l,h}bw, then vpunpck{l,h}wd: 8 unpacks) gives 4 zmm of floats with
// channel 16L + 4q + j of the 64 in lane L (128-bit), dword j of zmm q. That
// order is the same for every pixel, so the 4 accumulators stay in it; at the
// end vpackssdw (zmm 0,1 and 2,3) and vpacksswb undo it within each 128-bit
// lane (exact: the values are clamped to [-128, 127] first).
// Per pixel and 64 channels: 1 load, 1 mask, 8 permutes, 4 blends, 8 unpacks,
// 4 adds, against 4 x (8 permutes + 7 blends + widen + add) through Table256.
// The values are moved, not computed: each lane adds the reference's floats
// in the reference's order, then divides by (float)HW and quantizes as it.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx512/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// Byte b of each of the 256 table entries, as entries 0..127 (lo[0], lo[1])
// and 128..255 (hi[0], hi[1]), 64 bytes a register.
struct BytePlane {
  __m512i lo[2], hi[2];
};

// Bytes b of entries 64g..64g+63: a two-register byte permute picks byte
// 4i + b of entries 32h..32h+31 (h = 2g, 2g + 1), one per half.
inline __m512i plane_bytes(const float* table, int g, __m512i pick) {
  const float* t = table + 64 * g;
  const __m512i a = _mm512_permutex2var_epi8(_mm512_castps_si512(_mm512_loadu_ps(t)), pick,
                                             _mm512_castps_si512(_mm512_loadu_ps(t + 16)));
  const __m512i b = _mm512_permutex2var_epi8(_mm512_castps_si512(_mm512_loadu_ps(t + 32)), pick,
                                             _mm512_castps_si512(_mm512_loadu_ps(t + 48)));
  return _mm512_inserti64x4(a, _mm512_castsi512_si256(b), 1);
}

BytePlane byte_plane(const float* table, int b) {
  alignas(64) int8_t pick[64];
  for (int i = 0; i < 64; ++i) pick[i] = static_cast<int8_t>(4 * (i % 32) + b);
  const __m512i idx = _mm512_load_si512(pick);
  return {{plane_bytes(table, 0, idx), plane_bytes(table, 1, idx)},
          {plane_bytes(table, 2, idx), plane_bytes(table, 3, idx)}};
}

// Byte b of table[x + 128] for the 64 codes x; neg: the codes < 0.
inline __m512i look_up(const BytePlane& p, __m512i x, __mmask64 neg) {
  const __m512i lo = _mm512_permutex2var_epi8(p.lo[0], x, p.lo[1]);
  const __m512i hi = _mm512_permutex2var_epi8(p.hi[0], x, p.hi[1]);
  return _mm512_mask_blend_epi8(neg, hi, lo);
}

}  // namespace

void global_avgpool_table_vbmi(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table,
                               float inv_scale, int8_t* y) {
  const BytePlane b0 = byte_plane(table, 0), b1 = byte_plane(table, 1);
  const BytePlane b2 = byte_plane(table, 2), b3 = byte_plane(table, 3);
  const __m512 count = _mm512_set1_ps(static_cast<float>(HW)), inv = _mm512_set1_ps(inv_scale);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int c = c0; c < c1; c += 64) {
    const __mmask64 k = mask64(c1 - c);
    __m512 sum[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int8_t* p = x + c;
    for (int64_t i = 0; i < HW; ++i, p += C) {
      const __m512i v = _mm512_maskz_loadu_epi8(k, p);
      const __mmask64 neg = _mm512_movepi8_mask(v);
      const __m512i y0 = look_up(b0, v, neg), y1 = look_up(b1, v, neg);
      const __m512i y2 = look_up(b2, v, neg), y3 = look_up(b3, v, neg);
      const __m512i w01l = _mm512_unpacklo_epi8(y0, y1), w01h = _mm512_unpackhi_epi8(y0, y1);
      const __m512i w23l = _mm512_unpacklo_epi8(y2, y3), w23h = _mm512_unpackhi_epi8(y2, y3);
      sum[0] = _mm512_add_ps(sum[0], _mm512_castsi512_ps(_mm512_unpacklo_epi16(w01l, w23l)));
      sum[1] = _mm512_add_ps(sum[1], _mm512_castsi512_ps(_mm512_unpackhi_epi16(w01l, w23l)));
      sum[2] = _mm512_add_ps(sum[2], _mm512_castsi512_ps(_mm512_unpacklo_epi16(w01h, w23h)));
      sum[3] = _mm512_add_ps(sum[3], _mm512_castsi512_ps(_mm512_unpackhi_epi16(w01h, w23h)));
    }
    __m512i q[4];
    for (int j = 0; j < 4; ++j) {
      q[j] = _mm512_cvtps_epi32(clamp_ps(_mm512_mul_ps(_mm512_div_ps(sum[j], count), inv), lo, hi));
    }
    const __m512i codes = _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
    _mm512_mask_storeu_epi8(y + c, k, codes);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
