// dwconv_f32, AVX-512F tier: contract in kernels/abi/dwconv_f32.h.
//
// Every tap is one FMA (w * x + acc, one rounding) in the reference's
// row-major tap order; the accumulators start at the bias, and the
// residual and clip are applied in registers before the one store. The
// shift walk of dwconv_f32_shift.cc (planes read in place) takes 3x3 and
// 5x5 kernels with "same" leading pads, stride 1 or 2, where the output
// rows fill a 16-lane block (dwconv_f32_plane); the other planes take one
// of the two walks here or the channel-blocked walk below:
// - flat (stride 1, ow == W, planes under 32 columns wide: MobileNet's
//   14x14 and 7x7 stages): the oh * ow outputs as one array, 16 consecutive
//   outputs per vector whichever rows they lie in, 8 vectors of two planes
//   at a time (the planes share the masks). Tap (ky, kx) of output
//   i reads input i + (ky * dh - ph) * W + kx * dw - pw under the mask of
//   the lanes whose input row and column lie inside the image, so a 7x7
//   plane fills 49 of 64 lanes (row by row: 28). The masks of every
//   (vector, tap) depend on the geometry only: computed once per geometry
//   and thread and kept.
// - rows (any other): the plane copied once into rows padded with zeros
//   left and right (so no tap needs a mask), then two output rows (four
//   when a row is at most 32 columns) times up to 4 blocks of 16 adjacent
//   output columns (up to 8 independent FMA chains). Input columns:
//   stride 1 is one load, stride 2 two loads and an even-lane permute, any
//   other stride a gather. Two copies alternate: the next plane is copied
//   (and the one after it prefetched) before this one is computed. A
//   padded zero adds w * 0 where the reference skips the tap: the same
//   sum but for the sign of a zero result and for non-finite weights
//   (inf * 0).
// Outside the shift and flat walks, whole groups of 16 channels (c0 .. c0 + 15 of an
// image, c0 a multiple of 16; the last C % 16 channels on the rows walk)
// run the channel-blocked walk of dwconv_f32_c16.cc (the channels as the
// lanes: no permute for stride 2, measured 1.4-2.5x faster on MobileNetV2's
// and EfficientNet-Lite0's strided layers, level or a little faster on the
// stride-1 112x112 and 56x56 ones; slower than the flat walk on 14x14 and
// 28x28 planes, which keep it).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/abi/dwconv_f32.h"
#include "kernels/x86/avx512/dwconv_f32_plane16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

using dw16::Finish;
using dw16::lane_bits;
using dw16::PlaneData;
using dw16::plane_data;

// ---- flat walk -------------------------------------------------------------

// The flat walk's lane masks, [tap][vector], and each tap's input offset;
// kept per thread for the last geometry seen.
struct FlatMasks {
  int64_t key[10] = {-1};
  int64_t vectors = 0;
  std::vector<uint16_t> m;
  std::vector<int64_t> off;
  std::vector<uint16_t> rows, cols;  // the build's scratch, kept (a rebuild per layer per run allocated them)
};

// The walk's view of FlatMasks: plain pointers, so the hot loops hold no
// reference to the thread_local (GCC re-derived its address with a call to
// __tls_get_addr on every tap, spilling every accumulator around it: the
// 7x7 layers ran at twice their time).
struct FlatView {
  int64_t vectors;
  const uint16_t* m;
  const int64_t* off;
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
  std::vector<uint16_t>& rows = f.rows;
  std::vector<uint16_t>& cols = f.cols;
  rows.resize(static_cast<size_t>(p.kh));
  cols.resize(static_cast<size_t>(p.kw));
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

// U consecutive output vectors v0 .. v0 + U - 1 of NP planes (t, t + 1):
// NP * U independent FMA chains (the planes share masks and offsets).
template <int U, int NP>
void flat_vectors(const DwConvF32Plane& p, const PlaneData* q, const FlatView& f, const Finish& fin, int64_t v0) {
  __m512 acc[NP * U];
  const float* x0 = q[0].x + v0 * 16;
  const float* x1 = q[NP - 1].x + v0 * 16;
#pragma GCC unroll 16
  for (int i = 0; i < NP * U; ++i) acc[i] = _mm512_set1_ps(q[i / U].bias);
  const int64_t taps = p.kh * p.kw;
  const uint16_t* m = f.m + v0;
  for (int64_t t = 0; t < taps; ++t, m += f.vectors) {
    const int64_t o = f.off[static_cast<size_t>(t)];
    const __m512 w0 = _mm512_set1_ps(q[0].w[t]);
    const __m512 w1 = _mm512_set1_ps(q[NP - 1].w[t]);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const __mmask16 k = static_cast<__mmask16>(m[u]);
      acc[u] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(k, x0 + o + u * 16), acc[u]);
      if (NP == 2) acc[U + u] = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(k, x1 + o + u * 16), acc[U + u]);
    }
  }
  const int64_t n = p.oh * p.ow;
#pragma GCC unroll 16
  for (int i = 0; i < NP * U; ++i) {
    const PlaneData& d = q[i / U];
    const int64_t at = (v0 + i % U) * 16;
    fin.store(acc[i], d.r ? d.r + at : nullptr, d.y + at, static_cast<__mmask16>(lane_bits(0, std::min<int64_t>(16, n - at))));
  }
}

// Vectors [v, v + n) of NP planes, n <= 8.
template <int NP>
void flat_tail(const DwConvF32Plane& p, const PlaneData* q, const FlatView& f, const Finish& fin, int64_t v,
               int64_t n) {
  switch (n) {
    case 8: flat_vectors<8, NP>(p, q, f, fin, v); break;
    case 7: flat_vectors<7, NP>(p, q, f, fin, v); break;
    case 6: flat_vectors<6, NP>(p, q, f, fin, v); break;
    case 5: flat_vectors<5, NP>(p, q, f, fin, v); break;
    case 4: flat_vectors<4, NP>(p, q, f, fin, v); break;
    case 3: flat_vectors<3, NP>(p, q, f, fin, v); break;
    case 2: flat_vectors<2, NP>(p, q, f, fin, v); break;
    case 1: flat_vectors<1, NP>(p, q, f, fin, v); break;
    default: break;
  }
}

// Two planes at a time wherever the run has a second one, 8 vectors of
// each per step (16 chains): the planes share every tap's mask and offset,
// so each mask load and k-register move serves two FMAs. One plane at a
// time, the walk spent about four instructions per FMA on them (mask load,
// kmov, address, masked load: RESULTS.md section 85) and the 14x14 and
// 28x28 layers of MobileNetV2 / V3 and EfficientNet-Lite0 took 1.14-1.37x
// the time they take two at a time. A run's last odd plane goes alone.
void flat_planes(const DwConvF32Plane& p) {
  const FlatMasks& masks = flat_masks(p);
  const FlatView f{masks.vectors, masks.m.data(), masks.off.data()};
  const Finish fin(p);
  const int64_t end = p.first + p.count;
  for (int64_t t = p.first; t < end;) {
    PlaneData q[2] = {plane_data(p, t), plane_data(p, t)};
    int64_t v = 0;
    if (t + 1 < end) {
      q[1] = plane_data(p, t + 1);
      for (; v + 8 <= f.vectors; v += 8) flat_vectors<8, 2>(p, q, f, fin, v);
      flat_tail<2>(p, q, f, fin, v, f.vectors - v);
      t += 2;
      continue;
    }
    for (; v + 8 <= f.vectors; v += 8) flat_vectors<8, 1>(p, q, f, fin, v);
    flat_tail<1>(p, q, f, fin, v, f.vectors - v);
    ++t;
  }
}

// ---- row walk --------------------------------------------------------------

// The row walk reads a copy of the plane whose rows are padded with zeros:
// row iy of the image at buf + iy * wp, image column ix at pw + ix, zeros
// from 0 to pw and from pw + W to wp, wp covering every column a block of
// 16 outputs reads (so every tap is an unmasked load; a zero read for a
// padded column adds w * 0, as the reference's skipped tap adds nothing,
// but for -0 and non-finite w). Out-of-image rows are skipped.
struct RowGeom {
  int64_t blocks, wp;
};

// The input columns of one tap at padded column c of a padded row; S is
// the stride when 1 or 2, 0 for any other (a gather).
template <int S>
inline __m512 tap_input(const DwConvF32Plane& p, const float* prow, int64_t c) {
  if (S == 1) return _mm512_loadu_ps(prow + c);
  if (S == 2) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(prow + c), even, _mm512_loadu_ps(prow + c + 16));
  }
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(p.sw)));
  return _mm512_i32gather_ps(idx, prow + c, 4);
}

// Output rows oy .. oy + R - 1, U adjacent column blocks from block bl:
// R * U independent FMA chains.
template <int R, int U, int S>
void row_blocks(const DwConvF32Plane& p, const PlaneData& q, const float* buf, int64_t wp, const Finish& fin,
                int64_t oy, int64_t bl) {
  __m512 acc[R][U];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[r][u] = _mm512_set1_ps(q.bias);
  }
  const int64_t step = 16 * (S == 0 ? p.sw : S);
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const float* row[R];
    bool valid[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int64_t iy = (oy + r) * p.sh - p.ph + ky * p.dh;
      valid[r] = iy >= 0 && iy < p.H;
      row[r] = buf + iy * wp + bl * step;
    }
    const float* wk = q.w + ky * p.kw;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const __m512 w = _mm512_set1_ps(wk[kx]);
      const int64_t c = kx * p.dw;
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        if (!valid[r]) continue;
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) acc[r][u] = _mm512_fmadd_ps(w, tap_input<S>(p, row[r], c + u * step), acc[r][u]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const int64_t o = (oy + r) * p.ow;
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const int64_t col = (bl + u) * 16, i = o + col;
      fin.store(acc[r][u], q.r ? q.r + i : nullptr, q.y + i,
                static_cast<__mmask16>(lane_bits(0, std::min<int64_t>(16, p.ow - col))));
    }
  }
}

template <int R, int S>
void row_group(const DwConvF32Plane& p, const PlaneData& q, const float* buf, int64_t wp, const Finish& fin,
               int64_t oy, int64_t bl, int64_t n) {
  switch (n) {
    case 4: row_blocks<R, 4, S>(p, q, buf, wp, fin, oy, bl); return;
    case 3: row_blocks<R, 3, S>(p, q, buf, wp, fin, oy, bl); return;
    case 2: row_blocks<R, 2, S>(p, q, buf, wp, fin, oy, bl); return;
    default: row_blocks<R, 1, S>(p, q, buf, wp, fin, oy, bl); return;
  }
}

// Column blocks in groups of up to 4, output rows in pairs (in fours when a
// row has at most 2 blocks), the rows left over one at a time. Two padded
// copies alternate: plane t + 1 is copied (and plane t + 2 prefetched)
// before plane t is computed from the copy made one step earlier: no tap
// loads a row just stored (a load overlapping a recent narrower store is
// not forwarded), and the next plane's memory traffic overlaps this one's
// FMAs. Measured in MobileNetV2: the 112x112 and 56x56 layers 10-15%
// faster; the 28x28 / 2 and 14x14 / 2 ones unchanged (still 2-3x ORT).
template <int S>
void row_planes(const DwConvF32Plane& p, const RowGeom& g) {
  const Finish fin(p);
  const int64_t plane = p.H * g.wp + 16;
  thread_local std::vector<float> pad;
  pad.resize(static_cast<size_t>(2 * plane));
  float* bufs[2] = {pad.data(), pad.data() + plane};
  const bool four = g.blocks <= 2;
  for (float* buf : bufs) {
    for (int64_t iy = 0; iy < p.H; ++iy) {  // the padding, once per call
      float* d = buf + iy * g.wp;
      std::fill(d, d + p.pw, 0.f);
      std::fill(d + p.pw + p.W, d + g.wp, 0.f);
    }
  }
  const __mmask16 tail = static_cast<__mmask16>(lane_bits(0, p.W % 16));
  const int64_t end = p.first + p.count;
  auto copy = [&](int64_t t, float* buf) {
    const float* x = p.x + t * p.H * p.W;
    const float* next = t + 1 < end ? x + p.H * p.W : nullptr;
    for (int64_t iy = 0; iy < p.H; ++iy) {
      const float* src = x + iy * p.W;
      float* d = buf + iy * g.wp + p.pw;
      int64_t i = 0;
      for (; i + 16 <= p.W; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(src + i));
      if (tail) _mm512_mask_storeu_ps(d + i, tail, _mm512_maskz_loadu_ps(tail, src + i));
    }
    for (int64_t i = 0; next && i < p.H * p.W; i += 16) _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_T0);
  };
  copy(p.first, bufs[0]);
  for (int64_t t = p.first; t < end; ++t) {
    if (t + 1 < end) copy(t + 1, bufs[(t + 1 - p.first) & 1]);
    const float* buf = bufs[(t - p.first) & 1];
    const PlaneData q = plane_data(p, t);
    int64_t oy = 0;
    for (; four && oy + 4 <= p.oh; oy += 4) {
      for (int64_t bl = 0; bl < g.blocks; bl += 4) row_group<4, S>(p, q, buf, g.wp, fin, oy, bl, std::min<int64_t>(4, g.blocks - bl));
    }
    for (; oy + 2 <= p.oh; oy += 2) {
      for (int64_t bl = 0; bl < g.blocks; bl += 4) row_group<2, S>(p, q, buf, g.wp, fin, oy, bl, std::min<int64_t>(4, g.blocks - bl));
    }
    for (; oy < p.oh; ++oy) {
      for (int64_t bl = 0; bl < g.blocks; bl += 4) row_group<1, S>(p, q, buf, g.wp, fin, oy, bl, std::min<int64_t>(4, g.blocks - bl));
    }
  }
}

void rows(const DwConvF32Plane& p) {
  RowGeom g;
  g.blocks = (p.ow + 15) / 16;
  // The last block's last lane reads padded column (blocks * 16 - 1) * sw +
  // (kw - 1) * dw; stride 2 loads 32 columns per block.
  g.wp = std::max<int64_t>(p.pw + p.W, g.blocks * 16 * p.sw + (p.kw - 1) * p.dw + 16);
  if (p.sw == 1) {
    row_planes<1>(p, g);
  } else if (p.sw == 2) {
    row_planes<2>(p, g);
  } else {
    row_planes<0>(p, g);
  }
}

}  // namespace

void dwconv_f32_plane(const DwConvF32Plane& p) {
  // The shift walk (dwconv_f32_shift.cc) reads each plane in place, no copy
  // and no transpose: alone 0.62-0.86x the time of the channel-blocked and
  // flat walks on the 3x3 / 5x5 layers of MobileNetV2 / V3 and
  // EfficientNet-Lite0 with output rows of 16 columns or more (14 at stride
  // 2), the same bits. Narrower rows fill too few of a block's lanes: the
  // 14 x 14 and 7 x 7 stride-1 planes stay on the flat walk (which pairs
  // planes), the 7-column stride-2 outputs on the channel-blocked walk
  // (RESULTS.md section 94).
  if (dwconv_f32_shift_takes(p) && (p.sh == 1 ? p.ow >= 16 : p.ow >= 14)) {
    dwconv_f32_shift(p);
    return;
  }
  if (p.sh == 1 && p.sw == 1 && p.ow == p.W && p.ow < 32) {
    flat_planes(p);
    return;
  }
  // Groups of 16 channels c0 .. c0 + 15 of one image (c0 a multiple of 16)
  // run channel-blocked (dwconv_f32_c16.cc); the other planes, a run's
  // ragged ends and the last C % 16 channels of each image (MobileNetV3's
  // 72, 120, 184 and 200 channels: 64 + 8, 112 + 8, ...), on the row walk
  // (its 72-channel 5x5 / 2 layer at 56 x 56 measured 0.61x the time of
  // all 72 planes on the row walk, the 3x3 one 0.90x: RESULTS.md section 78).
  const int64_t end = p.first + p.count;
  DwConvF32Plane part = p;
  int64_t t = p.first, loose = p.first;  // planes [loose, t) wait for the row walk
  auto flush = [&] {
    if (t == loose) return;
    part.first = loose;
    part.count = t - loose;
    rows(part);
  };
  while (t < end) {
    const int64_t c = t % p.C;
    if (c % 16 == 0 && c + 16 <= p.C && t + 16 <= end) {
      flush();
      dwconv_f32_c16(p, t);
      t += 16;
      loose = t;
    } else {
      ++t;
    }
  }
  flush();
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
