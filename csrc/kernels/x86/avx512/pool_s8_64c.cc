// NHWC int8 pooling microkernels, AVX-512 F/BW/VL (contract and formulas in
// kernels/abi/eltwise_s8.h).
//
// Max: 64 channels per zmm, vpmaxsb over the window positions inside the
// input, starting from -128 (padding never wins, as the reference).
// Average: 64 channels at a time in 2 zmm of int16 sums (vpmovsxbw per 32
// bytes; a window of at most 256 positions sums to [-32768, 32512], exact in
// int16), widened to int32 at the end; larger windows and global average
// sum in 4 zmm of int32 (vpmovsxbd per 16 bytes). Integer sums, so the order
// is free. Then per 16 channels (float)(sum - positions * z_in) * mult +
// z_out, clamp, round half to even, narrow.
// Partial channel groups load zeros and store through masks.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx512/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

struct Window {
  int s0, s1;  // input columns inside the window
};

Window window(const PoolRow& r, int ow) {
  const int w0 = ow * r.stride_w - r.pad_left;
  return {w0 > 0 ? w0 : 0, w0 + r.S < r.W ? w0 + r.S : r.W};
}

// Adds the 64 (masked) bytes at p into sums[0..3] as int32.
void accumulate64(const int8_t* p, __mmask64 m, __m512i sum[4]) {
  const __m512i v = _mm512_maskz_loadu_epi8(m, p);
  sum[0] = _mm512_add_epi32(sum[0], _mm512_cvtepi8_epi32(_mm512_castsi512_si128(v)));
  sum[1] = _mm512_add_epi32(sum[1], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 1)));
  sum[2] = _mm512_add_epi32(sum[2], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 2)));
  sum[3] = _mm512_add_epi32(sum[3], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 3)));
}

// Adds the 64 (masked) bytes at p into sums[0..1] as int16.
void accumulate64_s16(const int8_t* p, __mmask64 m, __m512i sum[2]) {
  const __m512i v = _mm512_maskz_loadu_epi8(m, p);
  sum[0] = _mm512_add_epi16(sum[0], _mm512_cvtepi8_epi16(_mm512_castsi512_si256(v)));
  sum[1] = _mm512_add_epi16(sum[1], _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(v, 1)));
}

// y[0..nc) = rne(clamp((float)(sum - zsum) * m + z_out, -128, 127)), nc in
// 1..64 (zsum = positions * z_in; both zero points 0 for symmetric tensors).
void store_avg64(const __m512i sum[4], float mult, int nc, int8_t* y, int32_t zsum = 0, float z_out = 0.0f) {
  const __m512 m = _mm512_set1_ps(mult), zy = _mm512_set1_ps(z_out);
  const __m512i zs = _mm512_set1_epi32(zsum);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int q = 0; q < 4 && 16 * q < nc; ++q) {
    const __m512 t = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sum[q], zs)), m), zy);
    _mm_mask_storeu_epi8(y + 16 * q, mask16(nc - 16 * q), to_s8(clamp_ps(t, lo, hi)));
  }
}

}  // namespace

void maxpool_row(const PoolRow& r) {
  const int64_t row_stride = static_cast<int64_t>(r.W) * r.C;
  const int64_t step_bytes = static_cast<int64_t>(r.stride_w) * r.C;
  int8_t* y = r.y;
  for (int ow = r.ow0; ow < r.ow1; ++ow, y += r.C) {
    const Window win = window(r, ow);
    // The next output row's new input rows, as far as this pixel's window
    // has advanced: ResNet's pool after the stem reads 6.4 MB at batch 8,
    // from memory.
    for (int h = r.r1; h < r.r1 + r.next_rows; ++h) {
      const int8_t* p = r.x + h * row_stride + static_cast<int64_t>(ow) * step_bytes;
      for (int64_t off = 0; off < step_bytes; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
      }
    }
    for (int c = 0; c < r.C; c += 64) {
      const __mmask64 m = mask64(r.C - c);
      __m512i best = _mm512_set1_epi8(-128);
      for (int h = r.r0; h < r.r1; ++h) {
        const int8_t* p = r.x + h * row_stride + static_cast<int64_t>(win.s0) * r.C + c;
        for (int w = win.s0; w < win.s1; ++w, p += r.C) {
          best = _mm512_max_epi8(best, _mm512_maskz_loadu_epi8(m, p));
        }
      }
      _mm512_mask_storeu_epi8(y + c, m, best);
    }
  }
}

void avgpool_row(const PoolRow& r) {
  const int64_t row_stride = static_cast<int64_t>(r.W) * r.C;
  int8_t* y = r.y;
  for (int ow = r.ow0; ow < r.ow1; ++ow, y += r.C) {
    const Window win = window(r, ow);
    const int positions = (r.r1 - r.r0) * (win.s1 - win.s0);
    const int count = r.fixed_count ? r.fixed_count : positions;
    const float mult = r.mult[count];
    for (int c = 0; c < r.C; c += 64) {
      const __mmask64 m = mask64(r.C - c);
      __m512i sum[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                        _mm512_setzero_si512()};
      if (positions <= 256) {
        __m512i s16[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int h = r.r0; h < r.r1; ++h) {
          const int8_t* p = r.x + h * row_stride + static_cast<int64_t>(win.s0) * r.C + c;
          for (int w = win.s0; w < win.s1; ++w, p += r.C) accumulate64_s16(p, m, s16);
        }
        sum[0] = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s16[0]));
        sum[1] = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s16[0], 1));
        sum[2] = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s16[1]));
        sum[3] = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s16[1], 1));
      } else {
        for (int h = r.r0; h < r.r1; ++h) {
          const int8_t* p = r.x + h * row_stride + static_cast<int64_t>(win.s0) * r.C + c;
          for (int w = win.s0; w < win.s1; ++w, p += r.C) accumulate64(p, m, sum);
        }
      }
      store_avg64(sum, mult, r.C - c < 64 ? r.C - c : 64, y + c, positions * r.z_in, r.z_out);
    }
  }
}

void global_avgpool(int64_t HW, int C, int c0, int c1, const int8_t* x, float m, int8_t* y) {
  for (int c = c0; c < c1; c += 64) {
    const int nc = c1 - c < 64 ? c1 - c : 64;
    const __mmask64 mk = mask64(nc);
    __m512i sum[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                      _mm512_setzero_si512()};
    const int8_t* p = x + c;
    for (int64_t i = 0; i < HW; ++i, p += C) accumulate64(p, mk, sum);
    store_avg64(sum, m, nc, y + c);
  }
}

// The table form: 16 channels at a time, each pixel's 16 table entries
// looked up (Table256) and added in pixel order (per lane the reference's
// sum), the mean by an IEEE division by (float)HW, then quantized.
void global_avgpool_table(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table, float inv_scale,
                          int8_t* y) {
  const Table256 lookup(table);
  const __m512i bias = _mm512_set1_epi32(128);
  const __m512 count = _mm512_set1_ps(static_cast<float>(HW)), inv = _mm512_set1_ps(inv_scale);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int c = c0; c < c1; c += 16) {
    const __mmask16 k = mask16(c1 - c);
    __m512 sum = _mm512_setzero_ps();
    const int8_t* p = x + c;
    for (int64_t i = 0; i < HW; ++i, p += C) {
      sum = _mm512_add_ps(sum, lookup(_mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, p)), bias)));
    }
    const __m512 t = _mm512_mul_ps(_mm512_div_ps(sum, count), inv);
    _mm_mask_storeu_epi8(y + c, k, to_s8(clamp_ps(t, lo, hi)));
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
