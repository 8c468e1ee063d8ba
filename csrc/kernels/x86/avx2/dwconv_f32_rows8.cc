// dwconv_f32, AVX2+FMA tier, stride-1 planes: contract in
// kernels/abi/dwconv_f32.h; called by dwconv_f32_c8.cc's dwconv_f32_plane
// for the layers dwconv_rows8_takes() accepts (dwconv_f32_rows8.h).
//
// One plane at a time, in its own NCHW layout: the plane is copied into a
// zero-padded buffer (rows oh + kh - 1, columns ow + kw - 1 rounded up so a
// row's last vector stays inside), then each output row is computed as
// vectors of 8 adjacent output pixels, every tap one broadcast weight, one
// unaligned load and one FMA. Register tile: 2 rows x 4 vectors (32
// pixels), then the columns left over as up to 8 rows x 1 vector, a row's
// last partial vector stored through a lane mask. Where the channel-blocked walk (dwconv_f32_c8.cc) transposes
// each band of input rows into channels-last order and each band of outputs
// back, this walk reads and writes the planes as they lie: MobileNetV2's
// and EfficientNet-Lite0's stride-1 depthwise layers run inside the network
// after the 1x1 expansion that wrote their input (RESULTS.md section 69).
//
// Arithmetic: each output starts at its bias and takes one FMA per tap in
// row-major tap order, a padded zero adding w * 0: the channel-blocked
// walk's operations in its order, so the same bits. Then, without a
// residual, the clip; with one, v + residual and then the clip.
#include "kernels/x86/avx2/dwconv_f32_rows8.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/x86/avx2/lanes8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct Plane {
  const float* xp;  // the padded plane
  int64_t wp;       // its row stride
  const float* w;   // the plane's taps [kh][kw]
  int64_t kh, kw;
  __m256 bias, lo, hi;
  bool clip;
  const float* res;  // the plane's residual [oh][ow], or nullptr
  float* y;          // the output plane [oh][ow]
  int64_t ow;
};

// R output rows from oy x U vectors of 8 pixels from column ox: R * U FMA
// chains. The last vector keeps only `tail` lanes (1..8) when U == 1 and
// tail < 8.
template <int R, int U>
inline void tile(const Plane& p, int64_t oy, int64_t ox, int64_t tail) {
  __m256 acc[R][U];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[i][u] = p.bias;
  }
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const float* src = p.xp + (oy + ky) * p.wp + ox;
    const float* wk = p.w + ky * p.kw;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const __m256 w = _mm256_broadcast_ss(wk + kx);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) {
          acc[i][u] = _mm256_fmadd_ps(w, _mm256_loadu_ps(src + i * p.wp + kx + 8 * u), acc[i][u]);
        }
      }
    }
  }
  const bool part = U == 1 && tail < 8;
  const __m256i m = part ? lanes(tail) : _mm256_set1_epi32(-1);
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    const int64_t at = (oy + i) * p.ow + ox;
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      store_output8(acc[i][u], p.res ? p.res + at + 8 * u : nullptr, p.clip, p.lo, p.hi, part, m, p.y + at + 8 * u);
    }
  }
}

// Rows [oy, oy + n) (n <= 8) at columns from ox, one vector (tail lanes) wide.
inline void column(const Plane& p, int64_t oy, int64_t n, int64_t ox, int64_t tail) {
  for (; n >= 8; n -= 8, oy += 8) tile<8, 1>(p, oy, ox, tail);
  if (n >= 4) { tile<4, 1>(p, oy, ox, tail); n -= 4; oy += 4; }
  if (n >= 2) { tile<2, 1>(p, oy, ox, tail); n -= 2; oy += 2; }
  if (n >= 1) tile<1, 1>(p, oy, ox, tail);
}

}  // namespace

bool dwconv_rows8_takes(const DwConvF32Plane& p) {
  return p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.ow >= kRows8MinWidth && p.ph >= 0 && p.pw >= 0;
}

void dwconv_rows8_plane(const DwConvF32Plane& p, int64_t t) {
  const int64_t c = t % p.C, P = p.oh * p.ow;
  const int64_t hp = p.oh + p.kh - 1;
  const int64_t wp = (p.ow + 7) / 8 * 8 + p.kw - 1;  // the last vector's taps stay inside
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(hp * wp)) buf.resize(static_cast<size_t>(hp * wp));
  float* xp = buf.data();
  // xp[q][r] = x[q - ph][r - pw], 0 outside the image.
  const float* x = p.x + t * p.H * p.W;
  const int64_t lo = std::min(p.pw, wp), hi = std::max(lo, std::min(p.pw + p.W, wp));
  for (int64_t q = 0; q < hp; ++q) {
    float* row = xp + q * wp;
    const int64_t iy = q - p.ph;
    if (iy < 0 || iy >= p.H || lo == hi) {
      std::fill(row, row + wp, 0.f);
      continue;
    }
    std::fill(row, row + lo, 0.f);
    std::memcpy(row + lo, x + iy * p.W + (lo - p.pw), static_cast<size_t>(hi - lo) * sizeof(float));
    std::fill(row + hi, row + wp, 0.f);
  }
  Plane pl;
  pl.xp = xp;
  pl.wp = wp;
  pl.w = p.w + c * p.kh * p.kw;
  pl.kh = p.kh;
  pl.kw = p.kw;
  pl.bias = _mm256_set1_ps(p.bias ? p.bias[c] : 0.f);
  pl.lo = _mm256_set1_ps(p.lo);
  pl.hi = _mm256_set1_ps(p.hi);
  pl.clip = p.clip;
  pl.res = p.residual ? p.residual + t * P : nullptr;
  pl.y = p.y + t * P;
  pl.ow = p.ow;
  // 2 rows x 4 vectors (8 chains) across the row, then the leftover
  // vectors of up to 8 rows at a time (8 chains): a lone vector's chain of
  // kh * kw dependent FMAs would wait on the FMA latency.
  const int64_t wide = p.ow / 32 * 32;
  int64_t oy = 0;
  for (; oy + 2 <= p.oh; oy += 2) {
    for (int64_t ox = 0; ox < wide; ox += 32) tile<2, 4>(pl, oy, ox, 8);
  }
  for (; oy < p.oh; ++oy) {
    for (int64_t ox = 0; ox < wide; ox += 32) tile<1, 4>(pl, oy, ox, 8);
  }
  for (int64_t ox = wide; ox < p.ow; ox += 8) {
    const int64_t tail = std::min<int64_t>(8, p.ow - ox);
    for (int64_t y0 = 0; y0 < p.oh; y0 += 8) column(pl, y0, std::min<int64_t>(8, p.oh - y0), ox, tail);
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
