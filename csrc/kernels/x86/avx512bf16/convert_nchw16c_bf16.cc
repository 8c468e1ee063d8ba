// NCHW planes -> one BF16 channel block (the BF16 region's entry,
// int8rt.ToBf16x16c), AVX-512 with AVX512-BF16: contract in
// kernels/abi/nchw16c_bf16.h (to_blocked).
//
// Per 16 pixels: the planes in pairs (c, c + 1) as one zmm of 32 BF16
// values (float32 rows by VCVTNE2PS2BF16: round to nearest even, as
// bf16::from_f32; bfloat16 rows by two masked loads, the bits as they are),
// then 8 output zmm of 2 pixels' 16-lane lines each: per pair one
// VPERMW (lane (h, ch) of the output takes pixel 2k + h of channel ch from
// the pair ch / 2), masked to the pair's lanes and ORed; lanes past cw stay
// +0. A tail of fewer than 16 pixels uses masked loads and stores. In
// place of the layer's scalar gather (one from_f32 and 16 stores per
// pixel: 0.2 ms for ResNet-50's 224 x 224 image at batch 1, RESULTS.md
// section 149). planes_to_blocked_bf16 is the same with planes `plane`
// apart (a stem's rows of its float image, stem_f32_bf16.h).
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/avx512bf16/stem_f32_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {

void to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t cw, uint16_t* y) {
  planes_to_blocked_bf16(xf, xh, P, P, cw, y);
}

void planes_to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t plane, int64_t cw, uint16_t* y) {
  const int64_t pairs = (cw + 1) / 2;
  // idx[k]: output lane (h, ch) of pixels 2k, 2k + 1 reads source lane
  // (ch % 2) * 16 + 2k + h; keep[s]: the lanes of pair s (channels < cw).
  alignas(64) int16_t idx[8][32];
  alignas(64) uint16_t keep[8][32];
  for (int k = 0; k < 8; ++k) {
    for (int l = 0; l < 32; ++l) idx[k][l] = static_cast<int16_t>((l % 2) * 16 + 2 * k + l / 16);
  }
  for (int64_t s = 0; s < pairs; ++s) {
    for (int l = 0; l < 32; ++l) keep[s][l] = (l % 16) / 2 == s && l % 16 < cw ? 0xFFFF : 0;
  }
  alignas(64) int16_t up_idx[32];  // lane l takes lane l - 16 (mod 32): the low half moved up
  for (int l = 0; l < 32; ++l) up_idx[l] = static_cast<int16_t>((l + 16) % 32);
  const __m512i up = _mm512_loadu_si512(up_idx);
  for (int64_t p = 0; p < P; p += 16) {
    const int64_t n = std::min<int64_t>(16, P - p);
    const __mmask16 m16 = n == 16 ? 0xFFFF : static_cast<__mmask16>((1u << n) - 1);
    __m512i src[8];
    for (int64_t s = 0; s < pairs; ++s) {
      const int64_t c = 2 * s;
      const bool odd = c + 1 < cw;
      if (xf) {
        const __m512 lo = _mm512_maskz_loadu_ps(m16, xf + c * plane + p);
        const __m512 hi = odd ? _mm512_maskz_loadu_ps(m16, xf + (c + 1) * plane + p) : _mm512_setzero_ps();
        src[s] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
      } else {
        const __m512i lo = _mm512_maskz_loadu_epi16(m16, xh + c * plane + p);  // lanes 16.. +0
        src[s] = odd ? _mm512_or_si512(lo, _mm512_permutexvar_epi16(up, _mm512_maskz_loadu_epi16(m16, xh + (c + 1) * plane + p)))
                     : lo;
      }
    }
    for (int64_t k = 0; 2 * k < n; ++k) {
      const __m512i ix = _mm512_loadu_si512(idx[k]);
      __m512i out = _mm512_setzero_si512();
      for (int64_t s = 0; s < pairs; ++s) {
        out = _mm512_or_si512(out, _mm512_and_si512(_mm512_permutexvar_epi16(ix, src[s]),
                                                    _mm512_loadu_si512(keep[s])));
      }
      uint16_t* line = y + (p + 2 * k) * 16;
      if (2 * k + 1 < n) {
        _mm512_storeu_si512(line, out);
      } else {
        _mm512_mask_storeu_epi16(line, 0xFFFF, out);
      }
    }
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
