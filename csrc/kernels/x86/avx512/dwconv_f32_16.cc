// dwconv_f32, AVX-512F tier: contract in kernels/abi/dwconv_f32.h.
//
// Register tile: one zmm accumulator holds 16 adjacent output columns of
// one output row, started at the bias; every tap (ky, kx), in row-major
// order, adds w * x with one FMA under the mask of the columns whose input
// column lies inside the image (the others keep their value, so a skipped
// tap is skipped exactly as in the reference). Input columns: stride 1 is
// one masked load, stride 2 two masked loads and an even-lane permute, any
// other stride a masked gather. Masked-off lanes never touch memory.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/abi/dwconv_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// Bits [lo, hi) of a lane mask, hi <= 64.
inline uint64_t lane_bits(int64_t lo, int64_t hi) {
  if (hi <= lo) return 0;
  const uint64_t upto = hi >= 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return upto & ~((uint64_t{1} << lo) - 1);
}

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

}  // namespace

void dwconv_f32_plane(const DwConvF32Plane& p) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512 bias = _mm512_set1_ps(p.bias);
  for (int64_t oy = 0; oy < p.oh; ++oy) {
    float* d = p.y + oy * p.ow;
    for (int64_t ox0 = 0; ox0 < p.ow; ox0 += 16) {
      const int64_t n = std::min<int64_t>(16, p.ow - ox0);
      __m512 acc = bias;
      for (int64_t ky = 0; ky < p.kh; ++ky) {
        const int64_t iy = oy * p.sh - p.ph + ky * p.dh;
        if (iy < 0 || iy >= p.H) continue;
        const float* row = p.x + iy * p.W;
        for (int64_t kx = 0; kx < p.kw; ++kx) {
          const int64_t ix0 = ox0 * p.sw + kx * p.dw - p.pw;  // input column of lane 0
          // lanes j with 0 <= ix0 + j * sw < W, j < n
          const int64_t lo = ix0 >= 0 ? 0 : ceil_div(-ix0, p.sw);
          const int64_t hi = std::min(n, ceil_div(p.W - ix0, p.sw));
          const __mmask16 m = static_cast<__mmask16>(lane_bits(lo, hi));
          if (!m) continue;
          __m512 v;
          if (p.sw == 1) {
            v = _mm512_maskz_loadu_ps(m, row + ix0);
          } else if (p.sw == 2) {
            const uint64_t in = lane_bits(std::max<int64_t>(0, -ix0), std::min<int64_t>(32, p.W - ix0));
            const __m512 a = _mm512_maskz_loadu_ps(static_cast<__mmask16>(in), row + ix0);
            const __m512 b = _mm512_maskz_loadu_ps(static_cast<__mmask16>(in >> 16), row + ix0 + 16);
            v = _mm512_permutex2var_ps(a, even, b);
          } else {
            const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(ix0)),
                                                 _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(p.sw))));
            v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, row, 4);
          }
          acc = _mm512_mask3_fmadd_ps(_mm512_set1_ps(p.w[ky * p.kw + kx]), v, acc, m);
        }
      }
      _mm512_mask_storeu_ps(d + ox0, static_cast<__mmask16>(lane_bits(0, n)), acc);
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
