// The direct BF16 convolution (gemm_bf16_direct.h): the image in channel
// pairs, the tap-major weights, and the column tiles that read B in place.
//
// Tasks are column tiles of the phase-width output (q = oy * Wq + ox), or
// groups of weight panels where the columns are few and the weights large.
// A column task of a conv with more than one tap takes its weight panels
// in blocks of at most 256 KB and runs each block column tile by column
// tile (NR columns, B at image + 2 q), each tile over the block's panels,
// so a tile's B (taps x pairs steps a plane apart) is read from L2 once per
// block and then from L1; a 1x1 conv's column task runs each panel over its
// columns (one loop nest: a block of one panel, a chunk of all columns).
// A panel-group task runs each panel over
// all columns (its weights stream from memory: a 7x7 stage's 4.7 MB of 3x3
// weights, read once per call). Where Wq == ow (no dropped columns) the
// tile stores into C; otherwise, without a residual, it stores its columns
// ox < ow compressed (Bf16Tile::col_keep), and with one into a per-thread
// [mr][nr] tile whose columns ox < ow are then copied out (the residual,
// FP32 or a bfloat16 one widened, first gathered into an FP32 tile of the
// same columns). The image
// is built from FP32 planes or from a bfloat16 tensor's (Bf16DirectGeom::x16),
// and C stored as FP32 or, for a bfloat16 output, BF16 (the tile rounds).
// Tiles that store in place ask for the next tile's C and residual lines
// while they compute (prefetch_tile_rows). A bfloat16 tensor's rows are paired
// by the kernel's interleave (Bf16PanelKernel::interleave: VPMOVZXWD, shift,
// OR on AVX512-BF16; 9% of ResNet-50's BF16 time at batch 8 in SSE2 before).
#include "kernels/gemm_bf16_direct.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/thread_pool.h"
#include "kernels/gemm_bf16.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace kernels {
namespace {

constexpr int64_t kWorkSerial = 1 << 18;  // below this many MACs, one thread (as gemm_bf16.cc)
constexpr int64_t kBlockBytes = 256 << 10;  // A panels per block of a column task (a quarter of L2)

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// The tap offsets into a pair's plane (uint16 elements) and that plane's
// length L (every tap's read of round_up(Q, nr) columns fits).
void tap_offsets(const Bf16DirectGeom& g, int nr, std::vector<int64_t>& off, int64_t* L) {
  const int64_t wq = g.wq(), pl = g.hq() * wq;
  off.clear();  // its storage kept: a run asks this per conv
  int64_t top = 0;
  for (int64_t r = 0; r < g.kh; ++r) {
    for (int64_t s = 0; s < g.kw; ++s) {
      const int64_t vy = r * g.dh, vx = s * g.dw;
      const int64_t at = ((vy % g.sh) * g.phase_cols() + vx % g.sw) * pl + (vy / g.sh) * wq + vx / g.sw;
      off.push_back(at * 2);
      top = std::max(top, at);
    }
  }
  *L = std::max(g.phases() * pl, top + round_up(g.oh * wq, nr));
}

// BF16 bits paired (Bf16InterleaveFn): the kernel's, or this loop.
void interleave(const Bf16PanelKernel& k, const uint16_t* even, const uint16_t* odd, int64_t n, uint16_t* dst) {
  if (k.interleave) {
    k.interleave(even, odd, n, dst);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    dst[2 * i] = even[i];
    dst[2 * i + 1] = odd ? odd[i] : uint16_t{0};
  }
}

// Two rows of wq values (even channel, odd channel) as wq pairs: the
// kernel's converter for FP32 rows, the bits interleaved for BF16 rows.
void row_pairs(const Bf16PanelKernel& k, const float* rows, int64_t wq, uint16_t* dst) {
  k.pairs(rows, 2, static_cast<int>(wq), dst);
}
void row_pairs(const Bf16PanelKernel& k, const uint16_t* rows, int64_t wq, uint16_t* dst) {
  interleave(k, rows, rows + wq, wq, dst);
}

// One phase row of a pair straight from a bfloat16 tensor's bits: wq pairs
// (s0[qx * sw], s1[qx * sw]) for the columns [x0, x1), zero elsewhere and
// for the odd channel where s1 is null. One pass: the FP32 path's row copies
// and zero fill before the pairing cost a strided 1x1 conv at batch 8 about
// a quarter of its time (ResNet-50's 256 -> 512 at 28 x 28, RESULTS.md
// section 110). SW: the stride when constant (1, 2), else 0 and sw read.
template <int SW>
void bits_row_pairs(const Bf16PanelKernel& k, const uint16_t* s0, const uint16_t* s1, int64_t sw, int64_t x0,
                    int64_t x1, int64_t wq, uint16_t* dst) {
  const int64_t step = SW ? SW : sw, a = std::min(x0, wq), b = std::max(a, x1);
  std::fill(dst, dst + 2 * a, uint16_t{0});
  if constexpr (SW == 1) {
    interleave(k, s0 + a, s1 ? s1 + a : nullptr, b - a, dst + 2 * a);
  } else if (s1) {
    for (int64_t qx = a; qx < x1; ++qx) {
      dst[2 * qx] = s0[qx * step];
      dst[2 * qx + 1] = s1[qx * step];
    }
  } else {
    for (int64_t qx = a; qx < x1; ++qx) {
      dst[2 * qx] = s0[qx * step];
      dst[2 * qx + 1] = 0;
    }
  }
  std::fill(dst + 2 * b, dst + 2 * wq, uint16_t{0});
}

// image[pair][L][2] of g from its planes x (FP32 or BF16 bits): zero
// padding, zero odd channel, zero tail.
template <typename T>
void build_image(const Bf16PanelKernel& k, const Bf16DirectGeom& g, const T* x, int64_t L,
                 std::vector<uint16_t>& image) {
  const int64_t wq = g.wq(), hq = g.hq(), pairs = (g.C + 1) / 2;
  image.resize(static_cast<size_t>(pairs * L * 2));
  thread_local std::vector<T> rows;
  rows.resize(static_cast<size_t>(2 * wq));
  // One phase, no padding and planes that follow each other (a 1x1 stride-1
  // conv's input read in place): a pair's two planes are two rows as they lie.
  const bool as_is = g.phases() == 1 && g.ph == 0 && g.pw == 0 && wq == g.W && hq == g.H && g.plane == g.H * g.W;
  for (int64_t p = 0; p < pairs; ++p) {
    uint16_t* dst = image.data() + p * L * 2;
    if (as_is && 2 * p + 1 < g.C) {
      row_pairs(k, x + 2 * p * g.plane, g.plane, dst);
      dst += g.plane * 2;
    }
    for (int64_t fy = 0; fy < g.phase_rows() && !(as_is && 2 * p + 1 < g.C); ++fy) {
      for (int64_t fx = 0; fx < g.phase_cols(); ++fx) {
        // phase columns qx whose input column qx * sw + fx - pw is inside the image
        const int64_t x0 = ceil_div(g.pw - fx, g.sw), x1 = std::min(wq, ceil_div(g.W + g.pw - fx, g.sw));
        for (int64_t qy = 0; qy < hq; ++qy, dst += wq * 2) {
          const int64_t iy = qy * g.sh + fy - g.ph;
          if constexpr (std::is_same_v<T, uint16_t>) {
            if (iy < 0 || iy >= g.H) {
              std::fill(dst, dst + wq * 2, uint16_t{0});
              continue;
            }
            const T* s0 = x + 2 * p * g.plane + iy * g.W + fx - g.pw;
            const T* s1 = 2 * p + 1 < g.C ? s0 + g.plane : nullptr;
            if (g.sw == 1) {
              bits_row_pairs<1>(k, s0, s1, 1, x0, x1, wq, dst);
            } else if (g.sw == 2) {
              bits_row_pairs<2>(k, s0, s1, 2, x0, x1, wq, dst);
            } else {
              bits_row_pairs<0>(k, s0, s1, g.sw, x0, x1, wq, dst);
            }
            continue;
          }
          std::fill(rows.begin(), rows.end(), T{0});
          for (int64_t h = 0; h < 2 && iy >= 0 && iy < g.H && 2 * p + h < g.C; ++h) {
            const T* src = x + (2 * p + h) * g.plane + iy * g.W + fx - g.pw;
            T* row = rows.data() + h * wq;
            if (g.sw == 1) {
              if (x1 > x0) std::memcpy(row + x0, src + x0, static_cast<size_t>(x1 - x0) * sizeof(T));
            } else if (g.sw == 2) {  // a constant stride the compiler vectorises (stems, stride-2 3x3 convs)
              for (int64_t qx = x0; qx < x1; ++qx) row[qx] = src[2 * qx];
            } else {
              for (int64_t qx = x0; qx < x1; ++qx) row[qx] = src[qx * g.sw];
            }
          }
          row_pairs(k, rows.data(), wq, dst);
        }
      }
    }
    std::fill(dst, image.data() + (p + 1) * L * 2, 0);
  }
}

// Calls fn(j, at, len) for each run of the tile's columns [q, q + cols)
// that are output pixels (ox < ow): tile column j - q, output index at.
template <typename Fn>
void output_runs(const Bf16DirectGeom& g, int64_t q, int cols, Fn fn) {
  const int64_t wq = g.wq();
  for (int64_t j = q; j < q + cols;) {
    const int64_t oy = j / wq, ox = j % wq, end = std::min(q + cols, oy * wq + g.ow);
    if (ox < g.ow) fn(j - q, oy * g.ow + ox, end - j);
    j = std::max(end, oy * wq + wq);
  }
}

// The tile's columns [q, q + cols) that are output pixels (ox < ow) as
// Bf16Tile::col_keep bits, and the output index of the first (when any).
uint32_t keep_mask(const Bf16DirectGeom& g, int64_t q, int cols, int64_t* first) {
  const int64_t wq = g.wq();
  uint32_t keep = 0;
  for (int j = 0, ox = static_cast<int>(q % wq); j < cols; ++j, ox = ox + 1 == wq ? 0 : ox + 1) {
    if (ox >= g.ow) continue;
    if (!keep) *first = (q + j) / wq * g.ow + ox;
    keep |= 1u << j;
  }
  return keep;
}

// Prefetches `rows` rows of `bytes` bytes, `ld` bytes apart, from `p` (for
// writing when Write). The tile stores 8 rows of 32 columns a step
// apart: short row streams that the hardware prefetchers do not follow,
// so where C and the residual come from memory (ResNet-50 at batch 8: 25 MB
// per tensor) every tile waited on its loads and its stores' line fills;
// asked for one tile ahead, they arrive while the tile computes (RESULTS.md
// section 107: a 64 -> 256 1x1 conv with a residual at batch 8, 6.6 ->
// 3.1 ms).
template <bool Write>
void prefetch_tile_rows(const void* p, int64_t ld, int rows, int64_t bytes) {
  const char* b = static_cast<const char*>(p);
  for (int r = 0; r < rows; ++r, b += ld) {
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(b + o, Write ? 1 : 0);
    __builtin_prefetch(b + bytes - 1, Write ? 1 : 0);  // the last line when the row starts mid-line
  }
}

}  // namespace

void bf16_tile_epilogue(const SgemmEpilogue* ep, int64_t row, int64_t col, Bf16Tile& t, const uint16_t* r16) {
  t.bias = ep && ep->row_bias ? ep->row_bias + row : nullptr;
  t.residual = ep && ep->residual ? ep->residual + row * ep->ldr + col : nullptr;
  t.residual16 = ep && r16 ? r16 + row * ep->ldr + col : nullptr;
  t.ldr = ep ? ep->ldr : 0;
  t.clip = ep && ep->clip;
  t.lo = t.clip ? ep->lo : 0.f;
  t.hi = t.clip ? ep->hi : 0.f;
}

std::optional<Bf16DirectGeom> bf16_direct_geom(const GemmOperand& x, int64_t k_len, int64_t n, bool bf16) {
  Bf16DirectGeom g;
  if (x.im2col) {
    const Im2colView& v = *x.im2col;
    const int64_t taps = v.kh * v.kw;
    if (taps <= 0 || k_len % taps != 0 || v.oh * v.ow != n || v.sh < 1 || v.sw < 1) return std::nullopt;
    g.x = v.x;
    g.C = k_len / taps;
    g.H = v.H;
    g.W = v.W;
    g.plane = v.H * v.W;
    g.ph = v.ph;
    g.pw = v.pw;
    g.kh = v.kh;
    g.kw = v.kw;
    g.sh = v.sh;
    g.sw = v.sw;
    g.dh = v.dh;
    g.dw = v.dw;
    g.oh = v.oh;
    g.ow = v.ow;
    // Columns ox >= ow are computed and dropped: only where they are few.
    if ((g.wq() - g.ow) * 3 > g.wq()) return std::nullopt;
    return g;
  }
  if (x.trans || x.packed || x.packed_b || (!x.data && !bf16)) return std::nullopt;
  g.x = x.data;
  g.C = k_len;
  g.H = g.oh = 1;
  g.W = g.ow = n;
  g.plane = x.ld;
  return g;
}

std::vector<uint16_t> bf16_direct_weights(const uint16_t* panels, int64_t n_panels, int mr, int64_t pairs,
                                          int64_t C, int64_t taps) {
  const int64_t ce = (C + 1) / 2 * 2, direct_pairs = taps * ce / 2;
  std::vector<uint16_t> out(static_cast<size_t>(n_panels * direct_pairs * mr * 2), 0);
  for (int64_t i = 0; i < n_panels; ++i) {
    const uint16_t* src = panels + i * pairs * mr * 2;
    uint16_t* dst = out.data() + i * direct_pairs * mr * 2;
    for (int lane = 0; lane < mr; ++lane) {
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t tap = 0; tap < taps; ++tap) {
          const int64_t k = c * taps + tap, kd = tap * ce + c;
          dst[((kd / 2) * mr + lane) * 2 + kd % 2] = src[((k / 2) * mr + lane) * 2 + k % 2];
        }
      }
    }
  }
  return out;
}

void bf16_direct_run(const Bf16PanelKernel& k, const Bf16DirectGeom& g, const uint16_t* w, int64_t panels,
                     int64_t M, float* c, int64_t ldc, bool parallel, const SgemmEpilogue* ep, uint16_t* c16,
                     const uint16_t* r16) {
  const int mr = k.mr, nr = k.nr;
  int64_t L = 0;
  thread_local std::vector<int64_t> offset_storage;  // this caller's; the tasks read it through `offsets`
  tap_offsets(g, nr, offset_storage, &L);
  const int64_t* offsets = offset_storage.data();
  thread_local std::vector<uint16_t> storage;  // this caller's; the tasks read it through `image`
  if (g.x16) {
    build_image(k, g, g.x16, L, storage);
  } else {
    build_image(k, g, g.x, L, storage);
  }
  const uint16_t* image = storage.data();
  const int64_t wq = g.wq(), Q = g.oh * wq, run = (g.C + 1) / 2;
  const bool in_place = wq == g.ow;  // no dropped columns: q is the output column
  // Few columns (the 14x14 and 7x7 stages) and weights over L2's 1 MiB:
  // tasks are groups of weight panels over all columns, so each panel is
  // read once per call (a 7x7 stage's 4.7 MB of 3x3 weights does not stay
  // in cache between column tiles). Otherwise tasks are column tiles, at
  // least 8 when there are columns enough (ResNet-50's 256 -> 1024 1x1 at
  // 14x14, 0.5 MB of weights: 0.35 ms by panel groups, 0.32 by columns).
  const bool by_panels = Q <= 8 * nr && panels * g.taps() * run * mr * 4 > (int64_t{1} << 20);
  const int64_t nc = by_panels ? Q : std::max<int64_t>(nr, round_up((Q + 7) / 8, nr));
  const int64_t group = by_panels ? (panels + 7) / 8 : panels;
  const int64_t tasks = by_panels ? (panels + group - 1) / group : (Q + nc - 1) / nc;
  // Within a column task, a block of weight panels (at most kBlockBytes of
  // A) runs column tile by column tile, each tile over the block's panels:
  // the tile's B (a pair step's 128 bytes a plane apart, 36 KB at 3x3
  // 64 -> 64) is read from L2 once per block and then from L1, where
  // panel by panel it streamed from L2 once per panel (RESULTS.md section
  // 125). Panel groups (by_panels) keep one panel per block: their weights
  // stream from memory and are read once. So do 1x1 convs (one tap): their
  // tile's B is short, and column tile outer their stores and residual
  // reads jumped over every output row per tile, which cost more than the
  // reuse gained where C is large (MobileNetV2's 1x1 convs at 112 x 112,
  // ResNet-50's at batch 8: 5-40% slower, section 125).
  const int64_t panel_bytes = g.taps() * run * mr * 4;
  const int64_t block = by_panels || g.taps() == 1 ? 1 : std::max<int64_t>(1, kBlockBytes / panel_bytes);
  auto one = [&](int64_t task) {
    thread_local std::vector<float> tile_out, tile_res;
    thread_local std::vector<uint16_t> tile_out16;
    tile_out.resize(static_cast<size_t>(mr * nr));
    tile_out16.resize(static_cast<size_t>(mr * nr));
    tile_res.resize(static_cast<size_t>(mr * nr));
    Bf16Tile t;
    t.pairs = g.taps() * run;
    t.mr = mr;
    t.nr = nr;
    t.b_step = L * 2;
    t.run_pairs = run;
    t.b_offsets = offsets;
    const int64_t q_begin = by_panels ? 0 : task * nc, q_end = by_panels ? Q : std::min(Q, (task + 1) * nc);
    const int64_t i_begin = by_panels ? task * group : 0, i_end = by_panels ? std::min(panels, (task + 1) * group) : panels;
    // Blocks of panels, then chunks of columns, then the block's panels, each over the chunk's column
    // tiles. A multi-tap conv's chunk is one tile (a tile over the block's panels); a 1x1 conv's block is
    // one panel and its chunk all the task's columns: base's panel-outer loop, the panel's set-up once
    // per panel and the tile loop inside (its tiles over 8-16 pairs are a few hundred cycles each: the
    // per-tile step of a single walk cost MobileNetV2's 1x1 convs 8-18%, RESULTS.md section 125).
    const int64_t chunk = block == 1 ? q_end - q_begin : nr;
    for (int64_t ib = i_begin; ib < i_end; ib += block) {
      const int64_t ie = std::min(i_end, ib + block);
      for (int64_t qb = q_begin; qb < q_end; qb += chunk) {
        const int64_t qe = std::min(q_end, qb + chunk);
        for (int64_t i = ib; i < ie; ++i) {
          t.a = w + i * t.pairs * mr * 2;
          t.rows = static_cast<int>(std::min<int64_t>(mr, M - i * mr));
          float* out = c16 ? nullptr : c + i * mr * ldc;
          uint16_t* out16 = c16 ? c16 + i * mr * ldc : nullptr;
          for (int64_t q = qb; q < qe; q += nr) {
            t.cols = static_cast<int>(std::min<int64_t>(nr, q_end - q));
            // The first tile of a panel asks for the weights that follow it (Bf16Tile::prefetch, a line per
            // pair step: the next two 8-row panels): ResNet-50's 7 x 7 stage at batch 1 reads 29 MB of BF16
            // weights from memory per run, which the hardware prefetchers brought in too late (section 107).
            t.prefetch = q == q_begin && i + 1 < i_end ? t.a + t.pairs * mr * 2 : nullptr;
            t.b = image + q * 2;
            bf16_tile_epilogue(ep, i * mr, q, t, r16);
            if (in_place) {
              // the next tile's C and residual rows: this panel's next columns, the block's next panel,
              // the next chunk's first panel, or the next block's first tile
              int64_t ni = i, nq = q + nr;
              if (nq >= qe) {
                ni = i + 1 < ie ? i + 1 : qe < q_end ? ib : ie;
                nq = i + 1 < ie ? qb : qe < q_end ? qe : q_begin;
              }
              if (ni < i_end) {
                const int rows = static_cast<int>(std::min<int64_t>(mr, M - ni * mr));
                if (c16) {
                  prefetch_tile_rows<true>(c16 + ni * mr * ldc + nq, ldc * 2, rows, nr * 2);
                } else {
                  prefetch_tile_rows<true>(c + ni * mr * ldc + nq, ldc * 4, rows, nr * 4);
                }
                if (t.residual) prefetch_tile_rows<false>(ep->residual + ni * mr * ep->ldr + nq, ep->ldr * 4, rows, nr * 4);
                if (t.residual16) prefetch_tile_rows<false>(r16 + ni * mr * ep->ldr + nq, ep->ldr * 2, rows, nr * 2);
              }
              t.c = c16 ? nullptr : out + q;
              t.c16 = c16 ? out16 + q : nullptr;
              t.ldc = ldc;
              k.tile(t);
              continue;
            }
            if (!t.residual && !t.residual16) {
              // Without a residual, the tile stores its columns ox < ow itself (Bf16Tile::col_keep), from
              // the output index of the first: per row, the kept columns of a tile are consecutive outputs.
              int64_t first = -1;
              t.col_keep = keep_mask(g, q, t.cols, &first);
              if (!t.col_keep) continue;
              t.c = c16 ? nullptr : out + first;
              t.c16 = c16 ? out16 + first : nullptr;
              t.ldc = ldc;
              k.tile(t);
              t.col_keep = 0;
              continue;
            }
            t.c = c16 ? nullptr : tile_out.data();
            t.c16 = c16 ? tile_out16.data() : nullptr;
            t.ldc = nr;
            // With a residual: the tile's output columns' residual gathered in tile columns (0 where
            // dropped), then the tile copied out.
            std::fill(tile_res.begin(), tile_res.end(), 0.f);
            for (int r = 0; r < t.rows; ++r) {
              const int64_t row = (i * mr + r) * ep->ldr;
              output_runs(g, q, t.cols, [&](int64_t j, int64_t at, int64_t len) {
                float* dst = tile_res.data() + r * nr + j;
                if (t.residual) {
                  std::memcpy(dst, ep->residual + row + at, static_cast<size_t>(len) * sizeof(float));
                } else {
                  for (int64_t e = 0; e < len; ++e) dst[e] = bf16::to_f32(r16[row + at + e]);  // exact
                }
              });
            }
            t.residual = tile_res.data();
            t.residual16 = nullptr;
            t.ldr = nr;
            k.tile(t);
            for (int r = 0; r < t.rows; ++r) {  // runs of columns ox < ow, one output row each
              output_runs(g, q, t.cols, [&](int64_t j, int64_t at, int64_t len) {
                if (c16) {
                  std::memcpy(out16 + r * ldc + at, tile_out16.data() + r * nr + j, static_cast<size_t>(len) * 2);
                } else {
                  std::memcpy(out + r * ldc + at, tile_out.data() + r * nr + j,
                              static_cast<size_t>(len) * sizeof(float));
                }
              });
            }
          }
        }
      }
    }
  };
  if (!parallel || tasks == 1 || M * Q * g.taps() * g.C < kWorkSerial) {
    for (int64_t task = 0; task < tasks; ++task) one(task);
  } else {
    parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) one(task);
    });
  }
}

}  // namespace kernels
}  // namespace int8rt
