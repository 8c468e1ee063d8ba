// BF16 channel-blocked kernels, AVX-512 with AVX512-BF16: contract in
// kernels/abi/nchw16c_bf16.h.
//
// Pointwise: a register tile of up to 8 pixels x 2 output blocks (16 zmm
// accumulators); per input channel pair one 64-byte weight load per block
// and, per pixel, the pair's 32-bit word broadcast (the two channels are
// adjacent in a blocked line), one VDPBF16PS per accumulator: pairs
// ascending from 0, as the BF16 GEMM's tile does, so the same bits. Then
// bias, the BF16 residual (widened exactly), the clip and VCVTNEPS2BF16.
// Depthwise: a band of output rows at a time, the rows its windows read
// widened once into zero-padded FP32 rows [rows][Wp][16] (a thread's
// buffer of at most 64 KiB); up to 8 output pixels of one row (one zmm of
// 16 channels each) per step, per tap one weight vector and one FMA per
// pixel (3-wide windows: each window row's pixels loaded once for their
// three taps), every tap (+0 outside the image) in row-major order from
// the bias: the reference's bits. Mean: one zmm sum per block.
// Padded lanes of every output are stored +0.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

constexpr int64_t kBandFloats = 16384;  // a depthwise band's padded FP32 rows (64 KiB: L1 / L2)

inline __m512 widen(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }
inline __m512 load16(const uint16_t* p) { return widen(_mm256_maskz_loadu_epi16(0xFFFF, p)); }

// Residual, clip, padded lanes to +0 (keep), BF16 store of 16 channels.
inline void finish(__m512 v, const uint16_t* residual, bool clip, __m512 lo, __m512 hi, __mmask16 keep,
                   uint16_t* y) {
  if (residual) v = _mm512_add_ps(v, load16(residual));
  if (clip) {
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_GT_OQ), lo, v);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_LT_OQ), hi, v);
  }
  if (keep != 0xFFFF) v = _mm512_mask_blend_ps(keep, _mm512_setzero_ps(), v);
  _mm256_mask_storeu_epi16(y, 0xFFFF, (__m256i)_mm512_cvtneps_pbh(v));
}

__mmask16 lanes_kept(int64_t real) {
  return real >= 16 ? 0xFFFF : real <= 0 ? 0 : static_cast<__mmask16>((1u << real) - 1);
}

template <int NB, int NP>
void pointwise_tile(const PointwiseBf16x16c& a, int64_t mb, int64_t p) {
  const int64_t QP = (a.C + 1) / 2;
  __m512 acc[NB][NP];
  for (int j = 0; j < NB; ++j) {
    for (int i = 0; i < NP; ++i) acc[j][i] = _mm512_setzero_ps();
  }
  const uint16_t* w0 = a.w + mb * QP * 32;
  for (int64_t q = 0; q < QP; ++q) {
    const uint16_t* xp = a.x + ((2 * q) / 16 * a.P + p) * 16 + (2 * q) % 16;
    __m512bh wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w0 + (j * QP + q) * 32);
#pragma GCC unroll 8
    for (int i = 0; i < NP; ++i) {
      int32_t pair;
      std::memcpy(&pair, xp + i * 16, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      for (int j = 0; j < NB; ++j) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], xv, wv[j]);
    }
  }
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  for (int j = 0; j < NB; ++j) {
    const __mmask16 keep = lanes_kept(a.M - (mb + j) * 16);
    const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
    for (int i = 0; i < NP; ++i) {
      const int64_t at = ((mb + j) * a.P + p + i) * 16;
      const __m512 v = a.bias ? _mm512_add_ps(acc[j][i], b) : acc[j][i];
      finish(v, a.residual ? a.residual + at : nullptr, a.clip, lo, hi, keep, a.y + at);
    }
  }
}

template <int NB>
void pointwise_pixels(const PointwiseBf16x16c& a, int64_t mb, int64_t p, int64_t n) {
  switch (n) {
    case 1: pointwise_tile<NB, 1>(a, mb, p); break;
    case 2: pointwise_tile<NB, 2>(a, mb, p); break;
    case 3: pointwise_tile<NB, 3>(a, mb, p); break;
    case 4: pointwise_tile<NB, 4>(a, mb, p); break;
    case 5: pointwise_tile<NB, 5>(a, mb, p); break;
    case 6: pointwise_tile<NB, 6>(a, mb, p); break;
    case 7: pointwise_tile<NB, 7>(a, mb, p); break;
    default: pointwise_tile<NB, 8>(a, mb, p); break;
  }
}

// A band's padded rows: [rows][Wp][16] FP32, column j holding input column
// j - pw (+0 outside the image), row r input row band_y0 * sh - ph + r.
void widen_band(const DepthwiseBf16x16c& a, int64_t iy0, int64_t rows, int64_t Wp, float* buf) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    float* d = buf + r * Wp * 16;
    const int64_t iy = iy0 + r;
    if (iy < 0 || iy >= a.H) {
      for (int64_t j = 0; j < Wp; ++j) _mm512_storeu_ps(d + j * 16, zero);
      continue;
    }
    const uint16_t* src = a.x + iy * a.W * 16;
    const int64_t j0 = std::min(a.pw, Wp), j1 = std::min(Wp, a.pw + a.W);
    for (int64_t j = 0; j < j0; ++j) _mm512_storeu_ps(d + j * 16, zero);
    for (int64_t j = j0; j < j1; ++j) _mm512_storeu_ps(d + j * 16, load16(src + (j - a.pw) * 16));
    for (int64_t j = std::max(j0, j1); j < Wp; ++j) _mm512_storeu_ps(d + j * 16, zero);
  }
}

// NP output pixels of one row from the band's padded rows `rows` (the
// output row's first window row), every tap in row-major order.
template <int NP>
void depthwise_pixels(const DepthwiseBf16x16c& a, const float* rows, int64_t Wp, int64_t ox, __m512* acc) {
  const __m512 bias = _mm512_loadu_ps(a.bias);
  for (int i = 0; i < NP; ++i) acc[i] = bias;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const float* row = rows + ky * a.dh * Wp * 16 + ox * a.sw * 16;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const __m512 w = _mm512_loadu_ps(a.w + (ky * a.kw + kx) * 16);
      const float* at = row + kx * a.dw * 16;
#pragma GCC unroll 8
      for (int i = 0; i < NP; ++i) acc[i] = _mm512_fmadd_ps(w, _mm512_loadu_ps(at + i * a.sw * 16), acc[i]);
    }
  }
}

// 3-wide windows (dilation 1) of stride SW: per window row the
// (NP - 1) * SW + 3 pixels loaded once, each feeding its three taps' FMAs
// (each accumulator's FMAs still in the contract's tap order).
template <int NP, int SW>
void depthwise_pixels3(const DepthwiseBf16x16c& a, const float* rows, int64_t Wp, int64_t ox, __m512* acc) {
  constexpr int kPx = (NP - 1) * SW + 3;
  const __m512 bias = _mm512_loadu_ps(a.bias);
  for (int i = 0; i < NP; ++i) acc[i] = bias;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const float* row = rows + ky * a.dh * Wp * 16 + ox * SW * 16;
    __m512 px[kPx];
#pragma GCC unroll 32
    for (int j = 0; j < kPx; ++j) px[j] = _mm512_loadu_ps(row + j * 16);
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) {
      const __m512 w = _mm512_loadu_ps(a.w + (ky * 3 + kx) * 16);
#pragma GCC unroll 8
      for (int i = 0; i < NP; ++i) acc[i] = _mm512_fmadd_ps(w, px[i * SW + kx], acc[i]);
    }
  }
}

// NP pixels by the widest walk the window allows.
template <int NP>
void depthwise_step(const DepthwiseBf16x16c& a, const float* rows, int64_t Wp, int64_t ox, __m512* acc) {
  if (a.kw == 3 && a.dw == 1 && a.sw == 1) {
    depthwise_pixels3<NP, 1>(a, rows, Wp, ox, acc);
  } else if (a.kw == 3 && a.dw == 1 && a.sw == 2) {
    depthwise_pixels3<NP, 2>(a, rows, Wp, ox, acc);
  } else {
    depthwise_pixels<NP>(a, rows, Wp, ox, acc);
  }
}

}  // namespace

void pointwise_bf16x16c(const PointwiseBf16x16c& a) {
  for (int64_t mb = a.mb0; mb < a.mb1; mb += 2) {
    const bool two = mb + 1 < a.mb1;
    // Even tiles of at most 8 pixels (49 pixels: 7 x 7, not 6 x 8 + 1).
    const int64_t tiles = (a.p1 - a.p0 + 7) / 8, np = tiles ? (a.p1 - a.p0 + tiles - 1) / tiles : 0;
    for (int64_t p = a.p0; p < a.p1; p += np) {
      const int64_t n = std::min<int64_t>(np, a.p1 - p);
      if (two) {
        pointwise_pixels<2>(a, mb, p, n);
      } else {
        pointwise_pixels<1>(a, mb, p, n);
      }
    }
  }
}

void depthwise_bf16x16c(const DepthwiseBf16x16c& a) {
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  const __mmask16 keep = lanes_kept(a.lanes);
  const int64_t Wp = (a.ow - 1) * a.sw + (a.kw - 1) * a.dw + 1;
  const int64_t span = (a.kh - 1) * a.dh + 1;
  // Bands of output rows whose padded rows fit kBandFloats (at least one).
  const int64_t band = std::max<int64_t>(1, (kBandFloats / (Wp * 16) - span) / a.sh + 1);
  thread_local std::vector<float> buf;
  const int64_t most = ((std::min(band, a.oy1 - a.oy0) - 1) * a.sh + span) * Wp * 16;
  if (static_cast<int64_t>(buf.size()) < most) buf.resize(static_cast<size_t>(most));
  __m512 acc[8];
  for (int64_t b0 = a.oy0; b0 < a.oy1; b0 += band) {
    const int64_t b1 = std::min(a.oy1, b0 + band);
    widen_band(a, b0 * a.sh - a.ph, (b1 - 1 - b0) * a.sh + span, Wp, buf.data());
    for (int64_t oy = b0; oy < b1; ++oy) {
      const float* rows = buf.data() + (oy - b0) * a.sh * Wp * 16;
      uint16_t* y = a.y + oy * a.ow * 16;
      const uint16_t* res = a.residual ? a.residual + oy * a.ow * 16 : nullptr;
      for (int64_t ox = 0; ox < a.ow;) {
        const int64_t n = std::min<int64_t>(a.ow - ox, 8);
        if (n == 8) {
          depthwise_step<8>(a, rows, Wp, ox, acc);
        } else if (n >= 4) {
          depthwise_step<4>(a, rows, Wp, ox, acc);
        } else {
          depthwise_step<1>(a, rows, Wp, ox, acc);
        }
        const int64_t done = n == 8 ? 8 : n >= 4 ? 4 : 1;
        for (int64_t i = 0; i < done; ++i) {
          finish(acc[i], res ? res + (ox + i) * 16 : nullptr, a.clip, lo, hi, keep, y + (ox + i) * 16);
        }
        ox += done;
      }
    }
  }
}

void block_mean_bf16(const uint16_t* x, int64_t blocks, int64_t P, float* means) {
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 s = _mm512_setzero_ps();
    for (int64_t p = 0; p < P; ++p) s = _mm512_add_ps(s, load16(x + (b * P + p) * 16));
    _mm512_storeu_ps(means + b * 16, s);
    for (int l = 0; l < 16; ++l) means[b * 16 + l] = means[b * 16 + l] / static_cast<float>(P);
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
