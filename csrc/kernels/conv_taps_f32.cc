// The tap conv (conv_taps_f32.h): phase-split padded copy of the image,
// per-tap GEMMs on the SGEMM microkernel with B read in place, then the
// valid columns of the Wq-wide output grid copied out.
//
// Blocking follows the SGEMM driver (sgemm_f32.cc): C is cut into mc x nc
// tiles, one parallel task each; a task walks the slices (tap, channel
// chunk), and per slice runs the register tile over every (A panel,
// B panel) pair, the B panel (kc rows `plane` floats apart, 32 columns)
// staying in L1 while the A panels stream from L2.
#include "kernels/conv_taps_f32.h"

#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void add_clip(const float* v, const float* r, const SgemmEpilogue& ep, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float x = v[i] + r[i];
    if (ep.clip) x = ref::clip_f32(x, ep.lo, ep.hi);
    dst[i] = x;
  }
}

struct TapConv::Grid {
  TapConvShape s;
  bool expand;    // kx-expanded planes (few channels): one row group per kernel row
  int64_t ncol;   // column variants stored per row phase: sw phases, or kw shifts when expand
  int64_t Hq, Wq, plane, N, slack;
  Grid(const TapConvShape& shape, bool expand_kx, int nr) : s(shape), expand(expand_kx) {
    ncol = expand ? s.kw : s.sw;
    Hq = ceil_div((s.oh - 1) * s.sh + (s.kh - 1) * s.dh + 1, s.sh);
    Wq = expand ? s.ow : ceil_div((s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1, s.sw);
    // Planes (the B rows, `plane` floats apart) padded so that the stride is
    // not a multiple of 128 bytes: a 16 x 16 plane (ResNet's 14x14 stage)
    // would put the 192 rows of a B panel into 8 of L1's 64 sets and
    // evict the panel between the A panels that reuse it.
    plane = Hq * Wq;
    if (plane % 32 == 0) plane += 16;
    N = (s.oh - 1) * Wq + s.ow;
    // A full last B panel reads up to nr columns past N, and a junk column
    // up to one row past its plane: zeros there.
    slack = Wq + 2 * nr;
  }
  // Column r of stored variant b reads input column r * sw + shift(b) - pw.
  int64_t shift(int64_t b) const { return expand ? b * s.dw : b; }
  // Where row group g starts in the buffer (its rows `plane` apart): tap g's
  // phase block and shift, or, when expand, kernel row g's block of kx-shifted planes.
  int64_t group_offset(int64_t g) const {
    if (expand) return ((g * s.dh) % s.sh) * s.kw * s.C * plane + (g * s.dh / s.sh) * Wq;
    const int64_t i = g / s.kw, j = g % s.kw;
    const int64_t a = (i * s.dh) % s.sh, b = (j * s.dw) % s.sw;
    return (a * s.sw + b) * s.C * plane + (i * s.dh / s.sh) * Wq + j * s.dw / s.sw;
  }
};

namespace {
// Few channels: rows (kx, c) of one kernel row form one group (kx-expanded
// planes), when that gives slices of at least 16 rows (a 7x7 RGB stem: 21;
// a 3x3 one, 9, stays on the im2col path, measured no faster here).
bool expands(const TapConvShape& s) { return s.G == 1 && s.C < 16 && s.kw * s.C >= 16; }
}  // namespace

std::string tap_conv_declines(const TapConvShape& s) {
  if (s.kh * s.kw == 1) return "1x1 kernel (B is the image itself or its strided im2col)";
  if (s.G < 1 || s.C % s.G != 0 || s.M % s.G != 0) return "channels do not split into groups";
  if (s.G > 1 && s.C / s.G < 16) return "grouped, under 16 channels per group (tap slices too short)";
  if (s.C < 16 && s.kw * s.C < 16) return "under 16 rows per kernel row (kw * C) even kx-expanded";
  if (s.oh < 1 || s.ow < 1) return "empty output";
  if (expands(s)) return "";
  const int64_t wp = (s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  const int64_t wq = ceil_div(wp, s.sw);
  if (2 * s.ow < wq) return "over half the output grid's columns would be dropped";
  return "";
}

int64_t tap_conv_columns(const TapConvShape& s) {  // Grid's N
  const int64_t wq = expands(s) ? s.ow : ceil_div((s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1, s.sw);
  return (s.oh - 1) * wq + s.ow;
}

TapConv::TapConv(const SgemmKernel& uk, const TapConvShape& s, const float* w) : uk_(&uk), w_(s) {
  if (s.G < 1 || s.C % s.G != 0 || s.M % s.G != 0 || s.kh < 1 || s.kw < 1) {
    throw InvalidArgument("tap conv: channels do not split into groups");
  }
  Cg_ = s.C / s.G;
  Mg_ = s.M / s.G;
  expand_ = expands(s);
  // The rows of all row groups (taps, or kernel rows when expanded) in
  // order, cut into slices of equal size, at most kc: a slice may span
  // several taps (a 3x3 conv over 64 channels: 3 slices of 192 rows, not 9
  // of 64), so C is stored and re-read fewer times per output.
  groups_ = expand_ ? s.kh : s.kh * s.kw;
  rows_ = expand_ ? s.kw * Cg_ : Cg_;
  const int64_t total = groups_ * rows_;
  const int64_t chunks = ceil_div(total, uk.kc), kcs = ceil_div(total, chunks);
  const int64_t m_pad = ceil_div(Mg_, uk.mr) * uk.mr;
  int64_t off = 0;
  for (int64_t f0 = 0; f0 < total; f0 += kcs) {
    const int64_t kc = std::min(kcs, total - f0);
    slices_.push_back({f0, kc, off});
    off += kc * m_pad;
  }
  a_group_ = off;
  a_.assign(static_cast<size_t>(a_group_ * s.G), 0.f);
  for (int64_t grp = 0; grp < s.G; ++grp) {
    for (const Slice& sl : slices_) {
      float* dst = a_.data() + grp * a_group_ + sl.a_off;
      for (int64_t m = 0; m < Mg_; ++m) {
        float* panel = dst + (m / uk.mr) * sl.kc * uk.mr + m % uk.mr;
        for (int64_t k = 0; k < sl.kc; ++k) {
          // Row j of group t: (ky, kx, c) = (t / kw, t % kw, j), or (t, j / Cg, j % Cg) expanded.
          const int64_t tap = (sl.first + k) / rows_, j = (sl.first + k) % rows_;
          const int64_t ky = expand_ ? tap : tap / s.kw, kx = expand_ ? j / Cg_ : tap % s.kw;
          const int64_t c = expand_ ? j % Cg_ : j;
          panel[k * uk.mr] = w[(((grp * Mg_ + m) * Cg_ + c) * s.kh + ky) * s.kw + kx];
        }
      }
    }
  }
}

void TapConv::fill_planes(const Grid& g, const float* x, float* buf) const {
  const TapConvShape& s = g.s;
  const int64_t wq = g.Wq, hq = g.Hq, plane = g.plane;
  for (int64_t a = 0; a < s.sh; ++a) {
    for (int64_t v = 0; v < g.ncol; ++v) {
      // Columns r with 0 <= r*sw + b - pw < W form [lo, hi).
      const int64_t b = g.shift(v);
      const int64_t lo = std::min(wq, std::max<int64_t>(0, ceil_div(s.pw - b, s.sw)));
      const int64_t hi = std::max(lo, std::min(wq, ceil_div(s.W + s.pw - b, s.sw)));
      for (int64_t c = 0; c < s.C; ++c) {
        float* dst = buf + ((a * g.ncol + v) * s.C + c) * plane;
        const float* src = x + c * s.H * s.W;
        for (int64_t q = 0; q < hq; ++q, dst += wq) {
          const int64_t iy = q * s.sh + a - s.ph;
          if (iy < 0 || iy >= s.H || lo == hi) {
            std::fill(dst, dst + wq, 0.f);
            continue;
          }
          const float* row = src + iy * s.W + b - s.pw;  // column r at row[r * sw]
          std::fill(dst, dst + lo, 0.f);
          if (s.sw == 1) {
            std::memcpy(dst + lo, row + lo, static_cast<size_t>(hi - lo) * sizeof(float));
          } else {
            for (int64_t r = lo; r < hi; ++r) dst[r] = row[r * s.sw];
          }
          std::fill(dst + hi, dst + wq, 0.f);
        }
        std::fill(dst, dst + (plane - hq * wq), 0.f);  // the stride padding
      }
    }
  }
  std::fill(buf + s.sh * g.ncol * s.C * plane, buf + s.sh * g.ncol * s.C * plane + g.slack, 0.f);
}

void TapConv::group_gemm(const Grid& g, int64_t grp, const float* buf, const int64_t* row_offsets, float* cbuf,
                         int64_t i0, int64_t mc, int64_t j0, int64_t nc, const SgemmEpilogue& ep) const {
  const SgemmKernel& uk = *uk_;
  const float* a_grp = a_.data() + grp * a_group_;
  const float* b_grp = buf + grp * Cg_ * g.plane;
  SgemmTile t;
  t.ldc = g.N;
  t.lo = ep.lo;
  t.hi = ep.hi;
  for (size_t si = 0; si < slices_.size(); ++si) {
    const Slice& sl = slices_[si];
    const float* b_rows = b_grp;
    t.b_rows = row_offsets + sl.first;
    t.kc = sl.kc;
    t.accumulate = si > 0;
    const bool last = si + 1 == slices_.size();
    for (int64_t jp = 0; jp < nc; jp += uk.nr) {
      t.cols = static_cast<int>(std::min<int64_t>(uk.nr, nc - jp));
      t.b = b_rows + j0 + jp;
      for (int64_t ip = 0; ip < mc; ip += uk.mr) {
        t.a = a_grp + sl.a_off + ((i0 + ip) / uk.mr) * sl.kc * uk.mr;
        t.c = cbuf + (grp * Mg_ + i0 + ip) * g.N + j0 + jp;
        t.rows = static_cast<int>(std::min<int64_t>(uk.mr, mc - ip));
        t.bias = si == 0 && ep.row_bias ? ep.row_bias + grp * Mg_ + i0 + ip : nullptr;
        t.clip = ep.clip && last && !ep.residual;  // with a residual: clipped in the copy-out, after it
        uk.fn(t);
        if ((t.bias || t.clip) && !uk.epilogue) sgemm_tile_epilogue(t);
      }
    }
  }
}

void TapConv::run(const TapConvShape& s, const float* x, const SgemmEpilogue& ep, float* y, bool parallel) const {
  const std::string why = tap_conv_declines(s);
  if (!why.empty()) throw InvalidArgument("tap conv: " + why);
  if (s.C != w_.C || s.M != w_.M || s.G != w_.G || s.kh != w_.kh || s.kw != w_.kw) {
    throw InvalidArgument("tap conv: shape does not match the packed weights");
  }
  const Grid g(s, expand_, uk_->nr);
  const int64_t wq = g.Wq, ncols = g.N;
  thread_local std::vector<float> planes, grid;
  const size_t buf_size = static_cast<size_t>(s.sh * g.ncol * s.C * g.plane + g.slack);
  if (planes.size() < buf_size) planes.resize(buf_size);
  if (grid.size() < static_cast<size_t>(s.M * ncols)) grid.resize(static_cast<size_t>(s.M * ncols));
  fill_planes(g, x, planes.data());
  const float* buf = planes.data();
  // Where each row (group t, row j) of the slices starts in the buffer, for
  // the microkernel's b_rows.
  thread_local std::vector<int64_t> row_offsets;
  row_offsets.resize(static_cast<size_t>(groups_ * rows_));
  for (int64_t f = 0; f < groups_ * rows_; ++f) {
    row_offsets[static_cast<size_t>(f)] = g.group_offset(f / rows_) + (f % rows_) * g.plane;
  }
  const int64_t* offsets = row_offsets.data();  // this thread's table, read by the workers
  float* cbuf = grid.data();

  const int64_t mc = uk_->mc, m_tiles = ceil_div(Mg_, mc);
  int64_t nc = uk_->nc;
  const bool threads = parallel && get_num_threads() > 1;
  if (threads && s.G * m_tiles < 8) {  // as sgemm: narrower column tiles so few rows still split
    const int64_t want = ceil_div(8, s.G * m_tiles);
    nc = std::min(uk_->nc, std::max<int64_t>(64, ceil_div(ceil_div(ncols, want), uk_->nr) * uk_->nr));
  }
  const int64_t n_tiles = ceil_div(ncols, nc);
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t grp = task / (m_tiles * n_tiles), rest = task % (m_tiles * n_tiles);
      const int64_t i0 = (rest / n_tiles) * mc, j0 = (rest % n_tiles) * nc;
      const int64_t rows = std::min(mc, Mg_ - i0), cols = std::min(nc, ncols - j0);
      group_gemm(g, grp, buf, offsets, cbuf, i0, rows, j0, cols, ep);
      // The tile's valid columns (ox < ow) into y, while in cache; with a
      // residual, y = v + residual, then the clip.
      for (int64_t m = grp * Mg_ + i0; m < grp * Mg_ + i0 + rows; ++m) {
        const float* src = cbuf + m * ncols;
        float* dst = y + m * s.oh * s.ow;
        const float* res = ep.residual ? ep.residual + m * ep.ldr : nullptr;
        for (int64_t n = j0; n < j0 + cols;) {
          const int64_t oy = n / wq, ox = n % wq;
          const int64_t seg = std::min(wq - ox, j0 + cols - n);
          if (ox < s.ow) {
            const int64_t len = std::min(seg, s.ow - ox), at = oy * s.ow + ox;
            if (res) {
              add_clip(src + n, res + at, ep, dst + at, len);
            } else {
              std::memcpy(dst + at, src + n, static_cast<size_t>(len) * sizeof(float));
            }
          }
          n += seg;
        }
      }
    }
  };
  const int64_t tasks = s.G * m_tiles * n_tiles;
  if (!threads || s.M * ncols * Cg_ * s.kh * s.kw < (1 << 18)) {
    body(0, tasks);
  } else {
    parallel_for(tasks, 1, body);
  }
}

}  // namespace kernels
}  // namespace int8rt
