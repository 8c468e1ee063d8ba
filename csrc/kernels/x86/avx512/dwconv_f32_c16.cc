// dwconv_f32, AVX-512F tier, channel-blocked walk: contract in
// kernels/abi/dwconv_f32.h; chosen by dwconv_f32_16.cc for runs of 16
// planes that are the channels c0 .. c0 + 15 of one image (c0 a multiple
// of 16), planes that its NCHW walks vectorise badly (strided, or wider
// than the flat walk takes).
//
// The 16 channels are the vector lanes (ONNX Runtime's NCHWc depthwise, per
// layer instead of across the network): per band of output rows, the input
// rows the band reads are transposed into a zero-padded channels-last
// buffer xb[row][col][16] (16 x 16 blocks transposed in registers; xb is
// a ring of rows, so the rows the previous band read stay in place and are
// neither transposed again nor moved),
// every tap of 16 channels is then one aligned load and one FMA against
// the 16 channels' tap weights (no masks, no permutes, any stride), and
// the band's outputs [pixels][16] are transposed back into the 16 output
// planes. Register tile: 8 adjacent output pixels (8 FMA chains), fewer
// at a row's end. Band: as many output rows as keep xb within about 40 KiB.
//
// Arithmetic: each output starts at its bias and takes one FMA per tap in
// row-major tap order, a padded zero adding w * 0: the row walk's sum, so
// the same bits. Relu / Clip in registers before the store when no
// residual is fused; with one, the residual is added as the outputs are
// transposed back (still in registers), then the clip (the contract's order).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/abi/dwconv_f32.h"
#include "kernels/x86/avx512/transpose16_regs.h"
#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

constexpr int64_t kBandBytes = 40 * 1024;

struct Blocked {
  const DwConvF32Plane& p;
  int64_t wp;           // padded columns of xb: image column ix at pw + ix
  const float* wt;      // tap weights [kh * kw][16] of the 16 channels
  __m512 bias, lo, hi;
  bool clip;            // in registers (no residual)
};

// Output pixels ox .. ox + U - 1 of one output row into out[u][16], from
// the padded rows rows[ky] it reads (ky < kh; padded row q = image row
// q - ph).
template <int U>
inline void pixels(const Blocked& b, const float* const* rows, int64_t ox, float* out) {
  const DwConvF32Plane& p = b.p;
  __m512 acc[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = b.bias;
  const int64_t step = p.sw * 16;
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const float* row = rows[ky] + ox * p.sw * 16;
    const float* wk = b.wt + ky * p.kw * 16;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const __m512 w = _mm512_load_ps(wk + kx * 16);
      const float* src = row + kx * p.dw * 16;
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = _mm512_fmadd_ps(w, _mm512_load_ps(src + u * step), acc[u]);
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) {
    __m512 v = acc[u];
    if (b.clip) v = clip_lanes(v, b.lo, b.hi);  // NaN stays NaN, as the reference
    _mm512_store_ps(out + u * 16, v);
  }
}

void pixel_tail(const Blocked& b, const float* const* rows, int64_t ox, int64_t n, float* out) {
  switch (n) {
    case 7: pixels<7>(b, rows, ox, out); break;
    case 6: pixels<6>(b, rows, ox, out); break;
    case 5: pixels<5>(b, rows, ox, out); break;
    case 4: pixels<4>(b, rows, ox, out); break;
    case 3: pixels<3>(b, rows, ox, out); break;
    case 2: pixels<2>(b, rows, ox, out); break;
    case 1: pixels<1>(b, rows, ox, out); break;
    default: break;
  }
}


// Image row iy of the 16 planes at x (ld apart) -> d[ix][16], ix < W.
// (Prefetching the rows two ahead measured slower in MobileNetV2.)
void row_in(const float* x, int64_t ld, int64_t W, float* d) {
  __m512 r[16], t[16];
  int64_t ix = 0;
  for (; ix + 16 <= W; ix += 16) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(x + i * ld + ix);
    transpose16_regs(r, t);
#pragma GCC unroll 16
    for (int a = 0; a < 16; ++a) _mm512_store_ps(d + (ix + a) * 16, t[a]);
  }
  if (ix == W) return;
  const int64_t n = W - ix;
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(m, x + i * ld + ix);
  transpose16_regs(r, t);
  for (int64_t a = 0; a < n; ++a) _mm512_store_ps(d + (ix + a) * 16, t[a]);
}

// o[px][16] -> y[l * P + i], i < px, plus the residual (same layout) and
// then the clip when `res`.
void rows_out(const float* o, int64_t px, float* y, int64_t P, const float* res, bool clip, __m512 lo,
              __m512 hi) {
  __m512 r[16], t[16];
  for (int64_t i = 0; i < px; i += 16) {
    const int64_t n = std::min<int64_t>(16, px - i);
    const __mmask16 m = static_cast<__mmask16>(n == 16 ? 0xFFFFu : (1u << n) - 1u);
    if (n == 16) {
#pragma GCC unroll 16
      for (int a = 0; a < 16; ++a) r[a] = _mm512_load_ps(o + (i + a) * 16);
    } else {
      for (int a = 0; a < 16; ++a) r[a] = a < n ? _mm512_load_ps(o + (i + a) * 16) : _mm512_setzero_ps();
    }
    transpose16_regs(r, t);
#pragma GCC unroll 16
    for (int l = 0; l < 16; ++l) {
      __m512 v = t[l];
      if (res) {
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + l * P + i));
        if (clip) v = clip_lanes(v, lo, hi);
      }
      _mm512_mask_storeu_ps(y + l * P + i, m, v);
    }
  }
}

// Buffers of this thread, 64-byte aligned, grown and never shrunk.
float* aligned_scratch(std::vector<float>& v, int64_t floats) {
  if (v.size() < static_cast<size_t>(floats + 16)) v.resize(static_cast<size_t>(floats + 16));
  const uintptr_t a = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((64 - a % 64) % 64) / sizeof(float);
}

}  // namespace

void dwconv_f32_c16(const DwConvF32Plane& p, int64_t t) {
  const int64_t c0 = t % p.C, P = p.oh * p.ow;
  const int64_t eff_kh = (p.kh - 1) * p.dh + 1, eff_kw = (p.kw - 1) * p.dw + 1;
  const int64_t wp = std::max(p.pw + p.W, (p.ow - 1) * p.sw + eff_kw);
  // Output rows per band: the band's input rows (R - 1) sh + eff_kh within kBandBytes.
  const int64_t row_floats = wp * 16;
  const int64_t fit = kBandBytes / static_cast<int64_t>(sizeof(float)) / row_floats;
  const int64_t R = std::max<int64_t>(1, std::min(p.oh, (fit - eff_kh) / p.sh + 1));
  const int64_t band_rows = (R - 1) * p.sh + eff_kh;

  thread_local std::vector<float> xb_buf, out_buf, w_buf;
  float* xb = aligned_scratch(xb_buf, band_rows * row_floats);
  float* out = aligned_scratch(out_buf, R * p.ow * 16);
  float* wt = aligned_scratch(w_buf, p.kh * p.kw * 16);
  alignas(64) float bias[16];
  for (int64_t tap = 0; tap < p.kh * p.kw; ++tap) {
    for (int64_t l = 0; l < 16; ++l) wt[tap * 16 + l] = p.w[(c0 + l) * p.kh * p.kw + tap];
  }
  for (int64_t l = 0; l < 16; ++l) bias[l] = p.bias ? p.bias[c0 + l] : 0.f;
  const Blocked b{p, wp, wt, _mm512_load_ps(bias), _mm512_set1_ps(p.lo), _mm512_set1_ps(p.hi),
                  p.clip && !p.residual};

  const float* x = p.x + t * p.H * p.W;  // plane t, the 15 after it HW apart
  float* y = p.y + t * P;
  const float* res = p.residual ? p.residual + t * P : nullptr;
  const __m512 zero = _mm512_setzero_ps();
  // xb is a ring of band_rows padded rows: padded row q at slot q % band_rows.
  // A band's rows q0 .. q0 + rows - 1 (rows <= band_rows) are all in it once
  // those past the last band's are transposed in; the rows two bands share
  // stay where they are (no copy).
  thread_local std::vector<const float*> rowp;
  rowp.resize(static_cast<size_t>(p.kh));
  int64_t loaded = 0;  // padded rows below this one have been transposed in
  for (int64_t oy0 = 0; oy0 < p.oh; oy0 += R) {
    const int64_t oy1 = std::min(p.oh, oy0 + R);
    const int64_t q0 = oy0 * p.sh, rows = (oy1 - 1 - oy0) * p.sh + eff_kh;
    for (int64_t q = std::max(q0, loaded); q < q0 + rows; ++q) {
      float* d = xb + (q % band_rows) * row_floats;
      const int64_t iy = q - p.ph;
      if (iy < 0 || iy >= p.H) {
        for (int64_t i = 0; i < row_floats; i += 16) _mm512_store_ps(d + i, zero);
        continue;
      }
      for (int64_t i = 0; i < p.pw * 16; i += 16) _mm512_store_ps(d + i, zero);
      row_in(x + iy * p.W, p.H * p.W, p.W, d + p.pw * 16);
      for (int64_t i = (p.pw + p.W) * 16; i < row_floats; i += 16) _mm512_store_ps(d + i, zero);
    }
    loaded = std::max(loaded, q0 + rows);
    for (int64_t oy = oy0; oy < oy1; ++oy) {
      for (int64_t ky = 0; ky < p.kh; ++ky) {
        rowp[static_cast<size_t>(ky)] = xb + ((oy * p.sh + ky * p.dh) % band_rows) * row_floats;
      }
      float* o = out + (oy - oy0) * p.ow * 16;
      int64_t ox = 0;
      for (; ox + 8 <= p.ow; ox += 8) pixels<8>(b, rowp.data(), ox, o + ox * 16);
      pixel_tail(b, rowp.data(), ox, p.ow - ox, o + ox * 16);
    }
    // [pixels][16] -> the 16 planes' rows oy0 .. oy1 - 1, with the residual.
    const int64_t at = oy0 * p.ow;
    rows_out(out, (oy1 - oy0) * p.ow, y + at, P, res ? res + at : nullptr, p.clip, b.lo, b.hi);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
