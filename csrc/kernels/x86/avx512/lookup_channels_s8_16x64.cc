// Per-channel int8 table lookup, AVX-512 F/BW + VBMI (contract in
// kernels/abi/eltwise_s8.h LookupChannelGroupFn): y[p][c] = tables[c][x[p][c] + 128]
// over one group of <= 64 channels of rows `stride` bytes apart.
//
// Each channel has its own table, so the lookup runs channel-major with the
// table in registers: a block of 64 pixels x 16 channels is transposed so
// one zmm holds one channel's 64 pixels, looked up there, and transposed
// back. Block: 16 zmm, zmm g = pixels 4g..4g+3 (one 128-bit lane each, 16
// channels); vpermb regroups it channel-major (dword c = channel c of the 4
// pixels) and transpose16_regs turns the 16 x 16 dwords into zmm c = channel
// c, byte 4g + q = pixel 4g + q. The table's 256 bytes are 4 zmm (the
// tables as given, no re-layout): vpermi2b on each 128-entry half by x's
// low 7 bits, the half chosen by x's sign. Channels past the group and
// pixels past the end are masked off on load (zeros, not looked up) and on
// store. A call covers one group of <= 64 channels (the driver's task), all
// its 64-pixel blocks in turn, so the group's 16 KiB of tables stay in L1.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx512/transpose16_regs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// byte 4c + q <- byte 16q + c, and back.
struct Regroup {
  __m512i to_channels, to_pixels;
  Regroup() {
    alignas(64) uint8_t fw[64], bw[64];
    for (int c = 0; c < 16; ++c) {
      for (int q = 0; q < 4; ++q) {
        fw[4 * c + q] = static_cast<uint8_t>(16 * q + c);
        bw[16 * q + c] = static_cast<uint8_t>(4 * c + q);
      }
    }
    to_channels = _mm512_load_si512(fw);
    to_pixels = _mm512_load_si512(bw);
  }
};

// The pixels [p0, p0 + n) (n <= 64) x channels [c0, c0 + nc) (nc <= 16).
// kFull (n == 64, nc == 16, most blocks): plain 16-byte loads and stores,
// which fold into the inserts and extracts (0.6-0.75x the masked form's
// time, benchmarks/RESULTS.md section 124); else masked ones.
template <bool kFull>
void block(const Regroup& g, int64_t n, int nc, int64_t stride, const int8_t* x, const int8_t* tables, int8_t* y) {
  const __mmask16 cm = static_cast<__mmask16>((1u << nc) - 1);
  auto load = [&](int64_t p) -> __m128i {
    if (kFull) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + p * stride));
    return p < n ? _mm_maskz_loadu_epi8(cm, x + p * stride) : _mm_setzero_si128();
  };
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) {
    __m512i v = _mm512_castsi128_si512(load(4 * i));
    v = _mm512_inserti32x4(v, load(4 * i + 1), 1);
    v = _mm512_inserti32x4(v, load(4 * i + 2), 2);
    v = _mm512_inserti32x4(v, load(4 * i + 3), 3);
    r[i] = _mm512_castsi512_ps(_mm512_permutexvar_epi8(g.to_channels, v));
  }
  transpose16_regs(r, t);
  // vpermi2b reads an index's low 7 bits, which x and x + 128 share: x
  // indexes both 128-entry halves as it is, and its sign bit (set: x + 128
  // < 128) picks the lower half.
  for (int c = 0; c < nc; ++c) {
    const int8_t* tb = tables + c * 256;
    const __m512i u = _mm512_castps_si512(t[c]);
    const __m512i lo = _mm512_permutex2var_epi8(_mm512_loadu_si512(tb), u, _mm512_loadu_si512(tb + 64));
    const __m512i hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(tb + 128), u, _mm512_loadu_si512(tb + 192));
    t[c] = _mm512_castsi512_ps(_mm512_mask_blend_epi8(_mm512_movepi8_mask(u), hi, lo));
  }
  for (int c = nc; c < 16; ++c) t[c] = _mm512_setzero_ps();
  transpose16_regs(t, r);
  for (int i = 0; i < 16 && 4 * i < n; ++i) {
    const __m512i v = _mm512_permutexvar_epi8(g.to_pixels, _mm512_castps_si512(r[i]));
    const __m128i lane[4] = {_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32(v, 1),
                             _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
    for (int q = 0; q < 4 && 4 * i + q < n; ++q) {
      int8_t* out = y + (4 * i + q) * stride;
      if (kFull) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), lane[q]);
      } else {
        _mm_mask_storeu_epi8(out, cm, lane[q]);
      }
    }
  }
}

}  // namespace

void lookup_channels(int64_t pixels, int64_t stride, int channels, const int8_t* x, const int8_t* tables, int8_t* y) {
  const Regroup g;
  for (int64_t p0 = 0; p0 < pixels; p0 += 64) {
    const int64_t n = std::min<int64_t>(64, pixels - p0);
    for (int c0 = 0; c0 < channels; c0 += 16) {
      const int nc = std::min(16, channels - c0);
      const int64_t at = p0 * stride + c0;
      if (n == 64 && nc == 16) {
        block<true>(g, n, nc, stride, x + at, tables + c0 * 256, y + at);
      } else {
        block<false>(g, n, nc, stride, x + at, tables + c0 * 256, y + at);
      }
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
