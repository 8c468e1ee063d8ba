// A 256-entry float table looked up by int8 codes (entry x + 128) 64 codes
// at a time, AVX-512 F/BW + VBMI (include only from files built with
// -mavx512vbmi; RESULTS.md sections 146 and 153). Table256 (s8_convert.h)
// looks up 16 floats with 8 permutes and 7 blends; here the table is held as
// four 256-byte planes (plane b = byte b of every entry; built once, two byte
// permutes per 64 entries and plane), and 64 codes look up each plane with
// two vpermi2b (entries 0..127 and 128..255, index bits 0-6) and one blend on
// the code's sign (x < 0 <=> x + 128 < 128): 8 permutes and 4 blends for 64
// floats' bytes. Interleaving the planes (vpunpck{l,h}bw, then
// vpunpck{l,h}wd: 8 unpacks) gives 4 zmm of floats with code 16L + 4q + j of
// the 64 in lane L (128-bit), dword j of zmm q: the order
// to_s8_x4_packed's packs undo. The values are moved, not computed.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

class TablePlanes {
 public:
  explicit TablePlanes(const float* table) {
    for (int b = 0; b < 4; ++b) p_[b] = byte_plane(table, b);
  }

  // v[q] lane L dword j = table[x[16L + 4q + j] + 128].
  void look_up(__m512i x, __m512 v[4]) const {
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i y0 = plane(p_[0], x, neg), y1 = plane(p_[1], x, neg);
    const __m512i y2 = plane(p_[2], x, neg), y3 = plane(p_[3], x, neg);
    const __m512i w01l = _mm512_unpacklo_epi8(y0, y1), w01h = _mm512_unpackhi_epi8(y0, y1);
    const __m512i w23l = _mm512_unpacklo_epi8(y2, y3), w23h = _mm512_unpackhi_epi8(y2, y3);
    v[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(w01l, w23l));
    v[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(w01l, w23l));
    v[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(w01h, w23h));
    v[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(w01h, w23h));
  }

 private:
  // Byte b of each of the 256 table entries, as entries 0..127 (lo[0], lo[1])
  // and 128..255 (hi[0], hi[1]), 64 bytes a register.
  struct BytePlane {
    __m512i lo[2], hi[2];
  };

  // Bytes b of entries 64g..64g+63: a two-register byte permute picks byte
  // 4i + b of entries 32h..32h+31 (h = 2g, 2g + 1), one per half.
  static __m512i plane_bytes(const float* table, int g, __m512i pick) {
    const float* t = table + 64 * g;
    const __m512i a = _mm512_permutex2var_epi8(_mm512_castps_si512(_mm512_loadu_ps(t)), pick,
                                               _mm512_castps_si512(_mm512_loadu_ps(t + 16)));
    const __m512i b = _mm512_permutex2var_epi8(_mm512_castps_si512(_mm512_loadu_ps(t + 32)), pick,
                                               _mm512_castps_si512(_mm512_loadu_ps(t + 48)));
    return _mm512_inserti64x4(a, _mm512_castsi512_si256(b), 1);
  }

  static BytePlane byte_plane(const float* table, int b) {
    alignas(64) int8_t pick[64];
    for (int i = 0; i < 64; ++i) pick[i] = static_cast<int8_t>(4 * (i % 32) + b);
    const __m512i idx = _mm512_load_si512(pick);
    return {{plane_bytes(table, 0, idx), plane_bytes(table, 1, idx)},
            {plane_bytes(table, 2, idx), plane_bytes(table, 3, idx)}};
  }

  // Byte b of table[x + 128] for the 64 codes x; neg: the codes < 0.
  static __m512i plane(const BytePlane& p, __m512i x, __mmask64 neg) {
    const __m512i lo = _mm512_permutex2var_epi8(p.lo[0], x, p.lo[1]);
    const __m512i hi = _mm512_permutex2var_epi8(p.hi[0], x, p.hi[1]);
    return _mm512_mask_blend_epi8(neg, hi, lo);
  }

  BytePlane p_[4];
};

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
