// BF16 channel-blocked depthwise conv of 5-wide windows (dilation 1, column
// stride 1: PP-OCR rec's 5 x 5 and 5 x 5 / (2, 1), EfficientNet's and
// MobileNetV3's 5 x 5 of stride 1 on planes 8+ wide), AVX-512 with
// AVX512-BF16: contract in kernels/abi/nchw16c_bf16.h; depthwise_bf16x16c
// (nchw16c_bf16.cc) calls it (depthwise_nchw16c_bf16_ring.h says which).
// The ring and tile take any width K and column stride SW; only K = 5,
// SW = 1 is instantiated.
//
// Each input row the call's output rows read is widened to FP32 once, into
// a ring of kh rows in this thread's scratch ([Wp][16] floats a row, the
// columns left of the image (pw) and right of it +0; a window row outside
// the image reads a row of +0). The walk it replaces widened each pixel once
// per output row whose window holds it (5 times for a 5-tall window of row
// stride 1), and its widening shuffles and shifts took the FMA's vector
// pipes (Zen 4: 2 of 3).
// Register tile: 8 output pixels (then 4, then 1) of one row, one zmm of 16
// channels each, as independent FMA chains; per window row the tile's
// (NP - 1) * SW + K widened pixels loaded once (plain loads) and per tap one
// weight vector and NP FMAs, from the bias, taps in row-major order. A tap
// outside the image multiplies +0 as in the walk it replaces and the
// reference: the same operations on the same values, so the same bits.
// Then the fused activation, residual, clip and store (the shared epilogue,
// nchw16c_bf16_epilogue.h). PP-OCR rec's convs: RESULTS.md section 280.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include "kernels/x86/avx512bf16/depthwise_nchw16c_bf16_ring.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/avx512bf16/nchw16c_bf16_epilogue.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

// NP output pixels from output column ox: rows[ky] the window's widened
// rows (padded column j = input column j - pw), every tap in row-major order
// from the bias.
template <int K, int NP, int SW>
inline void tile(const float* const* rows, const float* taps, __m512 bias, int64_t kh, int64_t ox, __m512* out) {
  constexpr int kPx = (NP - 1) * SW + K;
  __m512 v[NP];
  for (int i = 0; i < NP; ++i) v[i] = bias;
  for (int64_t ky = 0; ky < kh; ++ky) {
    const float* row = rows[ky] + ox * SW * 16;
    __m512 px[kPx];
#pragma GCC unroll 32
    for (int j = 0; j < kPx; ++j) px[j] = _mm512_loadu_ps(row + j * 16);
#pragma GCC unroll 5
    for (int kx = 0; kx < K; ++kx) {
      const __m512 w = _mm512_loadu_ps(taps + (ky * K + kx) * 16);
#pragma GCC unroll 8
      for (int i = 0; i < NP; ++i) v[i] = _mm512_fmadd_ps(w, px[i * SW + kx], v[i]);
    }
  }
  for (int i = 0; i < NP; ++i) out[i] = v[i];
}

// Output rows [oy0, oy1), window width K, column stride SW.
template <int K, int SW>
void ring_rows(const DepthwiseBf16x16c& a) {
  const int64_t Wp = std::max(a.pw + a.W, (a.ow - 1) * SW + K), line = Wp * 16;
  thread_local std::vector<float> scratch;  // kh ring rows, then one row of +0
  if (static_cast<int64_t>(scratch.size()) < (a.kh + 1) * line) scratch.resize(static_cast<size_t>((a.kh + 1) * line));
  float* ring = scratch.data();
  float* zero = ring + a.kh * line;
  const int64_t first = a.oy0 * a.sh - a.ph, last = (a.oy1 - 1) * a.sh - a.ph + a.kh - 1;  // input rows read
  if (first < 0 || last >= a.H) std::memset(zero, 0, static_cast<size_t>(line) * sizeof(float));
  for (int64_t s = 0; s < a.kh; ++s) {  // the columns outside the image, +0 in every ring row
    float* row = ring + s * line;
    std::memset(row, 0, static_cast<size_t>(a.pw * 16) * sizeof(float));
    std::memset(row + (a.pw + a.W) * 16, 0, static_cast<size_t>((Wp - a.pw - a.W) * 16) * sizeof(float));
  }
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi), bias = _mm512_loadu_ps(a.bias);
  const __mmask16 keep = lanes_kept(a.lanes);
  const float* taps = a.w;
  int64_t next = std::max<int64_t>(0, first);  // the next input row to widen
  const float* rows[kBf16BlockedMaxRows];
  __m512 acc[8];
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    const int64_t iy0 = oy * a.sh - a.ph;
    next = std::max(next, iy0);
    for (int64_t ky = 0; ky < a.kh; ++ky) {
      const int64_t iy = iy0 + ky;
      if (iy < 0 || iy >= a.H) {
        rows[ky] = zero;
        continue;
      }
      for (; next <= iy; ++next) {  // widen row `next` into its ring slot (the row kh above it is done with)
        const uint16_t* src = a.x + next * a.W * 16;
        float* dst = ring + (next % a.kh) * line + a.pw * 16;
        if (next + a.sh < a.H) {  // the row after next's step, brought in meanwhile
          const char* ahead = reinterpret_cast<const char*>(a.x + (next + a.sh) * a.W * 16);
          for (int64_t b = 0; b < a.W * 32; b += 64) __builtin_prefetch(ahead + b);
        }
        for (int64_t ix = 0; ix < a.W; ++ix) _mm512_storeu_ps(dst + ix * 16, load16(src + ix * 16));
      }
      rows[ky] = ring + (iy % a.kh) * line;
    }
    uint16_t* y = a.y + oy * a.ow * 16;
    const uint16_t* res = a.residual ? a.residual + oy * a.ow * 16 : nullptr;
    for (int64_t ox = 0; ox < a.ow;) {
      const int64_t n = a.ow - ox >= 8 ? 8 : a.ow - ox >= 4 ? 4 : 1;
      if (n == 8) {
        tile<K, 8, SW>(rows, taps, bias, a.kh, ox, acc);
      } else if (n == 4) {
        tile<K, 4, SW>(rows, taps, bias, a.kh, ox, acc);
      } else {
        tile<K, 1, SW>(rows, taps, bias, a.kh, ox, acc);
      }
      if (a.act.fn) activate(a.act, acc, static_cast<int>(n));
      for (int64_t i = 0; i < n; ++i) {
        finish(acc[i], res ? res + (ox + i) * 16 : nullptr, a.clip, lo, hi, keep, y + (ox + i) * 16);
      }
      ox += n;
    }
  }
}

}  // namespace

void depthwise_bf16x16c_ring(const DepthwiseBf16x16c& a) { ring_rows<5, 1>(a); }

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
