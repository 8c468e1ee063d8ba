// The table form of int8 global average pooling (ref::global_avgpool_table_s8,
// contract in kernels/abi/eltwise_s8.h), AVX-512 F/BW + VBMI: 64 channels of
// one image at a time, each channel's float sum in pixel order from 0.0f,
// exactly the reference's sequence of additions.
//
// What changes is the lookup of table[x + 128]. Table256 (s8_convert.h) looks
// up 16 floats with 8 permutes and 7 blends; here (TablePlanes,
// table_planes.h) the table is held as four 256-byte planes (plane b = byte
// b of every entry; built per call, two byte permutes per 64 entries and
// plane), and one pixel's 64 codes
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
#include "kernels/x86/avx512/table_planes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
void global_avgpool_table_vbmi(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table,
                               float inv_scale, int8_t* y) {
  const TablePlanes planes(table);
  const __m512 count = _mm512_set1_ps(static_cast<float>(HW)), inv = _mm512_set1_ps(inv_scale);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int c = c0; c < c1; c += 64) {
    const __mmask64 k = mask64(c1 - c);
    __m512 sum[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int8_t* p = x + c;
    for (int64_t i = 0; i < HW; ++i, p += C) {
      __m512 v[4];
      planes.look_up(_mm512_maskz_loadu_epi8(k, p), v);
      for (int j = 0; j < 4; ++j) sum[j] = _mm512_add_ps(sum[j], v[j]);
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
