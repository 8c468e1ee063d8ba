// Cache-blocked SGEMM driver (sgemm_f32.h); the register tile is the
// microkernel `uk` (abi/sgemm_f32.h).
//
// Loop structure (BLIS): C is cut into MC x NC tiles, one parallel task
// each. A task walks K in KC slices; per slice it packs op(A)[tile rows, kc]
// into MR-row panels (k-major: MR values per k) and op(B)[kc, tile cols] into
// NR-column panels (NR values per k), zero-padding ragged edges, then runs
// the MR x NR register tile over every (A panel, B panel) pair. The B panel
// (the vector operand) stays in L1 while the A block (the broadcast operand,
// a quarter of the bytes per FMA) streams from L2; sizes per microkernel.
// A product of at most kRowOuterMaxK steps runs row tiles outer instead
// (each across all of the task's column panels), so its stores stream
// along C's rows.
// A row-major op(A) is not packed: the microkernel broadcasts it in place
// (SgemmTile::a_rows), as MLAS does; a constant B comes packed once
// (PackedB), its next panel prefetched while the current one runs. A fused
// residual is prefetched one register tile ahead; with A read in place the
// rows of a task are shared out evenly between its register tiles. What
// the caller reads next (SgemmEpilogue::ahead) is fetched a share per
// register tile.
#include "kernels/sgemm_f32.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"
#include "kernels/gemm_panels_f32.h"
#include "kernels/read_ahead.h"
#include "kernels/ref/clip_f32.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace kernels {
namespace panels {

// The transpose_f32 kernel that packs row-major A panels: chosen once per
// ISA cap (max_isa() may change at run time), so a run allocates nothing.
static const TransposeX32Kernel& row_transpose() {
  thread_local int cap = -1;
  thread_local const TransposeX32Kernel* kernel = nullptr;
  const int now = static_cast<int>(max_isa());
  if (kernel == nullptr || now != cap) {
    kernel = &choose<TransposeX32Kernel>();
    cap = now;
  }
  return *kernel;
}

// Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into MR panels.
void pack_a(const GemmOperand& A, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr,
            float* dst) {
  int64_t p = 0;
  const TransposeX32Kernel* transpose = nullptr;  // chosen on the first row-major panel
  if (A.trans && (mr == 6 || mr == 12)) {
    // The AVX2 and AVX-512 tiles' full panels of an A^T (the
    // output-transposed pointwise conv's pixels): row k of A is read once,
    // front to back, and its mr-value runs copied into every panel (one
    // fixed-size copy each), so a cold image streams in row by row rather
    // than as a panel's kc short runs a row apart.
    const int64_t full = mc / mr * mr;
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = A.data + (k0 + k) * A.ld + i0;
      float* d = dst + k * mr;
      if (mr == 6) {
        for (int64_t q = 0; q < full; q += 6, d += kc * 6) std::memcpy(d, s + q, 6 * sizeof(float));
      } else {
        for (int64_t q = 0; q < full; q += 12, d += kc * 12) std::memcpy(d, s + q, 12 * sizeof(float));
      }
    }
    p = full;
    dst += full * kc;
  }
  for (; p < mc; p += mr) {
    const int64_t rows = std::min<int64_t>(mr, mc - p);
    if (A.trans) {
      // op(A)[i][k] = A[k][i]: mr contiguous values per k (a ragged last
      // panel, or a tile height without the walk above).
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * mr;
        const float* s = A.data + (k0 + k) * A.ld + i0 + p;
        for (int64_t r = 0; r < rows; ++r) d[r] = s[r];
        for (int64_t r = rows; r < mr; ++r) d[r] = 0.f;
      }
    } else {
      // op(A) = A row-major: the panel [kc][mr] is the transpose of its
      // rows' [rows][kc] run, moved by the transpose_f32 kernel.
      if (!transpose) transpose = &row_transpose();
      transpose->tile(kc, rows, reinterpret_cast<const uint32_t*>(A.data + (i0 + p) * A.ld + k0), A.ld,
                     reinterpret_cast<uint32_t*>(dst), mr);
      for (int64_t r = rows; r < mr; ++r) {
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = 0.f;
      }
    }
    dst += kc * mr;
  }
}

// Packs rows [k0, k0+kc) x cols [j0, j0+nc) of an im2col view into NR
// panels: per row (c, i, j) the valid columns ox of each output row form one
// run ([lo, hi), as im2col computes it), copied; the rest is 0.
void pack_b_im2col(const Im2colView& v, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) {
  for (int64_t p = 0; p < nc; p += nr, dst += kc * nr) {
    const int64_t n0 = j0 + p, cols = std::min<int64_t>(nr, nc - p);
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t r = k0 + k, c = r / (v.kh * v.kw), i = (r / v.kw) % v.kh, j = r % v.kw;
      const float* plane = v.x + c * v.H * v.W;
      const int64_t off = j * v.dw - v.pw;  // ix = ox * sw + off
      int64_t lo = off >= 0 ? 0 : std::min(v.ow, (-off + v.sw - 1) / v.sw);
      int64_t hi = v.W - off <= 0 ? 0 : std::min(v.ow, (v.W - off + v.sw - 1) / v.sw);
      hi = std::max(hi, lo);
      float* d = dst + k * nr;
      for (int64_t n = n0; n < n0 + cols;) {
        const int64_t oy = n / v.ow, ox0 = n % v.ow, seg = std::min(v.ow - ox0, n0 + cols - n);
        const int64_t iy = oy * v.sh - v.ph + i * v.dh;
        float* out = d + (n - n0);
        if (iy < 0 || iy >= v.H) {
          std::fill(out, out + seg, 0.f);
        } else {
          // zeros left of the image, the run [a, b) inside it, zeros right of it
          const float* src = plane + iy * v.W + off;
          const int64_t a = std::min(std::max(lo, ox0), ox0 + seg), b = std::max(a, std::min(hi, ox0 + seg));
          std::fill(out, out + (a - ox0), 0.f);
          if (v.sw == 1) {
            std::memcpy(out + (a - ox0), src + a, static_cast<size_t>(b - a) * sizeof(float));
          } else {
            for (int64_t ox = a; ox < b; ++ox) out[ox - ox0] = src[ox * v.sw];
          }
          std::fill(out + (b - ox0), out + seg, 0.f);
        }
        n += seg;
      }
      std::fill(d + cols, d + nr, 0.f);
    }
  }
}

// Packs rows [k0, k0+kc) x cols [j0, j0+nc) of op(B) into NR panels;
// with `tail_only` just the last, partial one (the full panels of a
// row-major B are read in place).
void pack_b(const GemmOperand& B, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr,
            bool tail_only, float* dst) {
  for (int64_t p = 0; p < nc; p += nr) {
    const int64_t cols = std::min<int64_t>(nr, nc - p);
    if (tail_only && cols == nr) {
      dst += kc * nr;
      continue;
    }
    if (!B.trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = B.data + (k0 + k) * B.ld + j0 + p;
        float* d = dst + k * nr;
        std::memcpy(d, s, static_cast<size_t>(cols) * sizeof(float));
        for (int64_t c = cols; c < nr; ++c) d[c] = 0.f;
      }
    } else {
      for (int64_t c = 0; c < cols; ++c) {
        const float* s = B.data + (j0 + p + c) * B.ld + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * nr + c] = s[k];
      }
      for (int64_t c = cols; c < nr; ++c) {
        for (int64_t k = 0; k < kc; ++k) dst[k * nr + c] = 0.f;
      }
    }
    dst += kc * nr;
  }
}

}  // namespace panels

// The tile epilogue for microkernels that do not apply it themselves
// (SgemmTile's bias / clip fields, with the same formulas), on the tile
// just stored while it is in L1.
void sgemm_tile_epilogue(const SgemmTile& t) {
  const float lo = t.lo, hi = t.hi;
  for (int r = 0; r < t.rows; ++r) {
    float* c = t.c + r * t.ldc;
    const int cols = t.cols;
    if (t.bias) {
      const float b = t.bias[r];
      for (int j = 0; j < cols; ++j) c[j] = c[j] + b;
    }
    if (t.col_bias) {
      for (int j = 0; j < cols; ++j) c[j] = c[j] + t.col_bias[j];
    }
    if (t.residual) {
      const float* q = t.residual + r * t.ldr;
      for (int j = 0; j < cols; ++j) c[j] = c[j] + q[j];
    }
    if (t.clip) {
      for (int j = 0; j < cols; ++j) {
        c[j] = ref::clip_f32(c[j], lo, hi);
      }
    }
  }
}

namespace {

using panels::pack_a;
using panels::pack_b;
using panels::pack_b_im2col;

// Longest product whose row tiles run outer (gemm_tile): measured on
// MobileNetV2's 24 -> 144 conv at 56 x 56 0.92x the panel-outer time, its
// network 0.95-0.97x at batch 1 and 8; at K = 64 (ResNet-50's 64 -> 256 at
// 56 x 56) 1.06x slower (RESULTS.md section 69).
constexpr int64_t kRowOuterMaxK = 32;

struct Scratch {
  AlignedFloats a, b;  // panels packed per call, 64-byte aligned
};

// Fetches `rows` rows of `cols` floats, `ld` apart from q, into the cache.
// For the residual of the next register tile: the walk goes down a column
// panel, so a tile's residual is `rows` short runs a whole row of the
// output apart (12.5 KB at 56x56), which no hardware prefetcher follows;
// fetched one tile ahead, they arrive while this tile's k loop runs
// instead of stalling its epilogue (RESULTS.md section 52: ResNet-50's
// 56x56 expansions 0.4-1.0 ms faster each, at load 12-19).
void prefetch_rows(const float* q, int64_t ld, int64_t rows, int cols) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; c += 16) __builtin_prefetch(q + r * ld + c);
  }
}

void gemm_tile(const SgemmKernel& uk, int64_t i0, int64_t mc, int64_t j0, int64_t nc, int64_t K,
               const GemmOperand& A, const GemmOperand& B, float* C, int64_t ldc,
               bool accumulate, const SgemmEpilogue* ep, int64_t task, int64_t tasks) {
  thread_local Scratch scratch;
  thread_local std::vector<int64_t> a_rows;  // A in place: the offset of column k of op(A)
  // op(A) read in place (SgemmTile::a_rows) rather than packed: a
  // row-major A always (as MLAS reads it: the tile's rows are lda apart,
  // column k at offset k; packing it was a scalar transpose costing ~20% of
  // a transformer's GEMM), an A^T stored row-major when the caller asks
  // (rows 1 apart, column k at k * ld). The same values into the same FMAs
  // in the same order as from packed panels: the same bits.
  const bool a_in_place = !A.im2col && !A.packed && (A.trans ? A.in_place : !A.pack_rows);
  if (a_in_place) {
    a_rows.resize(static_cast<size_t>(K));
    const int64_t step = A.trans ? A.ld : 1;
    for (int64_t k = 0; k < K; ++k) a_rows[static_cast<size_t>(k)] = k * step;
  }
  const int64_t mc_pad = (mc + uk.mr - 1) / uk.mr * uk.mr;
  const int64_t m_pad = A.packed ? (A.packed->M + uk.mr - 1) / uk.mr * uk.mr : 0;
  const int64_t nc_pad = (nc + uk.nr - 1) / uk.nr * uk.nr;
  if (!A.packed && !a_in_place) scratch.a.resize(static_cast<size_t>(mc_pad * uk.kc));
  scratch.b.resize(static_cast<size_t>(nc_pad * uk.kc));
  SgemmTile t;
  t.ldc = ldc;
  if (ep) {
    t.lo = ep->lo;
    t.hi = ep->hi;
    t.ldr = ep->ldr;
  }
  // The task's mc rows in `tiles` register tiles. With A read in place any
  // row may start a tile, so the rows are shared out evenly (49 rows: 10,
  // 10, 10, 10, 9, not 12, 12, 12, 12, 1, whose one-row tile is bound by
  // its two FMA chains' latency, not by the FMA rate: a third of a full
  // tile's time for a twelfth of its work); packed panels are mr rows each.
  // Which tile computes a row never changes its arithmetic.
  const int64_t tiles = (mc + uk.mr - 1) / uk.mr;
  // Task `task` of `tasks`'s share of ep->ahead, over its register tiles.
  ReadAhead ahead = ReadAhead::share(ep ? ep->ahead : nullptr, ep ? ep->ahead_bytes : 0, task, tasks,
                                     (K + uk.kc - 1) / uk.kc * ((nc + uk.nr - 1) / uk.nr) * tiles);
  auto tile_rows = [&](int64_t ti) -> int64_t {
    if (!a_in_place) return std::min<int64_t>(uk.mr, mc - ti * uk.mr);
    return mc / tiles + (ti < mc % tiles ? 1 : 0);
  };
  for (int64_t k0 = 0; k0 < K; k0 += uk.kc) {
    const int64_t kc = std::min(uk.kc, K - k0);
    // i0 is a multiple of mr (mc is), so the tile's panels are contiguous.
    const float* a_panels = A.packed ? A.packed->data.data() + k0 * m_pad + i0 * kc : scratch.a.data();
    if (a_in_place) {
      t.a_rows = a_rows.data() + k0;
      t.lda = A.trans ? 1 : A.ld;
      t.a_linear = !A.trans;  // a_rows[k] = k: each row's columns contiguous
    } else if (A.im2col) {  // op(A) = im2col^T: its panels are the im2col's column panels, mr wide
      pack_b_im2col(*A.im2col, k0, kc, i0, mc, uk.mr, scratch.a.data());
    } else if (!A.packed) {
      pack_a(A, i0, mc, k0, kc, uk.mr, scratch.a.data());
    }
    // A row-major B's full panels are read in place: each is reused by
    // every A panel from L1 either way, and skipping the copy saves a pass
    // over B (the im2col matrix of a convolution).
    const bool in_place = !B.trans && !B.im2col && !B.packed_b;
    const int64_t n_pad = B.packed_b ? (B.packed_b->N + uk.nr - 1) / uk.nr * uk.nr : 0;
    if (B.packed_b) {
      // panels read from the packed copy below
    } else if (B.im2col) {
      pack_b_im2col(*B.im2col, k0, kc, j0, nc, uk.nr, scratch.b.data());
    } else {
      pack_b(B, k0, kc, j0, nc, uk.nr, in_place, scratch.b.data());
    }
    t.kc = kc;
    t.accumulate = accumulate || k0 > 0;
    // A product of at most kRowOuterMaxK steps (MobileNet's 1x1 convs over
    // 16-32 channels) runs each row tile across all the task's column
    // panels: a tile's 6 x 16 outputs are then as many stores as FMA steps
    // per row, and walking down a column panel put every store on another
    // output row (a page apart at 56 x 56); along the rows they stream. The
    // B block (K x nc, 64 KiB at most) stays in L2. Order only: the same bits.
    if (K <= kRowOuterMaxK && !B.packed_b) {
      for (int64_t ti = 0, ip = 0; ti < tiles; ip += tile_rows(ti), ++ti) {
        t.a = a_in_place ? A.data + (i0 + ip) * (A.trans ? 1 : A.ld) : a_panels + (ip / uk.mr) * kc * uk.mr;
        t.rows = static_cast<int>(tile_rows(ti));
        for (int64_t jp = 0; jp < nc; jp += uk.nr) {
          t.cols = static_cast<int>(std::min<int64_t>(uk.nr, nc - jp));
          if (in_place && t.cols == uk.nr) {
            t.b = B.data + k0 * B.ld + j0 + jp;
            t.ldb = B.ld;
          } else {
            t.b = scratch.b.data() + (jp / uk.nr) * kc * uk.nr;
            t.ldb = uk.nr;
          }
          t.c = C + (i0 + ip) * ldc + j0 + jp;
          if (ep) {
            t.bias = ep->row_bias ? ep->row_bias + i0 + ip : nullptr;
            t.col_bias = ep->col_bias ? ep->col_bias + j0 + jp : nullptr;
            t.residual = ep->residual ? ep->residual + (i0 + ip) * ep->ldr + j0 + jp : nullptr;
            t.clip = ep->clip;
          }
          uk.fn(t);
          if ((t.bias || t.col_bias || t.residual || t.clip) && !uk.epilogue) sgemm_tile_epilogue(t);
        }
      }
      continue;
    }
    for (int64_t jp = 0; jp < nc; jp += uk.nr) {
      t.cols = static_cast<int>(std::min<int64_t>(uk.nr, nc - jp));
      if (B.packed_b) {
        t.b = B.packed_b->data.data() + k0 * n_pad + (j0 + jp) * kc;
        t.ldb = uk.nr;
      } else if (in_place && t.cols == uk.nr) {
        t.b = B.data + k0 * B.ld + j0 + jp;
        t.ldb = B.ld;
      } else {
        t.b = scratch.b.data() + (jp / uk.nr) * kc * uk.nr;
        t.ldb = uk.nr;
      }
      // A packed B's next panel (this slice's next one, else the next
      // slice's first of this column range; contiguous, kc * nr floats) is
      // fetched into the cache a share per row tile while this panel's tiles
      // run, so that only a task's first panel waits on memory: a layer's
      // weights come from L3 or DRAM once per run (RESULTS.md section 45:
      // -12% of BERT's MatMul time in the engine's profile).
      const char* next = nullptr;
      int64_t next_lines = 0;
      if (B.packed_b && jp + uk.nr < nc) {
        next = reinterpret_cast<const char*>(t.b + kc * uk.nr);
        next_lines = kc * uk.nr * static_cast<int64_t>(sizeof(float)) / 64;
      } else if (B.packed_b && k0 + kc < K) {
        const int64_t kc2 = std::min(uk.kc, K - k0 - kc);
        next = reinterpret_cast<const char*>(B.packed_b->data.data() + (k0 + kc) * n_pad + j0 * kc2);
        next_lines = kc2 * uk.nr * static_cast<int64_t>(sizeof(float)) / 64;
      }
      const int64_t per_tile = (next_lines + tiles - 1) / tiles;
      // A cold B read in place: the next full column panel's kc rows, each
      // a page or more apart (no hardware prefetcher follows them), fetched
      // a share per row tile (RESULTS.md section 78: ResNet-50's pointwise
      // convs at batch 8 0.76-0.93x the time; at batch 1, their input in
      // L3, the fetches cost 1-7%, so only where the caller says cold).
      const float* next_rows = B.cold && in_place && jp + 2 * uk.nr <= nc ? B.data + k0 * B.ld + j0 + jp + uk.nr
                                                                          : nullptr;
      const int64_t rows_per_tile = (kc + tiles - 1) / tiles;
      for (int64_t ti = 0, ip = 0; ti < tiles; ip += tile_rows(ti), ++ti) {
        if (next) {
          const int64_t first = ti * per_tile, last = std::min(next_lines, first + per_tile);
          for (int64_t l = first; l < last; ++l) __builtin_prefetch(next + l * 64);
        }
        if (next_rows) {
          const int64_t first = ti * rows_per_tile, last = std::min(kc, first + rows_per_tile);
          if (first < last) prefetch_rows(next_rows + first * B.ld, B.ld, last - first, uk.nr);
        }
        t.a = a_in_place ? A.data + (i0 + ip) * (A.trans ? 1 : A.ld) : a_panels + (ip / uk.mr) * kc * uk.mr;
        t.c = C + (i0 + ip) * ldc + j0 + jp;
        t.rows = static_cast<int>(tile_rows(ti));
        if (ep) {
          const bool last = k0 + kc >= K;
          t.bias = k0 == 0 && ep->row_bias ? ep->row_bias + i0 + ip : nullptr;
          t.col_bias = k0 == 0 && ep->col_bias ? ep->col_bias + j0 + jp : nullptr;
          t.residual = last && ep->residual ? ep->residual + (i0 + ip) * ep->ldr + j0 + jp : nullptr;
          t.clip = ep->clip && last;
        }
        if (t.residual) {  // the next tile's residual, down this panel or atop the next one
          if (ti + 1 < tiles) {
            prefetch_rows(t.residual + t.rows * ep->ldr, ep->ldr, tile_rows(ti + 1), t.cols);
          } else if (jp + uk.nr < nc) {
            prefetch_rows(ep->residual + i0 * ep->ldr + j0 + jp + uk.nr, ep->ldr, tile_rows(0),
                          static_cast<int>(std::min<int64_t>(uk.nr, nc - jp - uk.nr)));
          }
        }
        ahead.step();
        uk.fn(t);
        if ((t.bias || t.col_bias || t.residual || t.clip) && !uk.epilogue) sgemm_tile_epilogue(t);
      }
    }
  }
  if (ep && (ep->unary || ep->post)) {
    for (int64_t r = 0; r < mc; ++r) {
      float* c = C + (i0 + r) * ldc + j0;
      if (ep->unary) ep->unary->apply(ep->unary_op, nc, c, c);
      if (ep->post) ep->post(ep->post_ctx, c, nc);
    }
  }
}

}  // namespace

void pack_a_into(const SgemmKernel& uk, int64_t M, int64_t K, const GemmOperand& A, PackedA* p) {
  p->M = M;
  p->K = K;
  p->uk = &uk;
  const int64_t m_pad = (M + uk.mr - 1) / uk.mr * uk.mr;
  p->data.resize(static_cast<size_t>(m_pad * K));
  for (int64_t k0 = 0; k0 < K; k0 += uk.kc) {
    pack_a(A, 0, M, k0, std::min(uk.kc, K - k0), uk.mr, p->data.data() + k0 * m_pad);
  }
}

PackedA pack_a_once(const SgemmKernel& uk, int64_t M, int64_t K, const GemmOperand& A) {
  PackedA p;
  pack_a_into(uk, M, K, A, &p);
  return p;
}

PackedB pack_b_once(const SgemmKernel& uk, int64_t K, int64_t N, const GemmOperand& B) {
  PackedB p;
  p.K = K;
  p.N = N;
  p.uk = &uk;
  const int64_t n_pad = (N + uk.nr - 1) / uk.nr * uk.nr;
  p.data.resize(static_cast<size_t>(n_pad * K));
  for (int64_t k0 = 0; k0 < K; k0 += uk.kc) {
    pack_b(B, k0, std::min(uk.kc, K - k0), 0, N, uk.nr, /*tail_only=*/false, p.data.data() + k0 * n_pad);
  }
  return p;
}

void sgemm(const SgemmKernel& uk, int64_t M, int64_t N, int64_t K, GemmOperand A, GemmOperand B,
           float* C, int64_t ldc, bool accumulate, bool parallel, const SgemmEpilogue* ep) {
  if (ep && accumulate) throw InvalidArgument("sgemm: an epilogue needs accumulate == false");
  if (A.packed && (A.packed->uk != &uk || A.packed->M != M || A.packed->K != K)) {
    throw InvalidArgument("sgemm: A was packed for another microkernel or shape");
  }
  if (B.packed_b && (B.packed_b->uk != &uk || B.packed_b->K != K || B.packed_b->N != N)) {
    throw InvalidArgument("sgemm: B was packed for another microkernel or shape");
  }
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i) {
      float* c = C + i * ldc;
      if (!accumulate) std::fill(c, c + N, ep && ep->row_bias ? ep->row_bias[i] : 0.f);
      for (int64_t j = 0; ep && ep->col_bias && j < N; ++j) c[j] = c[j] + ep->col_bias[j];
      for (int64_t j = 0; ep && ep->residual && j < N; ++j) c[j] = c[j] + ep->residual[i * ep->ldr + j];
      for (int64_t j = 0; ep && ep->clip && j < N; ++j) {
        c[j] = ref::clip_f32(c[j], ep->lo, ep->hi);
      }
      if (ep && ep->unary) ep->unary->apply(ep->unary_op, N, c, c);
      if (ep && ep->post) ep->post(ep->post_ctx, c, N);
    }
    return;
  }
  // Row tiles of equal height (a multiple of mr, at most uk.mc): M = 196
  // runs as 104 + 92 rather than 192 + 4, whose thin tile reuses each B
  // panel for 4 rows only.
  const int64_t m_tiles = (M + uk.mc - 1) / uk.mc;
  const int64_t mc = ((M + m_tiles - 1) / m_tiles + uk.mr - 1) / uk.mr * uk.mr;
  // Narrow the column tiles when there are few row tiles, so small-M
  // problems (convolutions with few output channels) still split across
  // threads; keep them a multiple of NR and at least 64 wide. The tiling
  // never changes any output's arithmetic (abi/sgemm_f32.h).
  int64_t nc = uk.nc;
  if (parallel && get_num_threads() > 1 && m_tiles < 8) {
    const int64_t want_n_tiles = (8 + m_tiles - 1) / m_tiles;
    nc = std::max<int64_t>(64, ((N + want_n_tiles - 1) / want_n_tiles + uk.nr - 1) / uk.nr * uk.nr);
    nc = std::min(nc, uk.nc);
  }
  const int64_t n_tiles = (N + nc - 1) / nc;
  const int64_t tasks = m_tiles * n_tiles;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t i0 = (t / n_tiles) * mc, j0 = (t % n_tiles) * nc;
      gemm_tile(uk, i0, std::min(mc, M - i0), j0, std::min(nc, N - j0), K, A, B, C, ldc,
                accumulate, ep, t, tasks);
    }
  };
  // A tile below ~1 MFLOP does not pay for waking a second thread.
  if (!parallel || M * N * K < (1 << 18) || get_num_threads() == 1) {
    body(0, tasks);
  } else {
    parallel_for(tasks, 1, body);
  }
}

}  // namespace kernels
}  // namespace int8rt
