// dwconv_f32, AVX-512F tier, shift walk: contract in kernels/abi/dwconv_f32.h;
// chosen by dwconv_f32_16.cc (dwconv_f32_shift_takes) for 3x3 and 5x5
// kernels with "same" leading pads (k / 2), no dilation, stride 1 or 2.
//
// The plane is read in place (NCHW: no padded copy, no transpose; ONNX
// Runtime's MLAS gets the same effect by keeping NCHWc between its convs).
// Register tile: R output rows x U blocks of 16 adjacent output columns,
// R * U FMA chains. The tile walks the (R - 1) * S + kh input rows it reads
// once, top to bottom; of each row it loads the blocks under the tile and
// one on either side (zero-masked past the image's edges: the padding),
// stride 2 splits each pair of loads into its even and odd columns (two
// permutes), and every tap column is then one valignd of a block and its
// neighbour: an input vector serves the kw taps of its row for every output
// row of the tile that reads it (kh of them at stride 1). Per 3x3 output
// vector at stride 1, R = 4: 9 FMAs, 1.5 loads and 3 shuffles, where the
// channel-blocked walk (dwconv_f32_c16.cc) spends 9 FMAs and about 8
// shuffles (its 16 x 16 transposes in and out) and the row walk 9 loads.
// Before its tiles run, a plane's input is swept once with prefetches (the
// tiles' access pattern defeats the hardware prefetchers on a cold batch).
//
// Arithmetic: each output starts at its bias and takes one FMA per tap in
// row-major tap order (input rows top to bottom, tap columns left to right);
// a tap on a padded column adds w * 0, a tap on a padded row is skipped, as
// the row walk does. The walks' sums are the same but for the sign of a zero
// result and non-finite weights (the contract's allowance).
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/abi/dwconv_f32.h"
#include "kernels/x86/avx512/dwconv_f32_plane16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// f(std::integral_constant<int, I>) for I = 0 .. N - 1, in order: the tile's
// loops with indices known at compile time (valignd takes an immediate, and
// the row / tap pairs a tile never visits compile to nothing).
template <typename F, int... I>
inline void static_for_impl(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
inline void static_for(F&& f) {
  static_for_impl(f, std::make_integer_sequence<int, N>{});
}

// The zero-masked valignd with every lane kept: the unmasked intrinsic's
// "undefined" source trips GCC 12's -Wuninitialized in its own header.
constexpr __mmask16 kAll = 0xFFFF;

// Columns j + Q of the blocks (prev, cur, next) laid end to end, |Q| < 16.
template <int Q>
inline __m512 shifted(__m512 prev, __m512 cur, __m512 next) {
  if constexpr (Q == 0) {
    return cur;
  } else if constexpr (Q < 0) {
    return _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(kAll, _mm512_castps_si512(cur), _mm512_castps_si512(prev), 16 + Q));
  } else {
    return _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(kAll, _mm512_castps_si512(next), _mm512_castps_si512(cur), Q));
  }
}

struct Walk {
  dw16::PlaneData q;
  int64_t H, W, oh, ow, blocks;
  const dw16::Finish* fin;
};

// Output rows oy0 .. oy0 + R - 1, blocks b0 .. b0 + U - 1 (output columns
// 16 (b0 + u) + j). Phase f of block b holds input columns S (16 b + j) + f;
// tap column kx (s = kx - kw / 2) of output column 16 b + j is input column
// S (16 b + j) + s: phase f = s mod S of block b, shifted by (s - f) / S.
template <int KH, int KW, int S, int R, int U>
void tile(const Walk& c, int64_t oy0, int64_t b0) {
  constexpr int PH = KH / 2, PW = KW / 2;
  constexpr int NB = U + 2;   // blocks b0 - 1 .. b0 + U
  constexpr int NL = S * NB;  // 16-column loads per input row
  constexpr int IN = (R - 1) * S + KH;
  const int64_t c0 = (b0 - 1) * 16 * S;  // column of the first load
  __mmask16 m[NL];
#pragma GCC unroll 12
  for (int l = 0; l < NL; ++l) {
    const int64_t col = c0 + 16 * l;
    m[l] = col < 0 || col >= c.W ? 0 : dw16::row_mask(col, c.W);
  }
  __m512 acc[R][U];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[r][u] = _mm512_set1_ps(c.q.bias);
  }
  const float* w = c.q.w;
  const int64_t iy0 = oy0 * S - PH;
  static_for<IN>([&](auto ic) {
    constexpr int i = decltype(ic)::value;
    const int64_t iy = iy0 + i;
    if (iy < 0 || iy >= c.H) return;  // a padded row: its taps are skipped
    const float* row = c.q.x + iy * c.W + c0;
    __m512 ph[S][NB];  // ph[f][k]: phase f of block b0 - 1 + k
#pragma GCC unroll 12
    for (int k = 0; k < NB; ++k) {
      if constexpr (S == 1) {
        ph[0][k] = _mm512_maskz_loadu_ps(m[k], row + 16 * k);
      } else {
        const __m512 lo = _mm512_maskz_loadu_ps(m[2 * k], row + 32 * k);
        const __m512 hi = _mm512_maskz_loadu_ps(m[2 * k + 1], row + 32 * k + 16);
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
        ph[0][k] = _mm512_permutex2var_ps(lo, even, hi);
        ph[S - 1][k] = _mm512_permutex2var_ps(lo, odd, hi);
      }
    }
    static_for<U>([&](auto uc) {
      constexpr int u = decltype(uc)::value;
      static_for<KW>([&](auto kc) {
        constexpr int kx = decltype(kc)::value, s = kx - PW;
        constexpr int f = ((s % S) + S) % S, sh = (s - f) / S;
        const __m512 v = shifted<sh>(ph[f][u], ph[f][u + 1], ph[f][u + 2]);
        static_for<R>([&](auto rc) {
          constexpr int r = decltype(rc)::value, ky = i - S * r;
          if constexpr (ky >= 0 && ky < KH) {
            acc[r][u] = _mm512_fmadd_ps(_mm512_set1_ps(w[ky * KW + kx]), v, acc[r][u]);
          }
        });
      });
    });
  });
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int64_t o = (oy0 + r) * c.ow;
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const int64_t col = (b0 + u) * 16;
      c.fin->store(acc[r][u], c.q.r ? c.q.r + o + col : nullptr, c.q.y + o + col, dw16::row_mask(col, c.ow));
    }
  }
}

// Blocks b .. blocks - 1 of output rows oy0 .. oy0 + R - 1, U at a time,
// the last ones fewer.
template <int KH, int KW, int S, int R, int U>
void blocks_from(const Walk& c, int64_t oy0, int64_t b) {
  for (; b + U <= c.blocks; b += U) tile<KH, KW, S, R, U>(c, oy0, b);
  if constexpr (U > 1) {
    if (b < c.blocks) blocks_from<KH, KW, S, R, U - 1>(c, oy0, b);
  }
}

// Output rows oy .. oh - 1, R at a time, the last ones fewer.
template <int KH, int KW, int S, int R, int U>
void rows_from(const Walk& c, int64_t oy) {
  for (; oy + R <= c.oh; oy += R) blocks_from<KH, KW, S, R, U>(c, oy, 0);
  if constexpr (R > 1) {
    if (oy < c.oh) rows_from<KH, KW, S, R - 1, U>(c, oy);
  }
}

// A plane one block wide (14 x 14, 16 x 16 stages) runs 8 rows for 8 FMA
// chains; wider ones 4 rows x up to 4 blocks (2 at stride 2, whose loads
// and phases take twice the registers).
template <int KH, int KW, int S>
void planes(const DwConvF32Plane& p) {
  const dw16::Finish fin(p);
  Walk c{dw16::plane_data(p, p.first), p.H, p.W, p.oh, p.ow, (p.ow + 15) / 16, &fin};
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    c.q = dw16::plane_data(p, t);
    // The plane's input fetched front to back before the tiles read it: a
    // tile reads short runs of (R - 1) S + kh rows at once, which no
    // hardware prefetcher followed; a cold input (batch 8) ran at 1/3 to
    // 1/7 of a warm one's speed per image, and with this sweep the network's
    // depthwise layers take 0.77-0.86x the old walks' time at batch 8 and
    // 0.82-0.86x at batch 1 (T1 / T2 hints: less; RESULTS.md section 94).
    const char* x = reinterpret_cast<const char*>(c.q.x);
    const char* end = reinterpret_cast<const char*>(c.q.x + p.H * p.W);
    for (; x < end; x += 64) _mm_prefetch(x, _MM_HINT_T0);
    if (c.blocks == 1) {
      rows_from<KH, KW, S, 8, 1>(c, 0);
    } else if (S == 1) {
      rows_from<KH, KW, S, 4, 4>(c, 0);
    } else {
      rows_from<KH, KW, S, 4, 2>(c, 0);
    }
  }
}

}  // namespace

bool dwconv_f32_shift_takes(const DwConvF32Plane& p) {
  const bool square = p.kh == p.kw && (p.kh == 3 || p.kh == 5) && p.sh == p.sw && (p.sh == 1 || p.sh == 2);
  return square && p.dh == 1 && p.dw == 1 && p.ph == p.kh / 2 && p.pw == p.kw / 2;
}

void dwconv_f32_shift(const DwConvF32Plane& p) {
  if (p.kh == 3) {
    p.sh == 1 ? planes<3, 3, 1>(p) : planes<3, 3, 2>(p);
  } else {
    p.sh == 1 ? planes<5, 5, 1>(p) : planes<5, 5, 2>(p);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
