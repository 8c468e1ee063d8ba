// dwconv_f32, AVX-512F tier: contract in kernels/abi/dwconv_f32.h.
//
// Every tap is one FMA (w * x + acc, one rounding) in the reference's
// row-major tap order; the accumulators start at the bias, and the
// residual and clip are applied in registers before the one store. Two
// walks over a plane:
// - flat (stride 1, ow == W, planes under 32 columns wide: MobileNet's
//   14x14 and 7x7 stages): the oh * ow outputs as one array, 16 consecutive
//   outputs per vector whichever rows they lie in. Tap (ky, kx) of output
//   i reads input i + (ky * dh - ph) * W + kx * dw - pw under the mask of
//   the lanes whose input row and column lie inside the image, so a 7x7
//   plane fills 49 of 64 lanes (row by row: 28). The masks of every
//   (vector, tap) depend on the geometry only: computed once per geometry
//   and thread and kept.
// - rows (any other): up to 4 zmm accumulators, each 16 adjacent output
//   columns of one output row (4 independent FMA chains). Input columns:
//   stride 1 is one load (masked only in the blocks at the image's edges),
//   stride 2 two masked loads and an even-lane permute, any other stride a
//   masked gather. The masks of each (column block, kx) are computed once
//   per call, for all of its planes.
// Masked-off lanes load zero and never touch memory.
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

// The residual and clip of the contract, then the store of the lanes in m.
struct Finish {
  bool clip;
  __m512 lo, hi;
  explicit Finish(const DwConvF32Plane& p)
      : clip(p.clip), lo(_mm512_set1_ps(p.lo)), hi(_mm512_set1_ps(p.hi)) {}
  inline void store(__m512 v, const float* r, float* y, __mmask16 m) const {
    if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r));
    if (clip) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);  // NaN -> lo, as the reference
    _mm512_mask_storeu_ps(y, m, v);
  }
};

// One plane's data: input, taps, bias, residual (or null), output.
struct PlaneData {
  const float* x;
  const float* w;
  float bias;
  const float* r;
  float* y;
};

PlaneData plane_data(const DwConvF32Plane& p, int64_t t) {
  const int64_t c = t % p.C, n = p.oh * p.ow;
  return {p.x + t * p.H * p.W, p.w + c * p.kh * p.kw, p.bias ? p.bias[c] : 0.f,
          p.residual ? p.residual + t * n : nullptr, p.y + t * n};
}

// ---- flat walk -------------------------------------------------------------

// The flat walk's lane masks, [tap][vector], and each tap's input offset;
// kept per thread for the last geometry seen.
struct FlatMasks {
  int64_t key[10] = {-1};
  int64_t vectors = 0;
  std::vector<uint16_t> m;
  std::vector<int64_t> off;
};

const FlatMasks& flat_masks(const DwConvF32Plane& p) {
  thread_local FlatMasks f;
  const int64_t key[10] = {p.H, p.W, p.oh, p.ow, p.kh, p.kw, p.ph, p.pw, p.dh, p.dw};
  if (std::equal(key, key + 10, f.key)) return f;
  std::copy(key, key + 10, f.key);
  const int64_t n = p.oh * p.ow, taps = p.kh * p.kw;
  f.vectors = (n + 15) / 16;
  f.m.assign(static_cast<size_t>(taps * f.vectors), 0);
  f.off.resize(static_cast<size_t>(taps));
  std::vector<uint16_t> rows(static_cast<size_t>(p.kh)), cols(static_cast<size_t>(p.kw));
  for (int64_t v = 0; v < f.vectors; ++v) {
    std::fill(rows.begin(), rows.end(), 0);
    std::fill(cols.begin(), cols.end(), 0);
    for (int64_t j = 0; j < 16 && v * 16 + j < n; ++j) {
      const int64_t oy = (v * 16 + j) / p.ow, ox = (v * 16 + j) % p.ow;
      for (int64_t ky = 0; ky < p.kh; ++ky) {
        const int64_t iy = oy - p.ph + ky * p.dh;
        if (iy >= 0 && iy < p.H) rows[static_cast<size_t>(ky)] |= static_cast<uint16_t>(1u << j);
      }
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        const int64_t ix = ox - p.pw + kx * p.dw;
        if (ix >= 0 && ix < p.W) cols[static_cast<size_t>(kx)] |= static_cast<uint16_t>(1u << j);
      }
    }
    for (int64_t ky = 0; ky < p.kh; ++ky) {
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        f.m[static_cast<size_t>((ky * p.kw + kx) * f.vectors + v)] =
            rows[static_cast<size_t>(ky)] & cols[static_cast<size_t>(kx)];
      }
    }
  }
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    for (int64_t kx = 0; kx < p.kw; ++kx) f.off[static_cast<size_t>(ky * p.kw + kx)] = (ky * p.dh - p.ph) * p.W + kx * p.dw - p.pw;
  }
  return f;
}

// U consecutive output vectors v0 .. v0 + U - 1 of one plane.
template <int U>
void flat_vectors(const DwConvF32Plane& p, const PlaneData& q, const FlatMasks& f, const Finish& fin, int64_t v0) {
  __m512 acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) acc[u] = _mm512_set1_ps(q.bias);
  const int64_t taps = p.kh * p.kw;
  const uint16_t* m = f.m.data() + v0;
  const float* x = q.x + v0 * 16;
  for (int64_t t = 0; t < taps; ++t, m += f.vectors) {
    const __m512 w = _mm512_set1_ps(q.w[t]);
    const float* xt = x + f.off[static_cast<size_t>(t)];
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      acc[u] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m[u]), xt + u * 16), acc[u]);
    }
  }
  const int64_t n = p.oh * p.ow;
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    const int64_t i = (v0 + u) * 16;
    fin.store(acc[u], q.r ? q.r + i : nullptr, q.y + i, static_cast<__mmask16>(lane_bits(0, std::min<int64_t>(16, n - i))));
  }
}

void flat_planes(const DwConvF32Plane& p) {
  const FlatMasks& f = flat_masks(p);
  const Finish fin(p);
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const PlaneData q = plane_data(p, t);
    int64_t v = 0;
    for (; v + 4 <= f.vectors; v += 4) flat_vectors<4>(p, q, f, fin, v);
    switch (f.vectors - v) {
      case 3: flat_vectors<3>(p, q, f, fin, v); break;
      case 2: flat_vectors<2>(p, q, f, fin, v); break;
      case 1: flat_vectors<1>(p, q, f, fin, v); break;
      default: break;
    }
  }
}

// ---- row walk --------------------------------------------------------------

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

// U adjacent column blocks of output row oy, starting at block bl. Inside
// (stride 1 only): every lane of every tap of these blocks lies inside the
// image's columns, so each tap is one unmasked load.
template <int U, int S, bool Inside>
void row_blocks(const DwConvF32Plane& p, const PlaneData& q, const Tap* taps, const Finish& fin, int64_t oy,
                int64_t bl) {
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
    if (Inside) {
      const float* xr = row + bl * 16 - p.pw;
      for (int64_t kx = 0; kx < kw; ++kx, xr += p.dw) {
        const __m512 w = _mm512_set1_ps(wk[kx]);
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) acc[u] = _mm512_fmadd_ps(w, _mm512_loadu_ps(xr + u * 16), acc[u]);
      }
    } else {
      for (int64_t kx = 0; kx < kw; ++kx) {
        const __m512 w = _mm512_set1_ps(wk[kx]);
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) acc[u] = _mm512_fmadd_ps(w, tap_input<S>(p, row, tk[u * kw + kx]), acc[u]);
      }
    }
  }
  const int64_t o = oy * p.ow;
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    const int64_t col = (bl + u) * 16, i = o + col;
    fin.store(acc[u], q.r ? q.r + i : nullptr, q.y + i,
              static_cast<__mmask16>(lane_bits(0, std::min<int64_t>(16, p.ow - col))));
  }
}

template <int S>
void row_group(const DwConvF32Plane& p, const PlaneData& q, const Tap* taps, const Finish& fin, int64_t oy,
               int64_t bl, int64_t n, bool inside) {
  if (S == 1 && inside) {
    switch (n) {
      case 4: row_blocks<4, S, true>(p, q, taps, fin, oy, bl); return;
      case 3: row_blocks<3, S, true>(p, q, taps, fin, oy, bl); return;
      case 2: row_blocks<2, S, true>(p, q, taps, fin, oy, bl); return;
      default: row_blocks<1, S, true>(p, q, taps, fin, oy, bl); return;
    }
  }
  switch (n) {
    case 4: row_blocks<4, S, false>(p, q, taps, fin, oy, bl); return;
    case 3: row_blocks<3, S, false>(p, q, taps, fin, oy, bl); return;
    case 2: row_blocks<2, S, false>(p, q, taps, fin, oy, bl); return;
    default: row_blocks<1, S, false>(p, q, taps, fin, oy, bl); return;
  }
}

template <int S>
void row_planes(const DwConvF32Plane& p, const Tap* taps, const uint8_t* inside, int64_t blocks) {
  const Finish fin(p);
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const PlaneData q = plane_data(p, t);
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t bl = 0; bl < blocks;) {
        // A group of up to 4 blocks, all inside or all at an edge.
        int64_t n = 1;
        while (n < 4 && bl + n < blocks && inside[bl + n] == inside[bl]) ++n;
        row_group<S>(p, q, taps, fin, oy, bl, n, inside[bl] != 0);
        bl += n;
      }
    }
  }
}

void rows(const DwConvF32Plane& p) {
  const int64_t blocks = (p.ow + 15) / 16;
  thread_local std::vector<Tap> taps;
  thread_local std::vector<uint8_t> inside;
  taps.resize(static_cast<size_t>(blocks * p.kw));
  inside.assign(static_cast<size_t>(blocks), 1);
  for (int64_t bl = 0; bl < blocks; ++bl) {
    const int64_t n = std::min<int64_t>(16, p.ow - bl * 16);
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      Tap& t = taps[static_cast<size_t>(bl * p.kw + kx)];
      t.ix0 = bl * 16 * p.sw + kx * p.dw - p.pw;
      const int64_t lo = t.ix0 >= 0 ? 0 : ceil_div(-t.ix0, p.sw);
      t.out = static_cast<__mmask16>(lane_bits(lo, std::min(n, ceil_div(p.W - t.ix0, p.sw))));
      t.in = static_cast<uint32_t>(lane_bits(std::max<int64_t>(0, -t.ix0), std::min<int64_t>(32, p.W - t.ix0)));
      if (p.sw != 1 || t.out != 0xFFFF) inside[static_cast<size_t>(bl)] = 0;
    }
  }
  if (p.sw == 1) {
    row_planes<1>(p, taps.data(), inside.data(), blocks);
  } else if (p.sw == 2) {
    row_planes<2>(p, taps.data(), inside.data(), blocks);
  } else {
    row_planes<0>(p, taps.data(), inside.data(), blocks);
  }
}

}  // namespace

void dwconv_f32_plane(const DwConvF32Plane& p) {
  if (p.sh == 1 && p.sw == 1 && p.ow == p.W && p.ow < 32) {
    flat_planes(p);
  } else {
    rows(p);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
