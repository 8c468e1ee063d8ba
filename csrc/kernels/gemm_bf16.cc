// The BF16 GEMM driver (gemm_bf16.h): weight packing, activation panels,
// tiling and threading around a Bf16Tile microkernel.
//
// Weights left, pair-panel kernels, no accumulation: the direct path of
// gemm_bf16_direct.h where it takes B (a conv whose dropped columns are
// few, any stride, or a plain B). Other weights left (convolution): tasks
// are column tiles of C; per NR-column panel a task packs the activations over the whole of k (FP32 in chunks of
// kChunk rows, each converted to pairs), then runs every weight panel over
// it. Weights right (Gemm / MatMul): tasks are (row tile, column tile)
// pairs; per MR-row panel of activations the task runs the weight panels of
// its column tile. A plain row-major A (FP32 or BF16) on a pair kernel is
// read by the tiles as rows (Bf16Tile::a_ld): a BF16 A in place, an FP32 A
// converted once per call, 16 values per conversion (RESULTS.md section 244:
// packing and converting it per 8-row panel, a BF16 A widened to FP32 first
// and a BF16 C rounded one value at a time cost BERT-base 14-19%); another A
// (transposed, pre-packed) is packed per panel as FP32, then converted. A
// kernel that takes runs of column
// tiles (col_runs: AMX) instead gets A converted once per call, and tasks of
// (row range, column chunk): the chunk's weight panels (under kChunkBytes)
// stay in L2 while every row panel of the range runs over them, one kernel
// call (one tile configuration) per row panel and chunk. No split of k: each
// output is one microkernel chain (abi/gemm_bf16.h), so the tiling never
// changes a bit. Panels are 64-byte aligned (a tile row across two cache
// lines halved the AMX tile loop's speed, RESULTS.md section 186).
// Both operands activations (run_activations): B is packed as right-hand
// weights on every call, into per-thread storage, then run as above.
#include "kernels/gemm_bf16.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/aligned_buffer.h"
#include "kernels/gemm_bf16_direct.h"
#include "kernels/gemm_panels_f32.h"
#include "kernels/unary_f32.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace kernels {
namespace {

constexpr int64_t kChunk = 128;        // k rows packed as FP32 per step (even)
constexpr int64_t kWorkSerial = 1 << 18;  // below this many MACs, one thread
// A col_runs task's blocks, both kept in L2 (2 MiB here) while it runs: the
// weight panels of a column chunk (at least kMinChunkTiles panels) and the
// converted A rows of a row block (at least one row panel). Measured on the
// AMX Xeon (RESULTS.md section 186): BERT's shapes within 10% of each other
// from 128 KiB to 1 MiB either way; without blocks (all of N per row panel)
// FC1 ran 0.6-0.9x as fast.
constexpr int64_t kChunkBytes = 512 << 10;
constexpr int64_t kMinChunkTiles = 4;
constexpr int64_t kRowBlockBytes = 1 << 20;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

using Panels = AlignedBuffer<uint16_t>;  // 64-byte aligned, zeroed when made

// `buf` with room for n elements (made anew, zeroed, when smaller; kept otherwise).
uint16_t* grown(Panels& buf, int64_t n) {
  if (buf.size() < n) buf = Panels(n);
  return buf.data();
}

struct Scratch {
  std::vector<float> f32;
  Panels pairs;
};

class PanelPacked final : public PackedBf16Gemm {
 public:
  // Constant weights, converted with bf16::from_f32 and owned.
  PanelPacked(const Bf16PanelKernel& k, const Bf16Weights& w) : k_(k), left_(w.left) {
    shape(w.left ? w.rows : w.cols, w.left ? w.cols : w.rows);  // outer: M (left) or N (right)
    owned_ = Panels(panels_ * pairs_ * width_ * 2);
    packed_ = owned_.data();
    // op(W)[r][c], r < rows, c < cols.
    auto at = [&](int64_t r, int64_t c) { return w.trans ? w.data[c * w.ld + r] : w.data[r * w.ld + c]; };
    for (int64_t o = 0; o < outer_; ++o) {
      uint16_t* panel = owned_.data() + (o / width_) * pairs_ * width_ * 2;
      const int64_t lane = o % width_;
      for (int64_t kk = 0; kk < k_len_; ++kk) {
        const float v = w.left ? at(o, kk) : at(kk, o);
        const int64_t at_k = w.left && rows_a_ ? lane * pairs_ * 2 + kk : ((kk / 2) * width_ + lane) * 2 + kk % 2;
        panel[at_k] = bf16::from_f32(v);
      }
    }
    if (w.taps < 1 || (w.taps > 1 && (!w.left || k_len_ % w.taps != 0))) {
      throw InvalidArgument("gemm_bf16: taps " + std::to_string(w.taps) + " do not divide left weights' k " +
                            std::to_string(k_len_));
    }
    taps_ = w.taps;
    if (taps_ > 1 && !rows_a_) direct_ = bf16_direct_weights(packed_, panels_, width_, pairs_, k_len_ / taps_, taps_);
  }

  // An activation op(B)[K][N] as right-hand weights, packed into `storage`
  // (grown, never shrunk) with the kernel's pair converter: the same panels
  // as the constructor above makes of a constant B (the converter is
  // bf16::from_f32), so the same bits.
  PanelPacked(const Bf16PanelKernel& k, int64_t K, int64_t N, const GemmOperand& b, Panels& storage)
      : k_(k), left_(false) {
    shape(N, K);
    const int nr = k.nr;
    const int64_t panel_len = pairs_ * nr * 2;
    packed_ = grown(storage, panels_ * panel_len);
    thread_local std::vector<float> f32;
    f32.resize(static_cast<size_t>(kChunk * nr));
    const int64_t used = (k_len_ + 1) / 2 * nr * 2;  // pairs holding k; the rest is zero padding
    for (int64_t q = 0; q < panels_; ++q) {
      uint16_t* panel = storage.data() + q * panel_len;
      const int64_t j0 = q * nr, cols = std::min<int64_t>(nr, N - j0);
      for (int64_t k0 = 0; k0 < k_len_; k0 += kChunk) {
        const int64_t kc = std::min(kChunk, k_len_ - k0);
        panels::pack_b(b, k0, kc, j0, cols, nr, false, f32.data());
        k_.pairs(f32.data(), kc, nr, panel + (k0 / 2) * nr * 2);
      }
      std::fill(panel + used, panel + panel_len, 0);
    }
  }

  int64_t k() const override { return k_len_; }

  void run_bf16_io(int64_t n, const GemmOperand& x, const uint16_t* x16, float* c, uint16_t* c16, int64_t ldc,
                   bool parallel, const SgemmEpilogue* ep, const uint16_t* r16) const override {
    if (!left_) return run_right_bf16_io(n, x, x16, c, c16, ldc, parallel, ep, r16);
    if (r16 && (!ep || ep->residual)) throw InvalidArgument("gemm_bf16: a bfloat16 residual needs an epilogue without an FP32 one");
    if (n <= 0 || outer_ <= 0) return;
    if (std::optional<Bf16DirectGeom> g = direct_geom(x, n, x16 != nullptr)) {
      g->x16 = x16;
      bf16_direct_run(k_, *g, g->taps() == 1 ? packed_ : direct_.data(), panels_, outer_, c, ldc, parallel, ep, c16,
                      r16);
      return;
    }
    // Another path: X and the residual widened to FP32 (exact), C rounded after the run.
    thread_local std::vector<float> wide, out, res;
    SgemmEpilogue ep32;
    if (r16) {
      ep32 = *ep;
      res.resize(static_cast<size_t>((outer_ - 1) * ep->ldr + n));
      for (size_t i = 0; i < res.size(); ++i) res[i] = bf16::to_f32(r16[i]);
      ep32.residual = res.data();
      ep = &ep32;
    }
    GemmOperand x32 = x;
    Im2colView view;
    if (x16) {
      const int64_t len = x.im2col ? k_len_ / (x.im2col->kh * x.im2col->kw) * x.im2col->H * x.im2col->W
                                   : (x.trans ? (n - 1) * x.ld + k_len_ : (k_len_ - 1) * x.ld + n);
      wide.resize(static_cast<size_t>(len));
      for (int64_t i = 0; i < len; ++i) wide[i] = bf16::to_f32(x16[i]);
      if (x.im2col) {
        view = *x.im2col;
        view.x = wide.data();
        x32.im2col = &view;
      } else {
        x32.data = wide.data();
      }
    }
    if (c16) out.resize(static_cast<size_t>(outer_ * ldc));
    run(n, x32, c16 ? out.data() : c, ldc, false, parallel, ep);
    for (int64_t r = 0; c16 && r < outer_; ++r) {
      for (int64_t j = 0; j < n; ++j) c16[r * ldc + j] = bf16::from_f32(out[r * ldc + j]);
    }
  }

  // run_bf16_io for right weights (a MatMul between bfloat16 tensors): a
  // col_runs kernel reads x16 as its A rows (in place when they are its
  // rows already) and rounds each finished block of C (after ep, unary
  // included) with its own row converter, the one that would convert C as
  // the next layer's A; other kernels widen x16 and round C after the run.
  void run_right_bf16_io(int64_t M, const GemmOperand& x, const uint16_t* x16, float* c, uint16_t* c16,
                         int64_t ldc, bool parallel, const SgemmEpilogue* ep, const uint16_t* r16) const {
    if (r16) throw InvalidArgument("gemm_bf16: a bfloat16 residual needs left weights");
    if (x.im2col || x.packed || (x16 && x.trans)) {
      throw InvalidArgument("gemm_bf16: a bfloat16 A must be a plain row-major matrix");
    }
    if (M <= 0 || outer_ <= 0) return;
    if (k_.col_runs && rows_a_ && !x.trans) return run_right_runs(M, x, c, ldc, false, parallel, ep, x16, c16);
    if (!rows_a_ && !x.trans) return run_right_pairs(M, x, x16, c, c16, ldc, false, parallel, ep);
    thread_local std::vector<float> wide, out;
    GemmOperand x32 = x;
    if (x16) {
      wide.resize(static_cast<size_t>((M - 1) * x.ld + k_len_));
      for (size_t i = 0; i < wide.size(); ++i) wide[i] = bf16::to_f32(x16[i]);
      x32.data = wide.data();
    }
    if (c16) out.resize(static_cast<size_t>((M - 1) * ldc + outer_));
    run(M, x32, c16 ? out.data() : c, ldc, false, parallel, ep);
    for (int64_t r = 0; c16 && r < M; ++r) {
      for (int64_t j = 0; j < outer_; ++j) c16[r * ldc + j] = bf16::from_f32(out[r * ldc + j]);
    }
  }

  void run(int64_t n, const GemmOperand& x, float* c, int64_t ldc, bool accumulate, bool parallel,
           const SgemmEpilogue* ep) const override {
    if (ep && accumulate) throw InvalidArgument("gemm_bf16: a tile epilogue needs no accumulation");
    if (n <= 0 || outer_ <= 0) return;
    if (!accumulate) {
      if (const std::optional<Bf16DirectGeom> g = direct_geom(x, n)) {
        bf16_direct_run(k_, *g, g->taps() == 1 ? packed_ : direct_.data(), panels_, outer_, c, ldc, parallel, ep);
        return;
      }
    }
    if (left_) {
      run_left(n, x, c, ldc, accumulate, parallel, ep);
    } else {
      if (x.im2col) throw InvalidArgument("gemm_bf16: an im2col view is a left-weights (B) operand only");
      run_right(n, x, c, ldc, accumulate, parallel, ep);
    }
  }

 private:
  // The direct path's geometry of B when it takes `x` (left weights, a
  // pair-panel kernel, weights packed for x's window or a plain B), else
  // nullopt; a conv packed for another window is refused.
  std::optional<Bf16DirectGeom> direct_geom(const GemmOperand& x, int64_t n, bool bf16 = false) const {
    if (!left_ || rows_a_) return std::nullopt;
    const std::optional<Bf16DirectGeom> g = bf16_direct_geom(x, k_len_, n, bf16);
    if (g && g->taps() != 1 && taps_ != 1 && g->taps() != taps_) {
      throw InvalidArgument("gemm_bf16: a conv packed for " + std::to_string(taps_) + " taps run with " +
                            std::to_string(g->taps()));
    }
    if (g && (g->taps() == 1 || g->taps() == taps_)) return g;  // weights packed without taps take the panels
    return std::nullopt;
  }

  // outer_ / k_len_ and what follows from them and the kernel.
  void shape(int64_t outer, int64_t k_len) {
    outer_ = outer;
    k_len_ = k_len;
    pairs_ = round_up((k_len_ + 1) / 2, k_.pair_block);
    width_ = left_ ? k_.mr : k_.nr;
    rows_a_ = k_.rows != nullptr;
    panels_ = (outer_ + width_ - 1) / width_;
  }

  const uint16_t* weight_panel(int64_t i) const { return packed_ + i * pairs_ * width_ * 2; }

  // The activation panel of `width` lanes starting at lane `first` (a column
  // of op(X) when left, a row when right) as BF16 pairs [pairs_][width][2],
  // or as rows [count][pairs_ * 2] for an A panel of a rows_a kernel; the
  // padding past k_len_ is zero.
  const uint16_t* pack_x(const GemmOperand& x, int64_t first, int64_t count, int width) const {
    thread_local Scratch s;
    const bool as_rows = !left_ && rows_a_;
    const int64_t ld = pairs_ * 2;
    // Rows: only the `count` rows the tile reads (it is configured for its
    // valid rows), packed and converted as a panel `count` wide: a GEMV
    // converts one row, not the tile's 32 (RESULTS.md section 181).
    if (as_rows) width = static_cast<int>(count);
    s.f32.resize(static_cast<size_t>(kChunk * width));
    uint16_t* const pairs = grown(s.pairs, std::max<int64_t>(pairs_, 1) * width * 2);
    if (as_rows) {
      for (int j = 0; j < width; ++j) std::fill(pairs + j * ld + k_len_, pairs + (j + 1) * ld, 0);
      if (!x.trans && !x.packed) {
        // A row-major A: each row's k is contiguous, converted as a [k_len_][1]
        // panel (dst[k] = from_f32(row[k]), the same values as through
        // pack_a), not packed to FP32 and transposed first.
        for (int j = 0; j < width; ++j) k_.rows(x.data + (first + j) * x.ld, k_len_, 1, pairs + j * ld, 1);
        return pairs;
      }
    } else {
      std::fill(pairs + (k_len_ + 1) / 2 * width * 2, pairs + pairs_ * width * 2, 0);
    }
    for (int64_t k0 = 0; k0 < k_len_; k0 += kChunk) {
      const int64_t kc = std::min(kChunk, k_len_ - k0);
      if (!left_) {
        panels::pack_a(x, first, count, k0, kc, width, s.f32.data());
      } else if (x.im2col) {
        panels::pack_b_im2col(*x.im2col, k0, kc, first, count, width, s.f32.data());
      } else {
        panels::pack_b(x, k0, kc, first, count, width, false, s.f32.data());
      }
      if (as_rows) {
        k_.rows(s.f32.data(), kc, width, pairs + k0, ld);
      } else {
        k_.pairs(s.f32.data(), kc, width, pairs + (k0 / 2) * width * 2);
      }
    }
    return pairs;
  }

  Bf16Tile tile_base(int64_t ldc, bool accumulate) const {
    Bf16Tile t;
    t.pairs = pairs_;
    t.a_ld = rows_a_ ? pairs_ * 2 : 0;
    t.ldc = ldc;
    t.mr = k_.mr;
    t.nr = k_.nr;
    t.accumulate = accumulate;
    return t;
  }

  // `one` is referenced (function_ref.h): a std::function here allocated per layer per run.
  void dispatch(int64_t tasks, int64_t work, bool parallel, FunctionRef<void(int64_t)> one) const {
    if (!parallel || work < kWorkSerial || tasks == 1) {
      for (int64_t t = 0; t < tasks; ++t) one(t);
    } else {
      parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) one(t);
      });
    }
  }

  // C[M][N] = W * X: column tiles of nc columns, at least 8 when parallel;
  // each C tile gets `ep` (or nothing) right after it is stored.
  void run_left(int64_t N, const GemmOperand& x, float* c, int64_t ldc, bool accumulate, bool parallel,
                const SgemmEpilogue* ep) const {
    const int nr = k_.nr;
    const int64_t nc = std::min<int64_t>(round_up(N, nr), std::max<int64_t>(nr, round_up((N + 7) / 8, nr)));
    const int64_t tasks = (N + nc - 1) / nc;
    dispatch(tasks, outer_ * N * k_len_, parallel, [&](int64_t task) {
      Bf16Tile t = tile_base(ldc, accumulate);
      const int64_t j_end = std::min(N, (task + 1) * nc);
      for (int64_t j = task * nc; j < j_end; j += nr) {
        t.cols = static_cast<int>(std::min<int64_t>(nr, j_end - j));
        t.b = pack_x(x, j, t.cols, nr);
        for (int64_t i = 0; i < panels_; ++i) {
          t.a = weight_panel(i);
          t.rows = static_cast<int>(std::min<int64_t>(k_.mr, outer_ - i * k_.mr));
          t.c = c + i * k_.mr * ldc + j;
          bf16_tile_epilogue(ep, i * k_.mr, j, t);
          k_.tile(t);
        }
      }
    });
  }

  // C[M][N] = X * W: tiles of mc rows x nc columns, at least 8 when parallel;
  // each C tile gets `ep` (or nothing) in the microkernel.
  void run_right(int64_t M, const GemmOperand& x, float* c, int64_t ldc, bool accumulate, bool parallel,
                 const SgemmEpilogue* ep) const {
    if (k_.col_runs && rows_a_) return run_right_runs(M, x, c, ldc, accumulate, parallel, ep);
    if (!rows_a_ && !x.trans && !x.packed) return run_right_pairs(M, x, nullptr, c, nullptr, ldc, accumulate, parallel, ep);
    const int mr = k_.mr, nr = k_.nr;
    const int64_t N = outer_;
    int64_t mc, nc, m_tiles, n_tiles;
    right_tasks(M, &mc, &nc, &m_tiles, &n_tiles);
    dispatch(m_tiles * n_tiles, M * N * k_len_, parallel, [&](int64_t task) {
      Bf16Tile t = tile_base(ldc, accumulate);
      const int64_t i0 = (task / n_tiles) * mc, j0 = (task % n_tiles) * nc;
      const int64_t i_end = std::min(M, i0 + mc), j_end = std::min(N, j0 + nc);
      for (int64_t i = i0; i < i_end; i += mr) {
        t.rows = static_cast<int>(std::min<int64_t>(mr, i_end - i));
        t.a = pack_x(x, i, t.rows, mr);
        for (int64_t j = j0; j < j_end; j += nr) {
          t.b = weight_panel(j / nr);
          t.cols = static_cast<int>(std::min<int64_t>(nr, j_end - j));
          t.c = c + i * ldc + j;
          bf16_tile_epilogue(ep, i, j, t);
          k_.tile(t);
          apply_unary(ep, t.c, ldc, t.rows, t.cols);
        }
      }
    });
  }

  // The tasks of a right-weights run over M rows: tiles of mc rows x nc
  // columns, at least 8 when parallel.
  void right_tasks(int64_t M, int64_t* mc, int64_t* nc, int64_t* m_tiles, int64_t* n_tiles) const {
    const int mr = k_.mr, nr = k_.nr;
    const int64_t N = outer_;
    *mc = std::min<int64_t>(round_up(M, mr), 8 * mr);
    *m_tiles = (M + *mc - 1) / *mc;
    const int64_t want_n = std::max<int64_t>(1, (8 + *m_tiles - 1) / *m_tiles);
    *nc = std::min<int64_t>(round_up(N, nr), std::max<int64_t>(4 * nr, round_up((N + want_n - 1) / want_n, nr)));
    *n_tiles = (N + *nc - 1) / *nc;
  }

  // run_right for a pair kernel and a plain row-major A (FP32 at x.data, or
  // BF16 bits at x16 with row stride x.ld): the tiles read A as rows
  // (Bf16Tile::a_ld): x16 in place when k is even (its pairs are the row's
  // values in order), else A's rows made once per call (pair_rows); then
  // run_right's tasks. c16: each row panel's block of C goes through a
  // per-thread FP32 block (the tiles, their epilogue, the unary), then is
  // rounded into c16 (row stride ldc) by the kernel's to_bf16 while in
  // cache. The values of pack_x's panels (x16 holds bf16::from_f32 results,
  // which that conversion returns unchanged) and of C rounded after the
  // run: the same bits.
  void run_right_pairs(int64_t M, const GemmOperand& x, const uint16_t* x16, float* c, uint16_t* c16, int64_t ldc,
                       bool accumulate, bool parallel, const SgemmEpilogue* ep) const {
    const int mr = k_.mr, nr = k_.nr;
    thread_local Panels a_rows;
    const bool in_place = x16 && pairs_ * 2 == k_len_;
    const int64_t a_ld = in_place ? x.ld : pairs_ * 2;
    const uint16_t* const a = in_place ? x16 : pair_rows(M, x, x16, a_rows, parallel);
    int64_t mc, nc, m_tiles, n_tiles;
    right_tasks(M, &mc, &nc, &m_tiles, &n_tiles);
    dispatch(m_tiles * n_tiles, M * outer_ * k_len_, parallel, [&](int64_t task) {
      thread_local AlignedBuffer<float> block;
      if (c16 && block.size() < mr * nc) block = AlignedBuffer<float>(mr * nc);
      const int64_t out_ld = c16 ? nc : ldc;
      Bf16Tile t = tile_base(out_ld, accumulate);
      t.a_ld = a_ld;
      const int64_t i0 = (task / n_tiles) * mc, j0 = (task % n_tiles) * nc;
      const int64_t i_end = std::min(M, i0 + mc), j_end = std::min(outer_, j0 + nc);
      for (int64_t i = i0; i < i_end; i += mr) {
        t.rows = static_cast<int>(std::min<int64_t>(mr, i_end - i));
        t.a = a + i * a_ld;
        float* const out = c16 ? block.data() : c + i * ldc + j0;  // C's columns j0.. of these rows
        for (int64_t j = j0; j < j_end; j += nr) {
          t.b = weight_panel(j / nr);
          t.cols = static_cast<int>(std::min<int64_t>(nr, j_end - j));
          t.c = out + (j - j0);
          bf16_tile_epilogue(ep, i, j, t);
          k_.tile(t);
        }
        apply_unary(ep, out, out_ld, t.rows, j_end - j0);
        for (int r = 0; c16 && r < t.rows; ++r) k_.to_bf16(block.data() + r * nc, j_end - j0, c16 + (i + r) * ldc + j0);
      }
    });
  }

  // A's M rows (a plain row-major FP32 A, or its BF16 bits x16) as rows of
  // pairs_ pairs [M][pairs_ * 2] in `storage`: an FP32 row converted by the
  // kernel's pair converter as one column (its values in order,
  // bf16::from_f32, an odd k's last pair padded with zero: pack_x's
  // values), a BF16 row copied with that zero.
  const uint16_t* pair_rows(int64_t M, const GemmOperand& x, const uint16_t* x16, Panels& storage,
                            bool parallel) const {
    const int64_t ld = pairs_ * 2, blocks = (M + 7) / 8;
    uint16_t* const a = grown(storage, M * ld);
    // Rows with no gap and no padding (x.ld == k == ld): a block's rows are
    // one run of values, converted in one call (one column: the values in
    // order, the same bits as row by row); a call per row of a small k
    // (CaiT's talking-heads mix, k = 4) cost more than its product.
    const bool one_run = !x16 && x.ld == k_len_ && ld == k_len_;
    dispatch(blocks, M * k_len_, parallel, [&](int64_t q) {
      if (one_run) {
        const int64_t i0 = q * 8, rows = std::min<int64_t>(8, M - i0);
        k_.pairs(x.data + i0 * ld, rows * ld, 1, a + i0 * ld);
        return;
      }
      for (int64_t i = q * 8; i < std::min(M, q * 8 + 8); ++i) {
        uint16_t* const row = a + i * ld;
        if (x16) {
          std::copy_n(x16 + i * x.ld, k_len_, row);
          std::fill(row + k_len_, row + ld, 0);
        } else {
          k_.pairs(x.data + i * x.ld, k_len_, 1, row);
          std::fill(row + (k_len_ + 1) / 2 * 2, row + ld, 0);
        }
      }
    });
    return a;
  }

  // SgemmEpilogue::unary on a finished block of C (right weights), each row
  // while it is in cache: the values the whole product then the unary give.
  static void apply_unary(const SgemmEpilogue* ep, float* c, int64_t ldc, int rows, int64_t cols) {
    if (!ep || !ep->unary) return;
    for (int r = 0; r < rows; ++r) ep->unary->apply(ep->unary_op, cols, c + r * ldc, c + r * ldc);
  }

  // run_right for a col_runs kernel (top of the file): A's M rows converted
  // once into `a` ([M][pairs_ * 2], 64-byte aligned rows), then tasks of
  // (row range, column chunk), chunks of nc columns whose weight panels fit
  // kChunkBytes, row blocks whose A fits kRowBlockBytes (smaller when
  // parallel, for 8 tasks); a task runs its row panels over its chunk.
  // x16 (run_bf16_io): A's BF16 bits, read in place when its rows are
  // already `a`'s (k a multiple of 32, no gap, 64-byte aligned), else
  // copied with the zero padding. c16: each row panel's block of C goes
  // through a per-thread FP32 block (the tile, its epilogue, the unary),
  // then k_.rows rounds it into c16 (row stride ldc) while in cache.
  void run_right_runs(int64_t M, const GemmOperand& x, float* c, int64_t ldc, bool accumulate, bool parallel,
                      const SgemmEpilogue* ep, const uint16_t* x16 = nullptr, uint16_t* c16 = nullptr) const {
    const int mr = k_.mr, nr = k_.nr;
    const int64_t N = outer_, ld = pairs_ * 2, ld_bytes = std::max<int64_t>(ld * 2, 1);  // K = 0: no pairs
    thread_local Panels a_rows;
    const uint16_t* a = x16;
    if (x16 && (x.ld != ld || k_len_ != ld || reinterpret_cast<uintptr_t>(x16) % 64 != 0)) {
      uint16_t* const rows = grown(a_rows, M * ld);
      for (int64_t i = 0; i < M; ++i) {
        std::copy_n(x16 + i * x.ld, k_len_, rows + i * ld);
        std::fill(rows + i * ld + k_len_, rows + (i + 1) * ld, 0);
      }
      a = rows;
    } else if (!x16) {
      a = convert_rows(M, x, a_rows);
    }
    const int64_t nc = std::min(round_up(N, nr), std::max<int64_t>(kMinChunkTiles * nr, kChunkBytes / ld_bytes / nr * nr));
    const int64_t chunks = (N + nc - 1) / nc;
    const bool serial = !parallel || M * N * k_len_ < kWorkSerial;
    const int64_t ranges = serial ? 1 : std::max<int64_t>(1, (8 + chunks - 1) / chunks);
    const int64_t mc = std::min(round_up((M + ranges - 1) / ranges, mr), std::max<int64_t>(mr, kRowBlockBytes / ld_bytes / mr * mr));
    const int64_t m_tiles = (M + mc - 1) / mc;
    dispatch(m_tiles * chunks, M * N * k_len_, parallel, [&](int64_t task) {
      thread_local AlignedBuffer<float> block;
      if (c16 && block.size() < mr * nc) block = AlignedBuffer<float>(mr * nc);
      const int64_t out_ld = c16 ? nc : ldc;
      Bf16Tile t = tile_base(out_ld, accumulate);
      t.b_panel = pairs_ * nr * 2;
      const int64_t i0 = (task / chunks) * mc, j0 = (task % chunks) * nc;
      const int64_t i_end = std::min(M, i0 + mc), j_end = std::min(N, j0 + nc);
      t.b = weight_panel(j0 / nr);
      t.col_tiles = static_cast<int>((j_end - j0 + nr - 1) / nr);
      t.cols = static_cast<int>(j_end - j0 - (t.col_tiles - 1) * nr);
      for (int64_t i = i0; i < i_end; i += mr) {
        t.rows = static_cast<int>(std::min<int64_t>(mr, i_end - i));
        t.a = a + i * ld;
        t.c = c16 ? block.data() : c + i * ldc + j0;
        bf16_tile_epilogue(ep, i, j0, t);
        k_.tile(t);
        apply_unary(ep, t.c, out_ld, t.rows, j_end - j0);
        for (int r = 0; c16 && r < t.rows; ++r) k_.rows(t.c + r * out_ld, j_end - j0, 1, c16 + (i + r) * ldc + j0, 1);
      }
    });
  }

  // A's M rows (FP32) converted into `storage` as [M][pairs_ * 2] rows, the
  // padding zero: run_right_runs's A.
  const uint16_t* convert_rows(int64_t M, const GemmOperand& x, Panels& storage) const {
    const int mr = k_.mr;
    const int64_t ld = pairs_ * 2;
    uint16_t* const a = grown(storage, M * ld);
    if (!x.trans && !x.packed) {
      // A row-major A: each row converted in place (pack_x's conversion, not its scratch and a copy).
      for (int64_t i = 0; i < M; ++i) {
        k_.rows(x.data + i * x.ld, k_len_, 1, a + i * ld, 1);
        std::fill(a + i * ld + k_len_, a + (i + 1) * ld, 0);
      }
    } else {
      for (int64_t i = 0; i < M; i += mr) {
        const int64_t count = std::min<int64_t>(mr, M - i);
        std::copy_n(pack_x(x, i, count, mr), count * ld, a + i * ld);
      }
    }
    return a;
  }

  const Bf16PanelKernel& k_;
  bool left_;
  int64_t outer_ = 0, k_len_ = 0, pairs_ = 0, panels_ = 0;
  int width_ = 0;
  bool rows_a_ = false;               // the kernel's A panels are rows (AMX)
  const uint16_t* packed_ = nullptr;  // panels_ x [pairs_][width_][2] (or [width_][pairs_ * 2])
  Panels owned_;                      // packed_'s storage for constant weights
  int64_t taps_ = 1;                  // Bf16Weights::taps
  std::vector<uint16_t> direct_;      // taps_ > 1, pair panels: the direct order (bf16_direct_weights)
};

}  // namespace

void Bf16PanelKernel::run_activations(int64_t M, int64_t N, int64_t K, const GemmOperand& a,
                                      const GemmOperand& b, float* c, int64_t ldc, bool accumulate,
                                      bool parallel) const {
  if (M < 0 || N < 0 || K < 0) {
    throw InvalidArgument("gemm_bf16: bad sizes " + std::to_string(M) + " x " + std::to_string(N) + " x " +
                          std::to_string(K));
  }
  if (a.im2col || a.packed || b.im2col || b.packed_b) {
    throw InvalidArgument("gemm_bf16: run_activations takes plain matrices");
  }
  thread_local Panels storage;
  const PanelPacked packed(*this, K, N, b, storage);
  packed.run(M, a, c, ldc, accumulate, parallel, nullptr);
}

void Bf16PanelKernel::to_bf16(const float* src, int64_t n, uint16_t* dst) const {
  if (n <= 0) return;
  if (rows) return rows(src, n, 1, dst, 1);  // a [n][1] panel: dst[k] = from_f32(src[k])
  // The pair converter on one column: the values in order (the last of an odd n scalar, as it has no pair).
  const int64_t even = n / 2 * 2;
  if (even > 0) pairs(src, even, 1, dst);
  if (even < n) dst[even] = bf16::from_f32(src[even]);
}

std::string Bf16PanelKernel::supports() const {
  const CpuFeatures& f = cpu_features();
  if (needs == Bf16Needs::kAmxBf16 && !f.amx_bf16) return "CPU lacks amx_bf16";
  if (needs != Bf16Needs::kNothing && !f.avx512_bf16) return "CPU lacks avx512_bf16";
  return "";
}

std::unique_ptr<PackedBf16Gemm> Bf16PanelKernel::pack(const Bf16Weights& w) const {
  if (w.rows < 0 || w.cols < 0 || (!w.data && w.rows * w.cols > 0)) {
    throw InvalidArgument("gemm_bf16: bad weight matrix " + std::to_string(w.rows) + " x " + std::to_string(w.cols));
  }
  return std::make_unique<PanelPacked>(*this, w);
}

}  // namespace kernels
}  // namespace int8rt
