// BF16 channel-blocked 1x1 and dense convs, AMX-BF16 (TDPBF16PS), tile
// 32 pixels x 32 output channels: contract in kernels/abi/nchw16c_bf16.h
// (its AMX order).
//
// Tile registers (the 2 x 2 layout of amx_tile.h, A rows of 64 bytes):
//   tmm0 / tmm1  C: pixel group 0 (up to 16 pixels) x output blocks mb, mb+1
//   tmm2 / tmm3  C: pixel group 1 x the same two blocks          (FP32 16 x 64 B)
//   tmm4 / tmm5  A: the groups' input lines of one input block pair: row r =
//                pixel r's channels of blocks 2j and 2j+1 = 16 BF16 pairs
//                (64 B), from the call's paired copy of its input (Lines)
//   tmm6 / tmm7  B: 16 pair rows x 16 output channels x 2 BF16 (64 B), read in
//                place from the packed weights [MB][taps][QP][16][2] (16
//                consecutive pair rows are one tile); a last step with fewer
//                than 16 pairs from a per-call copy padded with zero pairs.
// So one TDPBF16PS is one tap x two input blocks x 16 pixels x 16 channels:
// the full K of a tile row. The blocked layout keeps a pixel's next 16
// channels a plane away, so each call first copies the input rows and
// columns its taps read into Lines: [block pair][row][column][32 BF16], the
// two blocks' 32-byte lines side by side (zeros past CB, zero lines for
// columns outside the image); a 1x1 (or strided) window keeps only the rows
// and columns it reads, so its taps read consecutive 64-byte rows.
//
// A window whose kernel row fits one step (one input block, kw > 1, dw 1,
// kw * QP <= 16 pairs: the C = 3 stems) takes a kernel row per TDPBF16PS
// instead (tap_rows below: ResNet-50's 7x7 stem 7 steps, was 49 of 2 useful
// pairs), A read from a copy of the call's input rows (or of the float
// image's, converted: ConvBf16x16c::xf), B in place.
//
// Pixel groups: each output row's pixels split evenly into runs of at most
// 16 (56 = 4 x 14, 7 = 1 x 7), taken two at a time (the pair may span two
// rows). A 1x1 conv without padding (any stride, and the pointwise entry)
// is one run of the call's output pixels (3136 = 196 x 16), its Lines one
// row of their input pixels. A batched pointwise call (N > 1) is one row of
// the batch's pixels [p0, p1) (runs may span images): its Lines copied from
// every image once per call, the output lines placed per image (out_at),
// so each block pair's B tiles serve the whole run across images; with one
// input block (read in place) it runs image by image. The tiles are
// configured again only where the pair of group sizes changes.
//
// Per output pixel and channel (the AMX order of the abi header): C starts
// at 0; for taps row-major whose input row is inside the image, for input
// block pairs ascending, one TDPBF16PS step: even and odd partial sums from
// 0 over the pair's 16 channel pairs (a pixel outside the row reads zeros,
// pairs past C are zero pairs), then C = C + (even + odd), DAZ / FTZ / RNE
// throughout (kernels/x86/amx/amx_emulation.h); a tap-row window per kernel
// row instead of per tap. Then bias (one FP32 add),
// the BF16 residual, the clip and VCVTNEPS2BF16 through the AVX512-BF16
// kernels' epilogue (avx512bf16/nchw16c_bf16_epilogue.h: the same bits
// after C).
//
// Compiled twice from this text (kernels/x86/amx/amx_tile.h): natively in
// the library (namespace amx, -mamx-bf16 -mavx512bf16) and against the
// emulation headers in the tests (namespace emulated::amx, baseline flags).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/amx/planes_to_pixels_bf16.h"
#include "kernels/x86/avx512bf16/nchw16c_bf16_epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

namespace ep = avx512bf16;  // the epilogue (finish, lanes_kept)

constexpr int kGroup = 16;          // pixels per C tile (tile rows)
constexpr int kPairs = 16;          // pairs per TDPBF16PS: two input blocks
constexpr int kLine = 16;           // BF16 per pixel line of a block (32 B)
constexpr int kRow = 32;            // BF16 per A row: two blocks' lines (64 B)
constexpr int kPairRow = 32;        // BF16 per pair row of the packed weights (64 B: a B row)
constexpr long kAccRowBytes = 128;  // the accumulator buffer's rows: two blocks x 16 FP32

int64_t block_pairs(int64_t C) { return (C + 2 * kLine - 1) / (2 * kLine); }

struct Group {
  int64_t oy = 0, ox = 0;
  int n = 0;  // pixels; 0: none
};

// One call's geometry: the conv (a 1 x P image of output pixels for the
// pointwise entry and the flat 1x1 case) and the output pixels of each of
// rows [oy0, oy1): [x0, x1) of the row.
// A batched pointwise call (P > 0) is one row of the batch's pixels
// (pixel q of image q / P), its output and residual [N][MB][P][16].
struct Job {
  ConvBf16x16c a;
  int64_t x0 = 0, x1 = 0;
  int64_t P = 0, MB = 0;  // pixels and output blocks per image of a batched call; P = 0: one image
};

// Element offset of output block mb's line of pixel (oy, ox) of the job;
// *left gets how many pixels from there on are consecutive lines (16
// elements apart): the rest of the image of a batched call.
int64_t out_at(const Job& job, int64_t mb, int64_t oy, int64_t ox, int64_t* left) {
  if (job.P == 0) {
    *left = job.a.ow - ox;
    return ((mb * job.a.oh + oy) * job.a.ow + ox) * 16;
  }
  const int64_t n = ox / job.P, p = ox - n * job.P;
  *left = job.P - p;
  return ((n * job.MB + mb) * job.P + p) * 16;
}

// The call's input as A rows: line (j, r, c) at p + ((j * rows + r) * cols
// + c) * 32 holds blocks 2j, 2j + 1 of input pixel (iy0 + r * row_step,
// ix0 + c * col_step) of the job's image (rows outside the image not
// written: their taps are skipped).
struct Lines {
  const uint16_t* p = nullptr;
  int64_t rows = 0, cols = 0, iy0 = 0, ix0 = 0, row_step = 1, col_step = 1;
  int width = kRow;  // BF16 per A row: kLine where the blocked tensor itself is read
};

// The calling thread's scratch, grown once: Lines, the padded B tails.
struct Buffers {
  std::vector<uint16_t> lines, tails;
};

Buffers& buffers() {
  thread_local Buffers b;
  return b;
}

uint16_t* grown(std::vector<uint16_t>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n + 32) v.resize(static_cast<size_t>(n + 32));
  const uintptr_t at = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + (64 - at % 64) % 64 / 2;  // 64-byte aligned
}

// Writes line (j, r, c) from input pixel `at` (a pixel index of plane
// `plane` elements, or -1: outside the image).
void put_line(const uint16_t* x, int64_t CB, int64_t plane, int64_t j, int64_t at, uint16_t* dst) {
  if (at < 0) {
    std::memset(dst, 0, kRow * 2);
    return;
  }
  std::memcpy(dst, x + (2 * j * plane + at) * kLine, kLine * 2);
  if (2 * j + 1 < CB) {
    std::memcpy(dst + kLine, x + ((2 * j + 1) * plane + at) * kLine, kLine * 2);
  } else {
    std::memset(dst + kLine, 0, kLine * 2);
  }
}

// Lines of a window's call: the rows and columns its taps read (every
// `kh == 1 ? sh : 1`-th row, likewise columns).
Lines window_lines(const Job& job, int64_t CB, int64_t CBP) {
  const ConvBf16x16c& a = job.a;
  Lines l;
  l.row_step = a.kh == 1 ? a.sh : 1;
  l.col_step = a.kw == 1 ? a.sw : 1;
  l.iy0 = a.oy0 * a.sh - a.ph;
  l.ix0 = job.x0 * a.sw - a.pw;
  l.rows = ((a.oy1 - 1) * a.sh - a.ph + (a.kh - 1) * a.dh - l.iy0) / l.row_step + 1;
  l.cols = ((job.x1 - 1) * a.sw - a.pw + (a.kw - 1) * a.dw - l.ix0) / l.col_step + 1;
  uint16_t* out = grown(buffers().lines, CBP * l.rows * l.cols * kRow);
  l.p = out;
  for (int64_t j = 0; j < CBP; ++j) {
    for (int64_t r = 0; r < l.rows; ++r) {
      const int64_t iy = l.iy0 + r * l.row_step;
      if (iy < 0 || iy >= a.H) continue;
      uint16_t* dst = out + (j * l.rows + r) * l.cols * kRow;
      for (int64_t c = 0; c < l.cols; ++c) {
        const int64_t ix = l.ix0 + c * l.col_step;
        put_line(a.x, CB, a.H * a.W, j, ix >= 0 && ix < a.W ? iy * a.W + ix : -1, dst + c * kRow);
      }
    }
  }
  return l;
}

// Lines of a flat call (1 x P output pixels [x0, x1)): output pixel p reads
// input pixel (p / ow * sh, p % ow * sw) of the H x W image. One input block
// at stride 1: the tensor itself, 32-byte A rows (8 pairs per step: the
// same sums as 16 pairs whose last 8 are zero, since C never holds -0).
// A batched call (job.P > 0, stride 1) reads pixel q of image q / P.
Lines flat_lines(const Job& job, int64_t CB, int64_t CBP, int64_t H, int64_t W, int64_t ow, int64_t sh, int64_t sw) {
  Lines l;
  l.rows = 1;
  if (job.P > 0) {
    l.ix0 = job.x0;
    l.cols = job.x1 - job.x0;
    uint16_t* out = grown(buffers().lines, CBP * l.cols * kRow);
    l.p = out;
    const int64_t image = CB * job.P * kLine;
    for (int64_t j = 0; j < CBP; ++j) {
      uint16_t* dst = out + j * l.cols * kRow;
      int64_t n = job.x0 / job.P, p = job.x0 - n * job.P;
      for (int64_t c = 0; c < l.cols; ++c, ++p) {
        if (p == job.P) ++n, p = 0;
        put_line(job.a.x + n * image, CB, job.P, j, p, dst + c * kRow);
      }
    }
    return l;
  }
  if (CB == 1 && sh == 1 && sw == 1) {
    l.p = job.a.x;
    l.cols = H * W;
    l.width = kLine;
    return l;
  }
  l.ix0 = job.x0;
  l.cols = job.x1 - job.x0;
  uint16_t* out = grown(buffers().lines, CBP * l.cols * kRow);
  l.p = out;
  const bool same = sh == 1 && sw == 1;  // output pixel p reads input pixel p
  for (int64_t j = 0; j < CBP; ++j) {
    uint16_t* dst = out + j * l.cols * kRow;
    int64_t oy = job.x0 / ow, ox = job.x0 - oy * ow;  // output pixel x0 + c, counted (no division per line)
    for (int64_t c = 0; c < l.cols; ++c) {
      put_line(job.a.x, CB, H * W, j, same ? job.x0 + c : oy * sh * W + ox * sw, dst + c * kRow);
      if (++ox == ow) ox = 0, ++oy;
    }
  }
  return l;
}

// Group g's A rows of tap (ky, kx), block pair j; nullptr when the tap's
// input row is outside the image. `stride` gets the row stride in bytes.
const uint16_t* a_rows(const ConvBf16x16c& a, const Lines& l, const Group& g, int64_t ky, int64_t kx, int64_t j,
                       long& stride) {
  const int64_t iy = g.oy * a.sh - a.ph + ky * a.dh;
  if (g.n == 0 || iy < 0 || iy >= a.H) return nullptr;
  // No division at step 1 (every window of more than one tap per row or column).
  const int64_t dy = iy - l.iy0, dx = g.ox * a.sw - a.pw + kx * a.dw - l.ix0;
  const int64_t r = l.row_step == 1 ? dy : dy / l.row_step, c = l.col_step == 1 ? dx : dx / l.col_step;
  stride = static_cast<long>(l.col_step == 1 ? a.sw : a.sw / l.col_step) * l.width * 2;
  return l.p + ((j * l.rows + r) * l.cols + c) * l.width;
}

// The packed weights as B tiles: block mb's rows of tap t, step j in place,
// or (the last step when QP % 16 != 0) from the call's padded copy.
struct Weights {
  const uint16_t* w = nullptr;
  const uint16_t* tails = nullptr;  // [mb - mb0][taps][16][32]
  int64_t QP = 0, taps = 0, mb0 = 0, full = 0;  // full: steps of 16 pairs

  Weights(const ConvBf16x16c& a) : w(a.w), QP((a.C + 1) / 2), taps(a.kh * a.kw), mb0(a.mb0), full(QP / kPairs) {
    const int64_t kq = QP - full * kPairs;
    if (kq == 0) return;
    uint16_t* t = grown(buffers().tails, (a.mb1 - a.mb0) * taps * kPairs * kPairRow);
    tails = t;
    for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
      for (int64_t tap = 0; tap < taps; ++tap, t += kPairs * kPairRow) {
        std::memcpy(t, w + ((mb * taps + tap) * QP + full * kPairs) * kPairRow, kq * kPairRow * 2);
        std::memset(t + kq * kPairRow, 0, (kPairs - kq) * kPairRow * 2);
      }
    }
  }
  const uint16_t* rows(int64_t mb, int64_t t, int64_t j) const {
    if (j < full) return w + ((mb * taps + t) * QP + j * kPairs) * kPairRow;
    return tails + ((mb - mb0) * taps + t) * kPairs * kPairRow;
  }
};

// Scratch of one call: the C tiles' values.
struct Scratch {
  alignas(64) float acc[2 * kGroup * 32];
};

// The C tiles both dot_* walks accumulate: tile 0 (group 0, block mb), 1
// (group 0, block mb + 1: two), 2 and 3 (group 1: second).
void zero_c_tiles(bool two, bool second) {
  INT8RT_TILE_ZERO(0);
  if (two) INT8RT_TILE_ZERO(1);
  if (second) {
    INT8RT_TILE_ZERO(2);
    if (two) INT8RT_TILE_ZERO(3);
  }
}

// One step of both walks: weight rows w0 (block mb) and w1 (block mb + 1, or
// null) against group 0's rows a0 and group 1's a1 (null: outside the image),
// strides in bytes.
void dot_step(const uint16_t* w0, const uint16_t* w1, const uint16_t* a0, long s0, const uint16_t* a1, long s1) {
  INT8RT_TILE_LOADD(6, w0, kPairRow * 2);
  if (w1) INT8RT_TILE_LOADD(7, w1, kPairRow * 2);
  if (a0) {
    INT8RT_TILE_LOADD(4, a0, s0);
    INT8RT_TILE_DPBF16PS(0, 4, 6);
    if (w1) INT8RT_TILE_DPBF16PS(1, 4, 7);
  }
  if (a1) {
    INT8RT_TILE_LOADD(5, a1, s1);
    INT8RT_TILE_DPBF16PS(2, 5, 6);
    if (w1) INT8RT_TILE_DPBF16PS(3, 5, 7);
  }
}

// The C tiles into s.acc ([group][row][block][16]).
void store_c_tiles(Scratch& s, bool two, bool second) {
  INT8RT_TILE_STORED(0, s.acc, kAccRowBytes);
  if (two) INT8RT_TILE_STORED(1, s.acc + 16, kAccRowBytes);
  if (second) {
    INT8RT_TILE_STORED(2, s.acc + kGroup * 32, kAccRowBytes);
    if (two) INT8RT_TILE_STORED(3, s.acc + kGroup * 32 + 16, kAccRowBytes);
  }
}

// The C tiles of groups g0, g1 x blocks mb, mb + nb - 1 (nb 1 or 2) into
// s.acc ([group][row][block][16]), the tiles configured for their sizes.
void dot_tiles(const ConvBf16x16c& a, const Lines& l, const Weights& w, const Group& g0, const Group& g1, int64_t mb,
               int nb, Scratch& s) {
  const bool two = nb == 2, second = g1.n > 0;
  zero_c_tiles(two, second);
  // Per tap its A rows found once (a_rows' divisions), its block pairs'
  // rows a pair plane apart, the weights' in-place steps 16 pair rows
  // apart; where both groups and blocks are there, steps without tests
  // (the scalar work between the tile instructions was most of a 3x3's time:
  // RESULTS.md section 202).
  const int64_t CBP = block_pairs(a.C), plane = l.rows * l.cols * l.width;
  constexpr int64_t kStep = kPairs * kPairRow;  // BF16 per B tile
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t t = ky * a.kw + kx;
      long s0 = 0, s1 = 0;
      const uint16_t* a0 = a_rows(a, l, g0, ky, kx, 0, s0);
      const uint16_t* a1 = a_rows(a, l, g1, ky, kx, 0, s1);
      if (!a0 && !a1) continue;  // the tap's rows are outside for both groups
      int64_t j = 0;
      if (two && a0 && a1) {
        const uint16_t* w0 = w.rows(mb, t, 0);
        const uint16_t* w1 = w.rows(mb + 1, t, 0);
        for (; j < w.full; ++j, w0 += kStep, w1 += kStep, a0 += plane, a1 += plane) {
          INT8RT_TILE_LOADD(6, w0, kPairRow * 2);
          INT8RT_TILE_LOADD(7, w1, kPairRow * 2);
          INT8RT_TILE_LOADD(4, a0, s0);
          INT8RT_TILE_DPBF16PS(0, 4, 6);
          INT8RT_TILE_DPBF16PS(1, 4, 7);
          INT8RT_TILE_LOADD(5, a1, s1);
          INT8RT_TILE_DPBF16PS(2, 5, 6);
          INT8RT_TILE_DPBF16PS(3, 5, 7);
        }
      }
      for (; j < CBP; ++j) {
        dot_step(w.rows(mb, t, j), two ? w.rows(mb + 1, t, j) : nullptr, a0, s0, a1, s1);
        if (a0) a0 += plane;
        if (a1) a1 += plane;
      }
    }
  }
  store_c_tiles(s, two, second);
}

// n consecutive output lines (16 elements apart) from accumulator rows 32
// FP32 apart: the bias (kBias), then ep::finish (the BF16 residual when
// kRes, the clip when kClip, the padded lanes, VCVTNEPS2BF16), its flags
// compile-time constants so the loop carries no per-line tests and no
// reloads of the call's fields (the epilogue of a 64 -> 256 @56 + residual
// conv at batch 8 ran 7-12% faster, RESULTS.md section 194).
template <bool kBias, bool kRes, bool kClip>
void store_lines(const float* acc, int64_t n, __m512 b, const uint16_t* res, uint16_t* y, __m512 lo, __m512 hi,
                 __mmask16 keep) {
  for (int64_t r = 0; r < n; ++r, acc += 32, y += 16) {
    const __m512 c = _mm512_loadu_ps(acc);
    ep::finish(kBias ? _mm512_add_ps(c, b) : c, kRes ? res + r * 16 : nullptr, kClip, lo, hi, keep, y);
  }
}

using StoreLines = void (*)(const float*, int64_t, __m512, const uint16_t*, uint16_t*, __m512, __m512, __mmask16);

StoreLines store_lines_for(bool bias, bool res, bool clip) {
  static const StoreLines kTable[8] = {
      store_lines<false, false, false>, store_lines<false, false, true>, store_lines<false, true, false>,
      store_lines<false, true, true>,   store_lines<true, false, false>, store_lines<true, false, true>,
      store_lines<true, true, false>,   store_lines<true, true, true>};
  return kTable[(bias ? 4 : 0) + (res ? 2 : 0) + (clip ? 1 : 0)];
}

// n <= kGroup lines as store_lines<kBias, false, false> stores them, with
// the fused float activation (act; given without a residual or a clip) on
// their FP32 values first: one call over the n lines.
void store_act_lines(const Bf16x16cAct& act, bool bias, const float* acc, int64_t n, __m512 b, uint16_t* y,
                     __mmask16 keep) {
  float v[kGroup * 16];
  for (int64_t r = 0; r < n; ++r) {
    const __m512 c = _mm512_loadu_ps(acc + r * 32);
    _mm512_storeu_ps(v + r * 16, bias ? _mm512_add_ps(c, b) : c);
  }
  act.fn(act.ctx, v, n * 16);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r = 0; r < n; ++r) ep::finish(_mm512_loadu_ps(v + r * 16), nullptr, false, zero, zero, keep, y + r * 16);
}

// Bias, residual, clip (or the fused float activation), BF16 store of the
// groups' nb blocks from s.acc, a run of consecutive output lines per
// store_lines call.
void store(const Job& job, const Group (&g)[2], int64_t mb, int nb, const Scratch& s) {
  const ConvBf16x16c& a = job.a;
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  const StoreLines lines = store_lines_for(a.bias != nullptr, a.residual != nullptr, a.clip);
  for (int j = 0; j < nb; ++j) {
    const __mmask16 keep = ep::lanes_kept(a.M - (mb + j) * 16);
    const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
    for (int i = 0; i < 2; ++i) {
      for (int64_t r = 0; r < g[i].n;) {
        int64_t left = 0;
        const int64_t at = out_at(job, mb + j, g[i].oy, g[i].ox + r, &left);
        const int64_t n = std::min<int64_t>(left, g[i].n - r);
        if (a.act.fn) {
          store_act_lines(a.act, a.bias != nullptr, s.acc + (i * kGroup + r) * 32 + j * 16, n, b, a.y + at, keep);
        } else {
          lines(s.acc + (i * kGroup + r) * 32 + j * 16, n, b, a.residual ? a.residual + at : nullptr, a.y + at, lo,
                hi, keep);
        }
        r += n;
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

// Runs dot(g0, g1, mb, nb, s) and the store over the job's blocks and
// pixel group pairs; A rows of `a_colsb` bytes.
template <class Dot>
void run(const Job& job, int a_colsb, Dot&& dot) {
  const ConvBf16x16c& a = job.a;
  Scratch s;
  int n0 = 0, n1 = -1;  // the configured group sizes
  for (int64_t mb = a.mb0; mb < a.mb1; mb += 2) {
    const int nb = a.mb1 - mb >= 2 ? 2 : 1;
    for_group_pairs(job, [&](const Group& g0, const Group& g1) {
      if (g0.n != n0 || g1.n != n1) {
        configure_2x2(g0.n, g1.n, a_colsb);
        n0 = g0.n;
        n1 = g1.n;
      }
      dot(g0, g1, mb, nb, s);
      store(job, {g0, g1}, mb, nb, s);
    });
  }
  INT8RT_TILE_RELEASE();
}

void run(const Job& job, const Lines& l) {
  const Weights w(job.a);
  run(job, l.width * 2, [&](const Group& g0, const Group& g1, int64_t mb, int nb, Scratch& s) {
    dot_tiles(job.a, l, w, g0, g1, mb, nb, s);
  });
}

// A window's row of taps in one TDPBF16PS (one input block, kw taps of QP
// pairs each, kw * QP <= 16: ResNet-50's 7x7 stem of 3 channels, 7 x 2
// pairs, instead of 7 steps of 2 useful pairs out of 16): the call's input
// rows copied as pixels of e = 2 QP BF16 (the block's first e lanes; zeros
// for the columns outside the image), so the kw taps of an output pixel
// are kw * e consecutive BF16 (an A row of 4 kw QP bytes) and the next
// pixel's start sw * e further on; the weights [MB][taps][QP][16][2] hold
// a kernel row's kw * QP pair rows consecutively (one B tile in place).
bool tap_rows_apply(const ConvBf16x16c& a) { return bf16_tap_row_window(a.C, a.kw, a.dw); }

// The first e BF16 of each of n lines (32 bytes apart) to dst, packed:
// fixed-size copies (one call per row, not one per pixel).
template <int E>
void copy_firsts(const uint16_t* src, int64_t n, uint16_t* dst) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * E, src + i * kLine, E * 2);
}

void copy_firsts(const uint16_t* src, int64_t n, int64_t e, uint16_t* dst) {
  switch (e) {
    case 2: return copy_firsts<2>(src, n, dst);
    case 4: return copy_firsts<4>(src, n, dst);
    case 6: return copy_firsts<6>(src, n, dst);
    case 8: return copy_firsts<8>(src, n, dst);
    case 10: return copy_firsts<10>(src, n, dst);
    case 12: return copy_firsts<12>(src, n, dst);
    case 14: return copy_firsts<14>(src, n, dst);
    default: return copy_firsts<16>(src, n, dst);
  }
}

struct TapRows {
  const uint16_t* p = nullptr;
  int64_t e = 0, len = 0, iy0 = 0;  // BF16 per pixel, pixels per row, the first row's input row
};

TapRows tap_rows(const Job& job) {
  const ConvBf16x16c& a = job.a;
  TapRows r;
  r.e = 2 * ((a.C + 1) / 2);
  r.len = (a.ow - 1) * a.sw + a.kw;  // input columns -pw .. (ow - 1) sw - pw + kw - 1
  r.iy0 = std::max<int64_t>(0, a.oy0 * a.sh - a.ph);
  const int64_t iy1 = std::min<int64_t>(a.H, (a.oy1 - 1) * a.sh - a.ph + (a.kh - 1) * a.dh + 1);
  uint16_t* out = grown(buffers().lines, std::max<int64_t>(iy1 - r.iy0, 1) * r.len * r.e);
  r.p = out;
  // Columns [c0, c1) of a row are inside the image (input column c - pw).
  // From the float image (a.xf), its planes converted (planes_to_pixels_bf16.h).
  const int64_t c0 = std::min(r.len, a.pw), c1 = std::max(c0, std::min(r.len, a.pw + a.W));
  const PixelLanes lanes(a.xf ? a.C : 1);  // (one channel's tables where unused)
  for (int64_t iy = r.iy0; iy < iy1; ++iy) {
    uint16_t* dst = out + (iy - r.iy0) * r.len * r.e;
    std::memset(dst, 0, c0 * r.e * 2);
    if (c1 > c0 && a.xf) planes_to_pixels_bf16(lanes, a.xf + iy * a.W + c0 - a.pw, a.H * a.W, c1 - c0, dst + c0 * r.e);
    if (c1 > c0 && !a.xf) copy_firsts(a.x + (iy * a.W + c0 - a.pw) * kLine, c1 - c0, r.e, dst + c0 * r.e);
    std::memset(dst + c1 * r.e, 0, (r.len - c1) * r.e * 2);
  }
  return r;
}

// The C tiles of groups g0, g1 x blocks mb, mb + nb - 1 (dot_tiles' result)
// with one TDPBF16PS per kernel row inside the image.
void dot_tap_rows(const ConvBf16x16c& a, const TapRows& r, const Group& g0, const Group& g1, int64_t mb, int nb,
                  Scratch& s) {
  const bool two = nb == 2, second = g1.n > 0;
  zero_c_tiles(two, second);
  const int64_t taps = a.kh * a.kw, QP = r.e / 2;
  const long stride = static_cast<long>(a.sw * r.e * 2);
  auto rows = [&](const Group& g, int64_t ky) -> const uint16_t* {
    const int64_t iy = g.oy * a.sh - a.ph + ky * a.dh;
    if (g.n == 0 || iy < 0 || iy >= a.H) return nullptr;
    return r.p + ((iy - r.iy0) * r.len + g.ox * a.sw) * r.e;
  };
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const uint16_t* a0 = rows(g0, ky);
    const uint16_t* a1 = rows(g1, ky);
    if (!a0 && !a1) continue;
    const uint16_t* w0 = a.w + (mb * taps + ky * a.kw) * QP * kPairRow;
    dot_step(w0, two ? w0 + taps * QP * kPairRow : nullptr, a0, stride, a1, stride);
  }
  store_c_tiles(s, two, second);
}

void run_tap_rows(const Job& job) {
  const TapRows r = tap_rows(job);
  run(job, static_cast<int>(4 * job.a.kw * (r.e / 2)), [&](const Group& g0, const Group& g1, int64_t mb, int nb,
                                                            Scratch& s) { dot_tap_rows(job.a, r, g0, g1, mb, nb, s); });
}
}  // namespace

void conv_bf16x16c(const ConvBf16x16c& a) {
  if (a.oy1 <= a.oy0 || a.mb1 <= a.mb0 || a.ow <= 0) return;
  const int64_t CB = (a.C + kLine - 1) / kLine, CBP = block_pairs(a.C);
  Job job{a, 0, a.ow};
  if (a.kh == 1 && a.kw == 1 && a.ph == 0 && a.pw == 0) {
    // One row of the call's output pixels (groups cross rows); Lines holds
    // the input pixel each reads, so every tile row is 64 bytes apart.
    job.a.H = 1;
    job.a.W = job.a.ow = a.oh * a.ow;
    job.a.oh = 1;
    job.a.sh = job.a.sw = 1;
    job.a.oy0 = 0;
    job.a.oy1 = 1;
    job.x0 = a.oy0 * a.ow;
    job.x1 = a.oy1 * a.ow;
    run(job, flat_lines(job, CB, CBP, a.H, a.W, a.ow, a.sh, a.sw));
    return;
  }
  if (tap_rows_apply(a)) {
    run_tap_rows(job);
    return;
  }
  run(job, window_lines(job, CB, CBP));
}

// A batched call copies its pixels' lines from every image it spans (one
// GEMM over them: each B tile serves the batch's pixels); where one input
// block is read in place, image by image.
void pointwise_bf16x16c(const PointwiseBf16x16c& p) {
  if (p.p1 <= p.p0 || p.mb1 <= p.mb0) return;
  const int64_t CB = (p.C + kLine - 1) / kLine;
  if (p.N > 1 && CB == 1) return pointwise_bf16x16c_per_image(p, pointwise_bf16x16c);
  Job job;
  if (p.N > 1) {
    job.P = p.P;
    job.MB = (p.M + kLine - 1) / kLine;
  }
  ConvBf16x16c& a = job.a;
  a.x = p.x;
  a.w = p.w;
  a.bias = p.bias;
  a.residual = p.residual;
  a.y = p.y;
  a.C = p.C;
  a.M = p.M;
  a.H = a.oh = 1;
  a.W = a.ow = p.N * p.P;
  a.oy0 = 0;
  a.oy1 = 1;
  a.mb0 = p.mb0;
  a.mb1 = p.mb1;
  a.clip = p.clip;
  a.lo = p.lo;
  a.hi = p.hi;
  a.act = p.act;
  job.x0 = p.p0;
  job.x1 = p.p1;
  run(job, flat_lines(job, CB, block_pairs(p.C), 1, a.W, a.W, 1, 1));
}

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
