// NCHW float32 planes -> pixel-major BF16 runs of e lanes, for the AMX
// channel-blocked conv's tap-row windows (conv_nchw16c_bf16_32x32.cc,
// ConvBf16x16c::xf of kernels/abi/nchw16c_bf16.h): n pixels of C <= e
// planes (plane c at x + c * plane) into dst[i * e + c], lanes C..e-1 +0.
// So a stem reads the network's float image directly, where it read the
// region entry's 16-lane lines (to_blocked: 32 bytes written and read back
// per pixel for 3 channels, RESULTS.md section 208).
//
// Rounding: VCVTNE2PS2BF16, the instruction of the entry's conversion
// (avx512bf16/convert_nchw16c_bf16.cc), so the stem's BF16 inputs are the
// bits the entry stored. Per 16 pixels: the planes in pairs (c, c + 1) as
// one zmm of 32 BF16 (lanes 0-15 plane c, 16-31 plane c + 1), then per 64
// output bytes one VPERMW per pair masked to its lanes and ORed. Tails
// masked.
//
// Included by the AMX kernel after amx_tile.h and emulation/avx512.h, so the
// same text is compiled natively and against the emulation headers.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

// The conversion of C <= kBf16MaxF32Channels planes into e = 2 ceil(C / 2)
// lanes (the tap-row copy's) and its lane tables, built once per call:
// idx[k][L] the source lane of output lane L of the k-th 64 bytes of a
// 16-pixel step, keep[s][L] 0xFFFF where lane L reads pair s (channel < C).
struct PixelLanes {
  int64_t C = 0, e = 0;
  alignas(64) int16_t idx[2][32];
  alignas(64) uint16_t keep[2][32];
  explicit PixelLanes(int64_t channels) : C(channels), e(2 * ((channels + 1) / 2)) {
    const int64_t per = 32 / e;  // pixels per 64 bytes
    for (int64_t k = 0; k < e / 2; ++k) {
      for (int64_t L = 0; L < 32; ++L) {
        const int64_t i = k * per + L / e, ch = L % e;  // pixel, channel
        idx[k][L] = static_cast<int16_t>((ch % 2) * 16 + i);
      }
    }
    for (int64_t s = 0; s < e / 2; ++s) {
      for (int64_t L = 0; L < 32; ++L) keep[s][L] = (L % e) / 2 == s && L % e < C ? 0xFFFF : 0;
    }
  }
};

// n pixels from x (plane c at x + c * plane) into dst[i * e + c].
inline void planes_to_pixels_bf16(const PixelLanes& lanes, const float* x, int64_t plane, int64_t n, uint16_t* dst) {
  const int64_t C = lanes.C, e = lanes.e, pairs = (C + 1) / 2;
  for (int64_t p = 0; p < n; p += 16) {
    const int64_t m = std::min<int64_t>(16, n - p);
    const __mmask16 m16 = m == 16 ? 0xFFFF : static_cast<__mmask16>((1u << m) - 1);
    __m512i src[2];
    for (int64_t s = 0; s < pairs; ++s) {
      const __m512 lo = _mm512_maskz_loadu_ps(m16, x + 2 * s * plane + p);
      const __m512 hi = 2 * s + 1 < C ? _mm512_maskz_loadu_ps(m16, x + (2 * s + 1) * plane + p) : _mm512_setzero_ps();
      src[s] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    }
    uint16_t* out = dst + p * e;
    for (int64_t k = 0; 32 * k < m * e; ++k) {
      const __m512i ix = _mm512_load_si512(lanes.idx[k]);
      __m512i v = _mm512_setzero_si512();
      for (int64_t s = 0; s < pairs; ++s) {
        const __m512i keep = _mm512_load_si512(lanes.keep[s]);
        v = _mm512_or_si512(v, _mm512_and_si512(_mm512_permutexvar_epi16(ix, src[s]), keep));
      }
      const int64_t left = m * e - 32 * k;
      _mm512_mask_storeu_epi16(out + 32 * k, left >= 32 ? ~__mmask32(0) : static_cast<__mmask32>((1u << left) - 1), v);
    }
  }
}

}  // namespace
}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
