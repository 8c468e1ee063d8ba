// dwconv_f32, AVX2+FMA tier, the phase walk: contract in
// kernels/abi/dwconv_f32.h; called by dwconv_f32_c8.cc's dwconv_f32_plane
// for the planes that neither the stride-1 plane walk (dwconv_f32_rows8.cc)
// nor the channel-blocked walk takes: channels outside a group of 8, above
// all a single-channel long filter (Basic Pitch's CQT: C = M = group = 1,
// 256 taps, stride 2, rows of 22,000 outputs), which ran the scalar
// reference loop.
//
// One plane at a time, in its own NCHW layout. Each input row is
// zero-padded by pw and split into its sw phases, phase r holding the
// padded row's columns r, r + sw, r + 2 sw, ...: output column ox, tap kx
// reads padded column ox * sw + kx * dw, that is phase (kx * dw) % sw at
// ox + (kx * dw) / sw, so every tap of 8 adjacent outputs is one unaligned
// contiguous load, whatever the stride or dilation (XNNPACK's and ncnn's
// stride-2 1-D filters split the input the same way). Register tile: 8
// vectors (64 outputs, 8 FMA chains, enough to cover the FMA latency on a
// 256-tap filter) across the row, then 4, 2, 1 vectors, the row's last
// partial vector stored through a lane mask; every tap one broadcast weight.
//
// Arithmetic: each output starts at its bias and takes one FMA per tap in
// row-major tap order; an input row outside the image is skipped (as the
// reference does), a padded column adds w * 0 (the contract's vector tier).
// Then, without a residual, the clip; with one, v + residual and the clip.
#include "kernels/x86/avx2/dwconv_f32_phases8.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/x86/avx2/lanes8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct Plane {
  const float* ph;   // phases [H][sw][lp]: input row iy's phase r at ph + (iy * sw + r) * lp
  int64_t sw, lp, dw;
  const float* w;    // the plane's taps [kh][kw]
  int64_t kh, kw, H, sh, ph_top, dh;
  __m256 bias, lo, hi;
  bool clip;
  const float* res;  // the plane's residual [oh][ow], or nullptr
  float* y;          // the output plane [oh][ow]
  int64_t ow;
};

// Output row oy, U vectors of 8 pixels from column ox (U FMA chains); the
// last vector keeps `tail` lanes (1..8) when U == 1.
template <int U>
inline void tile(const Plane& p, int64_t oy, int64_t ox, int64_t tail) {
  __m256 acc[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = p.bias;
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const int64_t iy = oy * p.sh - p.ph_top + ky * p.dh;
    if (iy < 0 || iy >= p.H) continue;
    const float* row = p.ph + iy * p.sw * p.lp + ox;
    const float* wk = p.w + ky * p.kw;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const int64_t j = kx * p.dw;
      const float* src = row + (j % p.sw) * p.lp + j / p.sw;
      const __m256 w = _mm256_broadcast_ss(wk + kx);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = _mm256_fmadd_ps(w, _mm256_loadu_ps(src + 8 * u), acc[u]);
    }
  }
  const bool part = U == 1 && tail < 8;
  const __m256i m = part ? lanes(tail) : _mm256_set1_epi32(-1);
  const int64_t at = oy * p.ow + ox;
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) {
    store_output8(acc[u], p.res ? p.res + at + 8 * u : nullptr, p.clip, p.lo, p.hi, part, m, p.y + at + 8 * u);
  }
}

}  // namespace

bool dwconv_phases8_takes(const DwConvF32Plane& p) {
  return p.ow >= 8 && p.ph >= 0 && p.pw >= 0 && p.sw >= 1 && p.dw >= 1 && p.sh >= 1 && p.dh >= 1;
}

void dwconv_phases8_plane(const DwConvF32Plane& p, int64_t t) {
  const int64_t c = t % p.C, P = p.oh * p.ow;
  const int64_t sw = p.sw;
  // a phase holds the row's last vector's columns plus the taps' reach
  const int64_t lp = (p.ow + 7) / 8 * 8 + (p.kw - 1) * p.dw / sw + 1;
  thread_local std::vector<float> buf;
  const size_t need = static_cast<size_t>(p.H * sw * lp);
  if (buf.size() < need) buf.resize(need);
  // phase r of row iy, entry m = x[iy][m * sw + r - pw], 0 outside the row
  const float* x = p.x + t * p.H * p.W;
  for (int64_t iy = 0; iy < p.H; ++iy) {
    for (int64_t r = 0; r < sw; ++r) {
      float* d = buf.data() + (iy * sw + r) * lp;
      const float* s = x + iy * p.W;
      for (int64_t m = 0; m < lp; ++m) {
        const int64_t ix = m * sw + r - p.pw;
        d[m] = ix >= 0 && ix < p.W ? s[ix] : 0.f;
      }
    }
  }
  Plane pl;
  pl.ph = buf.data();
  pl.sw = sw; pl.lp = lp; pl.dw = p.dw;
  pl.w = p.w + c * p.kh * p.kw;
  pl.kh = p.kh; pl.kw = p.kw; pl.H = p.H; pl.sh = p.sh; pl.ph_top = p.ph; pl.dh = p.dh;
  pl.bias = _mm256_set1_ps(p.bias ? p.bias[c] : 0.f);
  pl.lo = _mm256_set1_ps(p.lo);
  pl.hi = _mm256_set1_ps(p.hi);
  pl.clip = p.clip;
  pl.res = p.residual ? p.residual + t * P : nullptr;
  pl.y = p.y + t * P;
  pl.ow = p.ow;
  for (int64_t oy = 0; oy < p.oh; ++oy) {
    int64_t ox = 0;
    for (; ox + 64 <= p.ow; ox += 64) tile<8>(pl, oy, ox, 8);
    if (ox + 32 <= p.ow) { tile<4>(pl, oy, ox, 8); ox += 32; }
    if (ox + 16 <= p.ow) { tile<2>(pl, oy, ox, 8); ox += 16; }
    for (; ox < p.ow; ox += 8) tile<1>(pl, oy, ox, std::min<int64_t>(8, p.ow - ox));
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
