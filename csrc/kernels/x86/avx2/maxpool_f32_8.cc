// maxpool_f32, AVX2 tier: contract in kernels/abi/maxpool_f32.h; the
// AVX-512 kernel (x86/avx512/maxpool_f32_16.cc) at 8 lanes. Before it the
// AVX2 tier ran the scalar reference (ResNet-50's 3x3 / 2 pool 3.2 ms at
// batch 1 on Zen 3, RESULTS.md section 59).
//
// The window is separable: per output row, first the column maximum of its
// window's image rows (8 columns per vector, contiguous loads) into a row
// buffer whose columns left and right of the image hold -inf (the padding,
// which never wins), then per output column the maximum of its window's
// buffer columns. Stride 1: kw unaligned loads per 8 outputs. Stride 2: the
// buffer split once into its even and odd columns (shuffle_ps + permute4x64
// per 16 columns), after which tap kx of 8 outputs is one load from the even
// (kx even) or odd (kx odd) half. Other strides and dilations take the
// buffer's columns one at a time. Every step is acc = tap > acc ? tap : acc
// (vmaxps with the tap first: a NaN tap is not taken), so the result is the
// reference's but for which zero is kept when +0 and -0 tie (columns first
// here, rows first there).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/abi/maxpool_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

constexpr float kLowest = -std::numeric_limits<float>::infinity();
constexpr int64_t kPrefetchRows = 3;

// Lanes [0, n) set (all for n >= 8), for maskload / maskstore.
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n >= 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// buf[pw + ix] = max over the valid window rows of x[iy][ix], ix in [0, W);
// false when no window row lies inside the image.
bool column_max(const MaxPoolF32Planes& p, const float* x, int64_t oy, float* buf) {
  const int64_t y0 = oy * p.sh - p.ph;
  const int64_t k0 = y0 >= 0 ? 0 : (-y0 + p.dh - 1) / p.dh;  // the first window row inside the image
  const int64_t k1 = y0 >= p.H ? 0 : std::min(p.kh, (p.H - y0 + p.dh - 1) / p.dh);
  if (k0 >= k1) return false;
  const float* first = x + (y0 + k0 * p.dh) * p.W;
  const int64_t step = p.dh * p.W;
  float* d = buf + p.pw;
  // The image rows kPrefetchRows output rows ahead are fetched while this
  // one runs (the loads of a large pooled image wait on memory otherwise).
  const int64_t ahead = y0 + (k1 - 1) * p.dh + 1 + kPrefetchRows * p.sh;
  const float* next = ahead + p.sh <= p.H ? x + ahead * p.W : nullptr;
  int64_t i = 0;
  for (; i + 8 <= p.W; i += 8) {
    __m256 acc = _mm256_set1_ps(kLowest);
    const float* s = first + i;
    for (int64_t k = k0; k < k1; ++k, s += step) acc = _mm256_max_ps(_mm256_loadu_ps(s), acc);
    _mm256_storeu_ps(d + i, acc);
    if (next && i % 16 == 0) {
      for (int64_t r = 0; r < p.sh; ++r) _mm_prefetch(reinterpret_cast<const char*>(next + r * p.W + i), _MM_HINT_T0);
    }
  }
  if (i < p.W) {
    const __m256i m = first_lanes(p.W - i);
    __m256 acc = _mm256_set1_ps(kLowest);
    const float* s = first + i;
    for (int64_t k = k0; k < k1; ++k, s += step) acc = _mm256_max_ps(_mm256_maskload_ps(s, m), acc);
    _mm256_maskstore_ps(d + i, m, acc);
  }
  return true;
}

template <int S>
void row_max(const MaxPoolF32Planes& p, const float* buf, const float* even, const float* odd, float* y) {
  for (int64_t ox = 0; ox < p.ow; ox += 8) {
    __m256 acc = _mm256_set1_ps(kLowest);
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const float* src = S == 1 ? buf + ox + kx : (kx % 2 == 0 ? even : odd) + ox + kx / 2;
      acc = _mm256_max_ps(_mm256_loadu_ps(src), acc);
    }
    if (ox + 8 <= p.ow) {
      _mm256_storeu_ps(y + ox, acc);
    } else {
      _mm256_maskstore_ps(y + ox, first_lanes(p.ow - ox), acc);
    }
  }
}

// Any stride and dilation: the buffer's columns one at a time.
void row_max_any(const MaxPoolF32Planes& p, const float* buf, float* y) {
  for (int64_t ox = 0; ox < p.ow; ++ox) {
    float acc = kLowest;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const float v = buf[ox * p.sw + kx * p.dw];
      acc = v > acc ? v : acc;
    }
    y[ox] = acc;
  }
}

}  // namespace

void maxpool_f32_planes(const MaxPoolF32Planes& p) {
  const int64_t blocks = (p.ow + 7) / 8;
  const bool fast = p.dw == 1 && (p.sw == 1 || p.sw == 2);
  // Every column a window reads, plus the last vector's overrun: stride 2
  // loads up to (blocks * 8 + kw / 2) even / odd columns.
  const int64_t span = std::max(p.pw + p.W, (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1);
  const int64_t len = (std::max(span, p.sw * (blocks * 8 + p.kw)) + 16) / 16 * 16;
  thread_local std::vector<float> scratch;
  scratch.assign(static_cast<size_t>(2 * len), kLowest);  // buffer, then its even and odd halves
  float* buf = scratch.data();
  float* even = buf + len;
  float* odd = even + len / 2;
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const float* x = p.x + t * p.H * p.W;
    float* y = p.y + t * p.oh * p.ow;
    for (int64_t oy = 0; oy < p.oh; ++oy, y += p.ow) {
      if (!column_max(p, x, oy, buf)) {
        std::fill(y, y + p.ow, kLowest);
        continue;
      }
      if (!fast) {
        row_max_any(p, buf, y);
      } else if (p.sw == 1) {
        row_max<1>(p, buf, nullptr, nullptr, y);
      } else {
        for (int64_t c = 0; c < len; c += 16) {
          const __m256 a = _mm256_loadu_ps(buf + c), b = _mm256_loadu_ps(buf + c + 8);
          // shuffle_ps: [a0 a2 b0 b2 | a4 a6 b4 b6]; permute4x64 (0, 2, 1, 3): a's, then b's
          const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
          const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
          _mm256_storeu_ps(even + c / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
          _mm256_storeu_ps(odd + c / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
        }
        row_max<2>(p, buf, even, odd, y);
      }
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
