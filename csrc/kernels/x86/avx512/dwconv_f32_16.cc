// dwconv_f32, AVX-512F tier: contract in kernels/abi/dwconv_f32.h.
//
// Register tile: up to 4 zmm accumulators, each 16 adjacent output columns
// of one output row (4 independent add chains), started at the bias; every tap (ky, kx), in row-major
// order, adds w * x (a multiply, then an add: no FMA, so the bits are the
// reference's) under the mask of the columns whose input column lies inside
// the image (the others keep their value, so a skipped tap is skipped
// exactly as in the reference). Input columns: stride 1 is
// one masked load, stride 2 two masked loads and an even-lane permute, any
// other stride a masked gather. Masked-off lanes never touch memory. The
// masks of each (column block, kx) are computed once per call, for all of
// its planes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

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

// The lane masks of one (column block, kx): they depend on nothing else,
// so they are computed once per call (integer divisions stay out of the
// tap loop).
struct Tap {
  int64_t ix0;    // input column of lane 0
  uint32_t in;    // stride 2: valid input columns ix0 .. ix0 + 31
  __mmask16 out;  // lanes j with 0 <= ix0 + j * sw < W, j < valid outputs
};

// The input columns of one tap under its mask (zeros elsewhere); S is the
// stride when 1 or 2, 0 for any other (a gather).
template <int S>
inline __m512 tap_input(const DwConvF32Plane& p, const float* row, const Tap& t) {
  if (S == 1) return _mm512_maskz_loadu_ps(t.out, row + t.ix0);
  if (S == 2) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512 a = _mm512_maskz_loadu_ps(static_cast<__mmask16>(t.in), row + t.ix0);
    const __m512 b = _mm512_maskz_loadu_ps(static_cast<__mmask16>(t.in >> 16), row + t.ix0 + 16);
    return _mm512_permutex2var_ps(a, even, b);
  }
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(t.ix0)),
                                       _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(p.sw))));
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), t.out, idx, row, 4);
}

// U adjacent column blocks of output row oy, starting at block bl: U
// independent add chains, so the add latency is hidden. A stride-1 tap
// whose 16 lanes all lie inside the image loads without a mask.
// One plane's data: input, taps, bias, output.
struct PlaneData {
  const float* x;
  const float* w;
  float bias;
  float* y;
};

template <int U, int S>
void row_blocks(const DwConvF32Plane& p, const PlaneData& q, const Tap* taps, int64_t oy, int64_t bl) {
  __m512 acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) acc[u] = _mm512_set1_ps(q.bias);
  const int64_t kw = p.kw;
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const int64_t iy = oy * p.sh - p.ph + ky * p.dh;
    if (iy < 0 || iy >= p.H) continue;
    const float* row = q.x + iy * p.W;
    const float* wk = q.w + ky * kw;
    const Tap* tk = taps + bl * kw;
    for (int64_t kx = 0; kx < kw; ++kx) {
      const __m512 w = _mm512_set1_ps(wk[kx]);
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) {
        const Tap& t = tk[u * kw + kx];
        if (S == 1 && t.out == 0xFFFF) {  // every lane inside the image
          acc[u] = _mm512_add_ps(acc[u], _mm512_mul_ps(w, _mm512_loadu_ps(row + t.ix0)));
        } else if (t.out) {
          acc[u] = _mm512_mask_add_ps(acc[u], t.out, acc[u], _mm512_mul_ps(w, tap_input<S>(p, row, t)));
        }
      }
    }
  }
  float* d = q.y + oy * p.ow;
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    const int64_t c0 = (bl + u) * 16;
    _mm512_mask_storeu_ps(d + c0, static_cast<__mmask16>(lane_bits(0, std::min<int64_t>(16, p.ow - c0))), acc[u]);
  }
}

template <int S>
void planes(const DwConvF32Plane& p, const Tap* taps, int64_t blocks) {
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const int64_t c = t % p.C;
    const PlaneData q{p.x + t * p.H * p.W, p.w + c * p.kh * p.kw, p.bias ? p.bias[c] : 0.f, p.y + t * p.oh * p.ow};
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      int64_t bl = 0;
      for (; bl + 4 <= blocks; bl += 4) row_blocks<4, S>(p, q, taps, oy, bl);
      switch (blocks - bl) {
        case 3: row_blocks<3, S>(p, q, taps, oy, bl); break;
        case 2: row_blocks<2, S>(p, q, taps, oy, bl); break;
        case 1: row_blocks<1, S>(p, q, taps, oy, bl); break;
        default: break;
      }
    }
  }
}

}  // namespace

void dwconv_f32_plane(const DwConvF32Plane& p) {
  const int64_t blocks = (p.ow + 15) / 16;
  thread_local std::vector<Tap> taps;
  taps.resize(static_cast<size_t>(blocks * p.kw));
  for (int64_t bl = 0; bl < blocks; ++bl) {
    const int64_t n = std::min<int64_t>(16, p.ow - bl * 16);
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      Tap& t = taps[static_cast<size_t>(bl * p.kw + kx)];
      t.ix0 = bl * 16 * p.sw + kx * p.dw - p.pw;
      const int64_t lo = t.ix0 >= 0 ? 0 : ceil_div(-t.ix0, p.sw);
      t.out = static_cast<__mmask16>(lane_bits(lo, std::min(n, ceil_div(p.W - t.ix0, p.sw))));
      t.in = static_cast<uint32_t>(lane_bits(std::max<int64_t>(0, -t.ix0), std::min<int64_t>(32, p.W - t.ix0)));
    }
  }
  if (p.sw == 1) {
    planes<1>(p, taps.data(), blocks);
  } else if (p.sw == 2) {
    planes<2>(p, taps.data(), blocks);
  } else {
    planes<0>(p, taps.data(), blocks);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
