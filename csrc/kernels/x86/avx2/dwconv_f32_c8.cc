// dwconv_f32, AVX2+FMA tier: contract in kernels/abi/dwconv_f32.h; the
// AVX-512 channel-blocked walk (x86/avx512/dwconv_f32_c16.cc) at 8 lanes.
// Stride-1 layers with output rows of 32 pixels or more run the plane walk
// of dwconv_f32_rows8.cc instead (the same bits, no transposes).
//
// Runs of 8 planes that are the channels c0 .. c0 + 7 of one image (c0 a
// multiple of 8) take the channel-blocked walk: the 8 channels are the
// vector lanes (ONNX Runtime's NCHWc depthwise, per layer). Per band of
// output rows, the input rows the band reads are transposed into a
// zero-padded channels-last buffer xb[row][col][8] (8 x 8 blocks transposed
// in registers, transpose8_regs.h; rows the previous band read are moved,
// not transposed again); every tap of 8 channels is then one aligned load
// and one FMA against the 8 channels' tap weights (no masks, no permutes,
// any stride); the band's outputs [pixels][8] are transposed back into the
// 8 output planes. Register tile: 8 adjacent output pixels (8 FMA chains),
// fewer at a row's end. Band: as many output rows as keep xb within about
// 24 KiB (Zen 3's L1 is 32 KiB). Any other plane (C not a multiple of 8,
// a run that starts or ends inside a group of 8) runs the phase walk of
// dwconv_f32_phases8.cc (8 adjacent output pixels per vector, any stride:
// the single-channel long filters of an audio front end), or the
// reference loop where its output rows are under 8 pixels.
//
// Arithmetic: each output starts at its bias and takes one FMA per tap in
// row-major tap order, a padded zero adding w * 0 (the contract's vector
// tier). Relu / Clip in registers before the store when no residual is
// fused; with one, the residual is added as the outputs are transposed
// back (still in registers), then the clip (the contract's order).
// Before this file the AVX2 tier ran the scalar reference for every
// depthwise layer (RESULTS.md section 59).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/abi/dwconv_f32.h"
#include "kernels/x86/avx2/dwconv_f32_phases8.h"
#include "kernels/x86/avx2/dwconv_f32_rows8.h"
#include "kernels/x86/avx2/transpose8_regs.h"
#include "kernels/x86/avx2/lanes8.h"
#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

constexpr int64_t kBandBytes = 24 * 1024;

struct Blocked {
  const DwConvF32Plane& p;
  int64_t wp;       // padded columns of xb: image column ix at pw + ix
  const float* wt;  // tap weights [kh * kw][8] of the 8 channels
  __m256 bias, lo, hi;
  bool clip;        // in registers (no residual)
};

// Output pixels ox .. ox + U - 1 of output row oy into out[u][8], from the
// band in xb whose row 0 is padded row q0 (padded row q = image row q - ph).
template <int U>
inline void pixels(const Blocked& b, const float* xb, int64_t q0, int64_t oy, int64_t ox, float* out) {
  const DwConvF32Plane& p = b.p;
  __m256 acc[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = b.bias;
  const int64_t step = p.sw * 8;
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const float* row = xb + ((oy * p.sh + ky * p.dh - q0) * b.wp + ox * p.sw) * 8;
    const float* wk = b.wt + ky * p.kw * 8;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const __m256 w = _mm256_load_ps(wk + kx * 8);
      const float* src = row + kx * p.dw * 8;
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = _mm256_fmadd_ps(w, _mm256_load_ps(src + u * step), acc[u]);
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) {
    __m256 v = acc[u];
    if (b.clip) v = clip_lanes(v, b.lo, b.hi);  // NaN stays NaN, as the reference
    _mm256_store_ps(out + u * 8, v);
  }
}

void pixel_tail(const Blocked& b, const float* xb, int64_t q0, int64_t oy, int64_t ox, int64_t n, float* out) {
  switch (n) {
    case 7: pixels<7>(b, xb, q0, oy, ox, out); break;
    case 6: pixels<6>(b, xb, q0, oy, ox, out); break;
    case 5: pixels<5>(b, xb, q0, oy, ox, out); break;
    case 4: pixels<4>(b, xb, q0, oy, ox, out); break;
    case 3: pixels<3>(b, xb, q0, oy, ox, out); break;
    case 2: pixels<2>(b, xb, q0, oy, ox, out); break;
    case 1: pixels<1>(b, xb, q0, oy, ox, out); break;
    default: break;
  }
}

// Image row iy of the 8 planes at x (ld apart) -> d[ix][8], ix < W.
void row_in(const float* x, int64_t ld, int64_t W, float* d) {
  __m256 r[8], t[8];
  int64_t ix = 0;
  for (; ix + 8 <= W; ix += 8) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + i * ld + ix);
    transpose8_regs(r, t);
#pragma GCC unroll 8
    for (int a = 0; a < 8; ++a) _mm256_store_ps(d + (ix + a) * 8, t[a]);
  }
  if (ix == W) return;
  const int64_t n = W - ix;
  const __m256i m = lanes(n);
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm256_maskload_ps(x + i * ld + ix, m);
  transpose8_regs(r, t);
  for (int64_t a = 0; a < n; ++a) _mm256_store_ps(d + (ix + a) * 8, t[a]);
}

// o[px][8] -> y[l * P + i], i < px, plus the residual (same layout) and
// then the clip when `res`.
void rows_out(const float* o, int64_t px, float* y, int64_t P, const float* res, bool clip, __m256 lo,
              __m256 hi) {
  __m256 r[8], t[8];
  for (int64_t i = 0; i < px; i += 8) {
    const int64_t n = std::min<int64_t>(8, px - i);
    if (n == 8) {
#pragma GCC unroll 8
      for (int a = 0; a < 8; ++a) r[a] = _mm256_load_ps(o + (i + a) * 8);
    } else {
      for (int a = 0; a < 8; ++a) r[a] = a < n ? _mm256_load_ps(o + (i + a) * 8) : _mm256_setzero_ps();
    }
    transpose8_regs(r, t);
    if (n == 8) {
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l) {
        __m256 v = t[l];
        if (res) {
          v = _mm256_add_ps(v, _mm256_loadu_ps(res + l * P + i));
          if (clip) v = clip_lanes(v, lo, hi);
        }
        _mm256_storeu_ps(y + l * P + i, v);
      }
      continue;
    }
    // The last n < 8 pixels: through a buffer, not vmaskmovps stores (slow
    // on Zen 3; the 14 x 14 and 7 x 7 layers' bands end in such a tail:
    // 0.95-0.97x their time, RESULTS.md section 75). The same values.
    const __m256i m = lanes(n);
    alignas(32) float tail[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; ++l) {
      __m256 v = t[l];
      if (res) {
        v = _mm256_add_ps(v, _mm256_maskload_ps(res + l * P + i, m));
        if (clip) v = clip_lanes(v, lo, hi);
      }
      _mm256_store_ps(tail, v);
      std::memcpy(y + l * P + i, tail, static_cast<size_t>(n) * sizeof(float));
    }
  }
}

// Buffers of this thread, 32-byte aligned, grown and never shrunk.
float* aligned_scratch(std::vector<float>& v, int64_t floats) {
  if (v.size() < static_cast<size_t>(floats + 8)) v.resize(static_cast<size_t>(floats + 8));
  const uintptr_t a = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((32 - a % 32) % 32) / sizeof(float);
}

// The 8 planes t .. t + 7 of `p`: channels c0 .. c0 + 7 of one image.
void planes_c8(const DwConvF32Plane& p, int64_t t) {
  const int64_t c0 = t % p.C, P = p.oh * p.ow;
  const int64_t eff_kh = (p.kh - 1) * p.dh + 1, eff_kw = (p.kw - 1) * p.dw + 1;
  const int64_t wp = std::max(p.pw + p.W, (p.ow - 1) * p.sw + eff_kw);
  // Output rows per band: the band's input rows (R - 1) sh + eff_kh within kBandBytes.
  const int64_t row_floats = wp * 8;
  const int64_t fit = kBandBytes / static_cast<int64_t>(sizeof(float)) / row_floats;
  const int64_t R = std::max<int64_t>(1, std::min(p.oh, (fit - eff_kh) / p.sh + 1));
  const int64_t band_rows = (R - 1) * p.sh + eff_kh;

  thread_local std::vector<float> xb_buf, out_buf, w_buf;
  float* xb = aligned_scratch(xb_buf, band_rows * row_floats);
  float* out = aligned_scratch(out_buf, R * p.ow * 8);
  float* wt = aligned_scratch(w_buf, p.kh * p.kw * 8);
  alignas(32) float bias[8];
  for (int64_t tap = 0; tap < p.kh * p.kw; ++tap) {
    for (int64_t l = 0; l < 8; ++l) wt[tap * 8 + l] = p.w[(c0 + l) * p.kh * p.kw + tap];
  }
  for (int64_t l = 0; l < 8; ++l) bias[l] = p.bias ? p.bias[c0 + l] : 0.f;
  const Blocked b{p, wp, wt, _mm256_load_ps(bias), _mm256_set1_ps(p.lo), _mm256_set1_ps(p.hi),
                  p.clip && !p.residual};

  const float* x = p.x + t * p.H * p.W;  // plane t, the 7 after it HW apart
  float* y = p.y + t * P;
  const float* res = p.residual ? p.residual + t * P : nullptr;
  const __m256 zero = _mm256_setzero_ps();
  int64_t have = 0, have_q0 = 0;  // padded rows have_q0 .. + have - 1 are in xb from the last band
  for (int64_t oy0 = 0; oy0 < p.oh; oy0 += R) {
    const int64_t oy1 = std::min(p.oh, oy0 + R);
    // Padded rows q0 .. q0 + rows - 1 (image row q - ph) in xb; those the
    // last band also read are moved to the front, not transposed again.
    const int64_t q0 = oy0 * p.sh, rows = (oy1 - 1 - oy0) * p.sh + eff_kh;
    int64_t r = 0;
    if (have > 0 && q0 >= have_q0 && q0 < have_q0 + have) {
      r = std::min(rows, have_q0 + have - q0);
      std::memmove(xb, xb + (q0 - have_q0) * row_floats, static_cast<size_t>(r * row_floats) * sizeof(float));
    }
    for (; r < rows; ++r) {
      float* d = xb + r * row_floats;
      const int64_t iy = q0 + r - p.ph;
      if (iy < 0 || iy >= p.H) {
        for (int64_t i = 0; i < row_floats; i += 8) _mm256_store_ps(d + i, zero);
        continue;
      }
      for (int64_t i = 0; i < p.pw * 8; i += 8) _mm256_store_ps(d + i, zero);
      row_in(x + iy * p.W, p.H * p.W, p.W, d + p.pw * 8);
      for (int64_t i = (p.pw + p.W) * 8; i < row_floats; i += 8) _mm256_store_ps(d + i, zero);
    }
    have = rows;
    have_q0 = q0;
    for (int64_t oy = oy0; oy < oy1; ++oy) {
      float* o = out + (oy - oy0) * p.ow * 8;
      int64_t ox = 0;
      for (; ox + 8 <= p.ow; ox += 8) pixels<8>(b, xb, q0, oy, ox, o + ox * 8);
      pixel_tail(b, xb, q0, oy, ox, p.ow - ox, o + ox * 8);
    }
    // [pixels][8] -> the 8 planes' rows oy0 .. oy1 - 1, with the residual.
    const int64_t at = oy0 * p.ow;
    rows_out(out, (oy1 - oy0) * p.ow, y + at, P, res ? res + at : nullptr, p.clip, b.lo, b.hi);
  }
}

}  // namespace

void dwconv_f32_plane(const DwConvF32Plane& p) {
  const int64_t end = p.first + p.count;
  if (dwconv_rows8_takes(p)) {  // stride 1, wide rows: the planes as they lie (dwconv_f32_rows8.h)
    for (int64_t t = p.first; t < end; ++t) dwconv_rows8_plane(p, t);
    return;
  }
  DwConvF32Plane one = p;
  one.count = 1;
  for (int64_t t = p.first; t < end;) {
    const int64_t c = t % p.C;
    if (c % 8 == 0 && c + 8 <= p.C && t + 8 <= end) {
      planes_c8(p, t);
      t += 8;
    } else if (dwconv_phases8_takes(p)) {  // a plane alone, 8 pixels as lanes (dwconv_f32_phases8.h)
      dwconv_phases8_plane(p, t++);
    } else {
      one.first = t++;
      ref::dwconv_f32_plane(one);
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
