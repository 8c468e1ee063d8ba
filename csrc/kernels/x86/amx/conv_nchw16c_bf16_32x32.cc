// BF16 channel-blocked 1x1 and dense convs, AMX-BF16 (TDPBF16PS), tile
// 32 pixels x 32 output channels: contract in kernels/abi/nchw16c_bf16.h
// (its AMX order).
//
// Tile registers (the 2 x 2 layout of amx_tile.h, A rows of 32 bytes):
//   tmm0 / tmm1  C: pixel group 0 (up to 16 pixels) x output blocks mb, mb+1
//   tmm2 / tmm3  C: pixel group 1 x the same two blocks          (FP32 16 x 64 B)
//   tmm4 / tmm5  A: the groups' input lines of one input block: row r = pixel
//                r's 16 channels = 8 BF16 pairs (32 B), read in place from
//                the blocked tensor (rows sw * 32 B apart), or from a copy
//                with zero lines where a pixel of the group is outside the image
//   tmm6 / tmm7  B: 8 pair rows x 16 output channels x 2 BF16 (64 B), read in
//                place from the packed weights [MB][taps][QP][16][2] (rows
//                64 B apart); a last input block with fewer than 8 pairs
//                (C % 16 not 0 or 15) from a copy padded with zero pairs.
// So one TDPBF16PS is one tap x one input block x 16 pixels x 16 channels:
// K = 8 pairs, half the 16 a tile row could hold, because a pixel's 16
// channels are one 32-byte line and the next 16 live a plane away (the
// layout is read in place, never repacked).
//
// Pixel groups: each output row's pixels split evenly into runs of at most
// 16 (56 = 4 x 14, 7 = 1 x 7), taken two at a time (the pair may span two
// rows). A 1x1 conv of stride 1 without padding (and the pointwise entry)
// is one row of all the plane's pixels (3136 = 196 x 16). The tiles are
// configured again only where the pair of group sizes changes.
//
// Per output pixel and channel (the AMX order of the abi header): C starts
// at 0; for taps row-major whose input row is inside the image, for input
// blocks ascending, one TDPBF16PS step: even and odd partial sums from 0
// over the block's 8 pairs (a pixel outside the row reads zeros, pairs past
// C are zero pairs), then C = C + (even + odd), DAZ / FTZ / RNE throughout
// (kernels/x86/amx/amx_emulation.h). Then bias (one FP32 add), the BF16
// residual, the clip and VCVTNEPS2BF16 through the AVX512-BF16 kernels'
// epilogue (avx512bf16/nchw16c_bf16_epilogue.h: the same bits after C).
//
// Compiled twice from this text (kernels/x86/amx/amx_tile.h): natively in
// the library (namespace amx, -mamx-bf16 -mavx512bf16) and against the
// emulation headers in the tests (namespace emulated::amx, baseline flags).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/avx512bf16/nchw16c_bf16_epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

namespace ep = avx512bf16;  // the epilogue (finish, lanes_kept)

constexpr int kGroup = 16;          // pixels per C tile (tile rows)
constexpr int kPairs = 8;           // pairs per TDPBF16PS: one input block
constexpr int kLine = 16;           // BF16 per pixel line of a block (32 B: an A row)
constexpr int kPairRow = 32;        // BF16 per pair row of the packed weights (64 B: a B row)
constexpr long kAccRowBytes = 128;  // the accumulator buffer's rows: two blocks x 16 FP32

struct Group {
  int64_t oy = 0, ox = 0;
  int n = 0;  // pixels; 0: none
};

// One call's geometry: the conv (a 1 x P image for the pointwise entry and
// the flat 1x1 case) and the output pixels of each of rows [oy0, oy1):
// [x0, x1) of the row.
struct Job {
  ConvBf16x16c a;
  int64_t x0 = 0, x1 = 0;
};

// Scratch of one call: gathered A lines, padded B rows, the C tiles' values.
struct Scratch {
  alignas(64) uint16_t a[2][kGroup * kLine];
  alignas(64) uint16_t b[2][kPairs * kPairRow];
  alignas(64) float acc[2 * kGroup * 32];
};

// Group g's input lines of tap (ky, kx) in input block cb: in place, or
// gathered into `buf` (zero lines outside the row); nullptr when the tap's
// input row is outside the image. `stride` gets the row stride in bytes.
const uint16_t* a_rows(const ConvBf16x16c& a, const Group& g, int64_t ky, int64_t kx, int64_t cb, uint16_t* buf,
                       long& stride) {
  const int64_t iy = g.oy * a.sh - a.ph + ky * a.dh;
  if (g.n == 0 || iy < 0 || iy >= a.H) return nullptr;
  const int64_t first = g.ox * a.sw - a.pw + kx * a.dw, last = first + (g.n - 1) * a.sw;
  const uint16_t* row = a.x + (cb * a.H + iy) * a.W * kLine;
  if (first >= 0 && last < a.W) {
    stride = static_cast<long>(a.sw) * kLine * 2;
    return row + first * kLine;
  }
  for (int r = 0; r < g.n; ++r) {
    const int64_t ix = first + r * a.sw;
    if (ix >= 0 && ix < a.W) {
      std::memcpy(buf + r * kLine, row + ix * kLine, kLine * 2);
    } else {
      std::memset(buf + r * kLine, 0, kLine * 2);
    }
  }
  INT8RT_AMX_BARRIER();
  stride = kLine * 2;
  return buf;
}

// Block mb's packed weights of tap t and input block cb: in place, or its
// kq < 8 pairs copied into `buf` with zero pairs after them.
const uint16_t* b_rows(const ConvBf16x16c& a, int64_t mb, int64_t t, int64_t cb, uint16_t* buf) {
  const int64_t QP = (a.C + 1) / 2, q0 = cb * kPairs, kq = std::min<int64_t>(kPairs, QP - q0);
  const uint16_t* w = a.w + ((mb * a.kh * a.kw + t) * QP + q0) * kPairRow;
  if (kq == kPairs) return w;
  std::memcpy(buf, w, kq * kPairRow * 2);
  std::memset(buf + kq * kPairRow, 0, (kPairs - kq) * kPairRow * 2);
  INT8RT_AMX_BARRIER();
  return buf;
}

// The C tiles of groups g0, g1 x blocks mb, mb + nb - 1 (nb 1 or 2) into
// s.acc ([group][row][block][16]), the tiles configured for their sizes.
void dot_tiles(const ConvBf16x16c& a, const Group& g0, const Group& g1, int64_t mb, int nb, Scratch& s) {
  const bool two = nb == 2, second = g1.n > 0;
  INT8RT_TILE_ZERO(0);
  if (two) INT8RT_TILE_ZERO(1);
  if (second) {
    INT8RT_TILE_ZERO(2);
    if (two) INT8RT_TILE_ZERO(3);
  }
  const int64_t CB = (a.C + kLine - 1) / kLine;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t t = ky * a.kw + kx;
      for (int64_t cb = 0; cb < CB; ++cb) {
        long s0 = 0, s1 = 0;
        const uint16_t* a0 = a_rows(a, g0, ky, kx, cb, s.a[0], s0);
        const uint16_t* a1 = a_rows(a, g1, ky, kx, cb, s.a[1], s1);
        if (!a0 && !a1) break;  // the tap's rows are outside for both groups
        INT8RT_TILE_LOADD(6, b_rows(a, mb, t, cb, s.b[0]), kPairRow * 2);
        if (two) INT8RT_TILE_LOADD(7, b_rows(a, mb + 1, t, cb, s.b[1]), kPairRow * 2);
        if (a0) {
          INT8RT_TILE_LOADD(4, a0, s0);
          INT8RT_TILE_DPBF16PS(0, 4, 6);
          if (two) INT8RT_TILE_DPBF16PS(1, 4, 7);
        }
        if (a1) {
          INT8RT_TILE_LOADD(5, a1, s1);
          INT8RT_TILE_DPBF16PS(2, 5, 6);
          if (two) INT8RT_TILE_DPBF16PS(3, 5, 7);
        }
      }
    }
  }
  INT8RT_TILE_STORED(0, s.acc, kAccRowBytes);
  if (two) INT8RT_TILE_STORED(1, s.acc + 16, kAccRowBytes);
  if (second) {
    INT8RT_TILE_STORED(2, s.acc + kGroup * 32, kAccRowBytes);
    if (two) INT8RT_TILE_STORED(3, s.acc + kGroup * 32 + 16, kAccRowBytes);
  }
}

// Bias, residual, clip, BF16 store of the groups' nb blocks from s.acc.
void store(const ConvBf16x16c& a, const Group (&g)[2], int64_t mb, int nb, const Scratch& s) {
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  for (int j = 0; j < nb; ++j) {
    const __mmask16 keep = ep::lanes_kept(a.M - (mb + j) * 16);
    const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
    for (int i = 0; i < 2; ++i) {
      for (int r = 0; r < g[i].n; ++r) {
        const __m512 c = _mm512_loadu_ps(s.acc + (i * kGroup + r) * 32 + j * 16);
        const int64_t at = (((mb + j) * a.oh + g[i].oy) * a.ow + g[i].ox + r) * 16;
        ep::finish(a.bias ? _mm512_add_ps(c, b) : c, a.residual ? a.residual + at : nullptr, a.clip, lo, hi, keep,
                   a.y + at);
      }
    }
  }
}

// Calls f(g0, g1) for the job's pixel groups two at a time (g1.n == 0 for
// an odd last one), rows in order.
template <class F>
void for_group_pairs(const Job& job, F&& f) {
  const int64_t len = job.x1 - job.x0;
  if (len <= 0) return;
  const int64_t tiles = (len + kGroup - 1) / kGroup, n = (len + tiles - 1) / tiles;
  Group pending;
  for (int64_t oy = job.a.oy0; oy < job.a.oy1; ++oy) {
    for (int64_t ox = job.x0; ox < job.x1; ox += n) {
      const Group g{oy, ox, static_cast<int>(std::min(n, job.x1 - ox))};
      if (pending.n == 0) {
        pending = g;
      } else {
        f(pending, g);
        pending = Group{};
      }
    }
  }
  if (pending.n) f(pending, Group{});
}

void run(const Job& job) {
  const ConvBf16x16c& a = job.a;
  Scratch s;
  int n0 = 0, n1 = -1;  // the configured group sizes
  for (int64_t mb = a.mb0; mb < a.mb1; mb += 2) {
    const int nb = a.mb1 - mb >= 2 ? 2 : 1;
    for_group_pairs(job, [&](const Group& g0, const Group& g1) {
      if (g0.n != n0 || g1.n != n1) {
        configure_2x2(g0.n, g1.n, kLine * 2);
        n0 = g0.n;
        n1 = g1.n;
      }
      dot_tiles(a, g0, g1, mb, nb, s);
      store(a, {g0, g1}, mb, nb, s);
    });
  }
  INT8RT_TILE_RELEASE();
}

}  // namespace

void conv_bf16x16c(const ConvBf16x16c& a) {
  Job job{a, 0, a.ow};
  if (a.kh == 1 && a.kw == 1 && a.sh == 1 && a.sw == 1 && a.ph == 0 && a.pw == 0) {
    // One row of the plane's pixels (oh == H, ow == W): groups cross rows.
    job.a.W = a.H * a.W;
    job.a.H = 1;
    job.a.ow = a.oh * a.ow;
    job.a.oh = 1;
    job.a.oy0 = 0;
    job.a.oy1 = 1;
    job.x0 = a.oy0 * a.ow;
    job.x1 = a.oy1 * a.ow;
  }
  run(job);
}

void pointwise_bf16x16c(const PointwiseBf16x16c& p) {
  Job job;
  ConvBf16x16c& a = job.a;
  a.x = p.x;
  a.w = p.w;
  a.bias = p.bias;
  a.residual = p.residual;
  a.y = p.y;
  a.C = p.C;
  a.M = p.M;
  a.H = a.oh = 1;
  a.W = a.ow = p.P;
  a.oy0 = 0;
  a.oy1 = 1;
  a.mb0 = p.mb0;
  a.mb1 = p.mb1;
  a.clip = p.clip;
  a.lo = p.lo;
  a.hi = p.hi;
  job.x0 = p.p0;
  job.x1 = p.p1;
  run(job);
}

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
