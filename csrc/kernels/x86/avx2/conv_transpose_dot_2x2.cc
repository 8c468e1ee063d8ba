// The 2 x 2, stride 2, K = 1 transposed conv (a DB-style detector's last
// upsampling to one map: PP-OCR det's 24 -> 1 at 160 x 160) on one input
// row, AVX2 (abi/conv_transpose_s8.h, TransposeDotRow).
//
// Each input pixel makes only four outputs, so the channels of a 16-wide
// igemm tile would be 2 of 16 valid; here the pixels go in the lanes. Per
// pair of pixels (j, j + 1) and chunk of 16 input channels: each pixel's 16
// int8 values sign-extended to int16 (vpmovsxbw from memory), one vpmaddwd
// per output n against that chunk's int16 weights (exact for every int8 x
// and w: |pair| <= 2 * 128 * 128), summed over the chunks into 4 + 4
// accumulators of 8 int32 partials. Three vphaddd per pixel and one
// 128-bit lane exchange leave [pixel j: n 0..3 | pixel j + 1: n 0..3];
// integer sums do not depend on their order. Epilogue: avx2/epilogue.h's
// requantize_f32 and clamps on those 8 lanes (scale / bias 8 floats), then
// outputs n = 0, 1 of both pixels to row y0 and n = 2, 3 to row y1.
// Past C a chunk's weights are zero, so its loads may read the next pixel;
// the loads that would pass the row's last byte read a zeroed copy instead.
#include <immintrin.h>

#include <cstring>

#include "kernels/abi/conv_transpose_s8.h"
#include "kernels/x86/avx2/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// 16 int8 values at p, sign-extended; `avail` bytes from p are readable
// (1 or more).
inline __m256i load16_s16(const int8_t* p, int64_t avail) {
  if (avail >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  alignas(16) int8_t buf[16] = {};
  std::memcpy(buf, p, static_cast<size_t>(avail) & 15u);
  return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
}

// Per 128-bit lane [sum a0, sum a1, sum a2, sum a3] of that lane's partials.
inline __m256i hsum4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
}

}  // namespace

void conv_transpose_dot_2x2(const TransposeDotRow& r) {
  const TileEpilogue ep = r.ep;  // a local copy: int8 stores alias (avx2/epilogue.h)
  const int W = r.W, C = r.C, chunks = r.chunks;
  const int64_t row_bytes = int64_t{W} * C;
  const __m256i all = _mm256_set1_epi32(-1);
  // Bytes [p0 p1 q0 q1 | p2 p3 q2 q3] from [p0 p1 p2 p3 q0 q1 q2 q3]; float lanes alike.
  const __m128i order8 = _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m256i order32 = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  for (int j = 0; j < W; j += 2) {
    const bool pair = j + 1 < W;
    const int64_t op = int64_t{j} * C, oq = pair ? op + C : op;
    __m256i a[4], b[4];
    #pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) a[n] = b[n] = _mm256_setzero_si256();
    for (int c = 0; c < chunks; ++c) {
      const __m256i xp = load16_s16(r.x + op + 16 * c, row_bytes - op - 16 * c);
      const __m256i xq = load16_s16(r.x + oq + 16 * c, row_bytes - oq - 16 * c);
      const int16_t* w = r.w + c * 64;
      #pragma GCC unroll 4
      for (int n = 0; n < 4; ++n) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16 * n));
        a[n] = _mm256_add_epi32(a[n], _mm256_madd_epi16(xp, wv));
        b[n] = _mm256_add_epi32(b[n], _mm256_madd_epi16(xq, wv));
      }
    }
    const __m256i sa = hsum4(a[0], a[1], a[2], a[3]), sb = hsum4(b[0], b[1], b[2], b[3]);
    const __m256i acc = _mm256_add_epi32(_mm256_permute2x128_si256(sa, sb, 0x20),
                                         _mm256_permute2x128_si256(sa, sb, 0x31));
    const __m256 t = requantize_f32(acc, ep, 0, 0, 8, all);
    if (ep.out_f32) {
      const __m256 lo = _mm256_set1_ps(ep.lo), hi = _mm256_set1_ps(ep.hi);
      __m256 u = _mm256_blendv_ps(lo, t, _mm256_cmp_ps(t, lo, _CMP_GE_OQ));
      u = _mm256_blendv_ps(hi, u, _mm256_cmp_ps(u, hi, _CMP_LE_OQ));
      u = _mm256_permutevar8x32_ps(u, order32);
      float* y0 = static_cast<float*>(r.y0) + 2 * j;
      float* y1 = static_cast<float*>(r.y1) + 2 * j;
      if (pair) {
        _mm_storeu_ps(y0, _mm256_castps256_ps128(u));
        _mm_storeu_ps(y1, _mm256_extractf128_ps(u, 1));
      } else {
        _mm_storel_pi(reinterpret_cast<__m64*>(y0), _mm256_castps256_ps128(u));
        _mm_storel_pi(reinterpret_cast<__m64*>(y1), _mm256_extractf128_ps(u, 1));
      }
    } else {
      const __m256i v = clamp_round_s8(t, ep);
      const __m128i v16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i v8 = _mm_shuffle_epi8(_mm_packs_epi16(v16, v16), order8);
      int8_t* y0 = static_cast<int8_t*>(r.y0) + 2 * j;
      int8_t* y1 = static_cast<int8_t*>(r.y1) + 2 * j;
      const uint32_t lo4 = static_cast<uint32_t>(_mm_cvtsi128_si32(v8));
      const uint32_t hi4 = static_cast<uint32_t>(_mm_extract_epi32(v8, 1));
      if (pair) {
        std::memcpy(y0, &lo4, 4);
        std::memcpy(y1, &hi4, 4);
      } else {
        std::memcpy(y0, &lo4, 2);
        std::memcpy(y1, &hi4, 2);
      }
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
