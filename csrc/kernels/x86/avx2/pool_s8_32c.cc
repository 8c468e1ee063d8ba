// NHWC int8 pooling microkernels, AVX2 (contract and formulas in
// kernels/abi/eltwise_s8.h): the AVX2 and AVX-VNNI tiers' pooling, which
// otherwise runs the scalar reference (avx512/pool_s8_64c.cc needs AVX-512).
//
// Max: 32 channels per ymm, vpmaxsb over the window positions inside the
// input, starting from -128 (padding never wins, as the reference).
// Average and global average: 8 channels per ymm of int32 sums (vpmovsxbd
// per 8 bytes; integer sums, so the order is free), then per 8 channels
// (float)(sum - positions * z_in) * mult + z_out, clamp (compare + blend, as avx2/epilogue.h), round
// half to even (cvtps2dq), narrow. Global average's table form sums the
// looked-up float entries per channel in pixel order (the reference's order).
// A partial channel group (C % 32 for max, C % 8 for averages) is read
// through a zeroed stack buffer and stored through one, so nothing past C
// is read or written.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx2/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct Window {
  int s0, s1;  // input columns inside the window
};

Window window(const PoolRow& r, int ow) {
  const int w0 = ow * r.stride_w - r.pad_left;
  return {w0 > 0 ? w0 : 0, w0 + r.S < r.W ? w0 + r.S : r.W};
}

// n (1..32) int8 at p, zeros above.
inline __m256i load_s8x32(const int8_t* p, int n) {
  if (n >= 32) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  alignas(32) int8_t buf[32] = {};
  std::memcpy(buf, p, static_cast<size_t>(n));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(buf));
}

// n (1..8) int8 at p sign-extended to int32 lanes, zeros above.
inline __m256i load_s8x8_s32(const int8_t* p, int n) {
  int64_t v = 0;
  std::memcpy(&v, p, static_cast<size_t>(n >= 8 ? 8 : n));
  return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v));
}

// y[0..n) = rne(clamp(t, -128, 127)), n in 1..8 (compare + blend: NaN
// takes -128, as the reference).
inline void store_s8x8(__m256 t, int n, int8_t* y) {
  const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  t = _mm256_blendv_ps(lo, t, _mm256_cmp_ps(t, lo, _CMP_GE_OQ));
  t = _mm256_blendv_ps(hi, t, _mm256_cmp_ps(t, hi, _CMP_LE_OQ));
  // t is within [-128, 127]: the saturating packs are exact.
  const __m256i v = _mm256_cvtps_epi32(t);
  const __m128i v16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const int64_t v8 = _mm_cvtsi128_si64(_mm_packs_epi16(v16, v16));
  std::memcpy(y, &v8, static_cast<size_t>(n >= 8 ? 8 : n));
}

// y[0..n) = rne(clamp((float)(sum - zsum) * m + z_out, -128, 127)), n in
// 1..8 (zsum = positions * z_in; both zero points 0 for symmetric tensors).
inline void store_avg8(__m256i sum, __m256 m, int n, int8_t* y, __m256i zsum = _mm256_setzero_si256(),
                       __m256 z_out = _mm256_setzero_ps()) {
  store_s8x8(_mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sum, zsum)), m), z_out), n, y);
}

// Channels [c, c + n) (n <= 32) of one output pixel: 4 int32 sums of 8.
inline void sum_window(const PoolRow& r, const Window& win, int c, int n, __m256i sum[4]) {
  const int64_t row_stride = static_cast<int64_t>(r.W) * r.C;
  for (int q = 0; q < 4; ++q) sum[q] = _mm256_setzero_si256();
  for (int h = r.r0; h < r.r1; ++h) {
    const int8_t* p = r.x + h * row_stride + static_cast<int64_t>(win.s0) * r.C + c;
    for (int w = win.s0; w < win.s1; ++w, p += r.C) {
      if (n >= 32) {
        for (int q = 0; q < 4; ++q) {
          const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * q));
          sum[q] = _mm256_add_epi32(sum[q], _mm256_cvtepi8_epi32(v));
        }
      } else {
        for (int q = 0; q < 4 && 8 * q < n; ++q) {
          sum[q] = _mm256_add_epi32(sum[q], load_s8x8_s32(p + 8 * q, n - 8 * q));
        }
      }
    }
  }
}

}  // namespace

void maxpool_row(const PoolRow& r) {
  const int64_t row_stride = static_cast<int64_t>(r.W) * r.C;
  int8_t* y = r.y;
  for (int ow = r.ow0; ow < r.ow1; ++ow, y += r.C) {
    const Window win = window(r, ow);
    for (int c = 0; c < r.C; c += 32) {
      const int n = r.C - c < 32 ? r.C - c : 32;
      __m256i best = _mm256_set1_epi8(-128);
      for (int h = r.r0; h < r.r1; ++h) {
        const int8_t* p = r.x + h * row_stride + static_cast<int64_t>(win.s0) * r.C + c;
        for (int w = win.s0; w < win.s1; ++w, p += r.C) {
          best = _mm256_max_epi8(best, load_s8x32(p, n));
        }
      }
      if (n == 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + c), best);
      } else {
        alignas(32) int8_t buf[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(buf), best);
        std::memcpy(y + c, buf, static_cast<size_t>(n));
      }
    }
  }
}

void avgpool_row(const PoolRow& r) {
  int8_t* y = r.y;
  for (int ow = r.ow0; ow < r.ow1; ++ow, y += r.C) {
    const Window win = window(r, ow);
    const int positions = (r.r1 - r.r0) * (win.s1 - win.s0);
    const int count = r.fixed_count ? r.fixed_count : positions;
    const __m256 m = _mm256_set1_ps(r.mult[count]);
    const __m256i zsum = _mm256_set1_epi32(positions * r.z_in);
    const __m256 zy = _mm256_set1_ps(r.z_out);
    for (int c = 0; c < r.C; c += 32) {
      const int n = r.C - c < 32 ? r.C - c : 32;
      __m256i sum[4];
      sum_window(r, win, c, n, sum);
      for (int q = 0; q < 4 && 8 * q < n; ++q) store_avg8(sum[q], m, n - 8 * q, y + c + 8 * q, zsum, zy);
    }
  }
}

void global_avgpool(int64_t HW, int C, int c0, int c1, const int8_t* x, float m, int8_t* y) {
  const __m256 mv = _mm256_set1_ps(m);
  for (int c = c0; c < c1; c += 32) {
    const int n = c1 - c < 32 ? c1 - c : 32;
    __m256i sum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                      _mm256_setzero_si256()};
    const int8_t* p = x + c;
    for (int64_t i = 0; i < HW; ++i, p += C) {
      if (n == 32) {
        for (int q = 0; q < 4; ++q) {
          const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * q));
          sum[q] = _mm256_add_epi32(sum[q], _mm256_cvtepi8_epi32(v));
        }
      } else {
        for (int q = 0; q < 4 && 8 * q < n; ++q) {
          sum[q] = _mm256_add_epi32(sum[q], load_s8x8_s32(p + 8 * q, n - 8 * q));
        }
      }
    }
    for (int q = 0; q < 4 && 8 * q < n; ++q) store_avg8(sum[q], mv, n - 8 * q, y + c + 8 * q);
  }
}

// The table form: 8 channels per ymm, each pixel's 8 entries looked up
// (s8_convert.h's look_up8: eight scalar loads, 0.3x a vgatherdps's time on
// Zen 3) and added in pixel order (per lane the reference's sum), four
// blocks of 8 channels side by side so that four sums' additions overlap;
// the mean by an IEEE division by (float)HW, times inv_scale, then clamped,
// rounded and narrowed. A block of n < 8 channels looks up a zero-padded
// copy of its codes and stores n bytes.
void global_avgpool_table(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table, float inv_scale,
                          int8_t* y) {
  const float* centre = table + 128;
  const __m256 count = _mm256_set1_ps(static_cast<float>(HW)), inv = _mm256_set1_ps(inv_scale);
  for (int c = c0; c < c1; c += 32) {
    const int n = c1 - c < 32 ? c1 - c : 32;
    const int blocks = (n + 7) / 8, full = n / 8;
    __m256 sum[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const int8_t* p = x + c;
    for (int64_t i = 0; i < HW; ++i, p += C) {
      for (int q = 0; q < full; ++q) sum[q] = _mm256_add_ps(sum[q], look_up8(centre, p + 8 * q));
      if (full < blocks) {
        alignas(8) int8_t codes[8] = {};
        std::memcpy(codes, p + 8 * full, static_cast<size_t>(n - 8 * full));
        sum[full] = _mm256_add_ps(sum[full], look_up8(centre, codes));
      }
    }
    for (int q = 0; q < blocks; ++q) {
      store_s8x8(_mm256_mul_ps(_mm256_div_ps(sum[q], count), inv), n - 8 * q < 8 ? n - 8 * q : 8, y + c + 8 * q);
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
