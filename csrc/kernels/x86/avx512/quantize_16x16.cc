// float32 <-> int8 conversion microkernels, AVX-512 F/BW/VL (contract and
// formulas in kernels/abi/eltwise_s8.h). Quantize adds the zero point z
// after the multiply (two roundings, no FMA: ref quantize_value).
//
// Contiguous: 64 values per iteration (4 zmm), the tail through masks.
// Transposing (NCHW float <-> NHWC int8): tiles of 16 channels x 16 pixels;
// quantizing three channels (RGB input) interleaves 16 pixels by byte shuffles.
// Quantize loads 16 pixels of each channel (one zmm), converts to 16 bytes
// (one xmm row per channel), transposes the 16 x 16 bytes in xmm registers
// (unpack epi8/16/32/64) and stores 16 channels of each pixel; dequantize
// runs the same transpose the other way round before widening. Partial
// tiles load zeros and store through byte / float masks.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx512/s8_convert.h"
#include "kernels/x86/interleave3.h"
#include "kernels/x86/transpose16x16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// The constants of one quantize call.
struct QConsts {
  __m512 inv, z, lo, hi;
  QConsts(float inv_scale, float zero_point)
      : inv(_mm512_set1_ps(inv_scale)), z(_mm512_set1_ps(zero_point)),
        lo(_mm512_set1_ps(-128.0f)), hi(_mm512_set1_ps(127.0f)) {}
};

__m128i quantize16(__m512 x, const QConsts& k) {
  return to_s8(clamp_ps(_mm512_add_ps(_mm512_mul_ps(x, k.inv), k.z), k.lo, k.hi));
}

// Three channels (an RGB image, the input of most CNNs): 16 pixels of each
// channel quantized to 16 bytes, interleaved into the 48 output bytes by
// byte shuffles (x86/interleave3.h). The 16 x 16 transpose would spend 13
// empty rows and a masked store per pixel on it.
void quantize_3_channels(const TransposeBlock& blk, const QConsts& k) {
  const float* x = static_cast<const float*>(blk.x);
  int8_t* y = static_cast<int8_t*>(blk.y);
  for (int64_t p = blk.p0; p < blk.p1; p += 16) {
    const int64_t np = blk.p1 - p < 16 ? blk.p1 - p : 16;
    const __mmask16 pm = mask16(np);
    __m128i c[3];
    for (int ch = 0; ch < 3; ++ch) c[ch] = quantize16(_mm512_maskz_loadu_ps(pm, x + ch * blk.HW + p), k);
    int8_t* out = y + p * 3;
    for (int v16 = 0; v16 < 3; ++v16) {
      const __m128i v = interleave3(c, v16);
      const int64_t bytes = 3 * np - 16 * v16;  // bytes of this vector that are pixels of the block
      if (bytes >= 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * v16), v);
      } else if (bytes > 0) {
        _mm_mask_storeu_epi8(out + 16 * v16, mask16(bytes), v);
      }
    }
  }
}

}  // namespace

void quantize(int64_t n, const float* x, float inv_scale, float z, int8_t* q) {
  const QConsts k(inv_scale, z);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int v = 0; v < 4; ++v) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 16 * v), quantize16(_mm512_loadu_ps(x + i + 16 * v), k));
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    _mm_mask_storeu_epi8(q + i, m, quantize16(_mm512_maskz_loadu_ps(m, x + i), k));
  }
}

void dequantize(int64_t n, const int8_t* q, float scale, float* x) {
  const __m512 s = _mm512_set1_ps(scale);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int v = 0; v < 4; ++v) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i + 16 * v));
      _mm512_storeu_ps(x + i + 16 * v, _mm512_mul_ps(s8_to_ps(b), s));
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(s8_to_ps(_mm_maskz_loadu_epi8(m, q + i)), s));
  }
}

void quantize_nchw_to_nhwc(const TransposeBlock& blk) {
  const float* x = static_cast<const float*>(blk.x);
  int8_t* y = static_cast<int8_t*>(blk.y);
  const QConsts k(blk.s, blk.z);
  if (blk.C == 3) {
    quantize_3_channels(blk, k);
    return;
  }
  __m128i r[16];
  for (int64_t p = blk.p0; p < blk.p1; p += 16) {
    const int64_t np = blk.p1 - p < 16 ? blk.p1 - p : 16;
    const __mmask16 pm = mask16(np);
    for (int64_t c = 0; c < blk.C; c += 16) {
      const int64_t nc = blk.C - c < 16 ? blk.C - c : 16;
      for (int i = 0; i < 16; ++i) {
        r[i] = i < nc ? quantize16(_mm512_maskz_loadu_ps(pm, x + (c + i) * blk.HW + p), k) : _mm_setzero_si128();
      }
      transpose16x16(r);
      const __mmask16 cm = mask16(nc);
      for (int j = 0; j < np; ++j) _mm_mask_storeu_epi8(y + (p + j) * blk.C + c, cm, r[j]);
    }
  }
}

void dequantize_nhwc_to_nchw(const TransposeBlock& blk) {
  const int8_t* x = static_cast<const int8_t*>(blk.x);
  float* y = static_cast<float*>(blk.y);
  const __m512 s = _mm512_set1_ps(blk.s);
  __m128i r[16];
  for (int64_t p = blk.p0; p < blk.p1; p += 16) {
    const int64_t np = blk.p1 - p < 16 ? blk.p1 - p : 16;
    const __mmask16 pm = mask16(np);
    for (int64_t c = 0; c < blk.C; c += 16) {
      const int64_t nc = blk.C - c < 16 ? blk.C - c : 16;
      const __mmask16 cm = mask16(nc);
      for (int j = 0; j < 16; ++j) {
        r[j] = j < np ? _mm_maskz_loadu_epi8(cm, x + (p + j) * blk.C + c) : _mm_setzero_si128();
      }
      transpose16x16(r);
      for (int i = 0; i < nc; ++i) {
        _mm512_mask_storeu_ps(y + (c + i) * blk.HW + p, pm, _mm512_mul_ps(s8_to_ps(r[i]), s));
      }
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
