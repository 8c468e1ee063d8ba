// Dense FP32 2-D convolution as a sum of per-tap GEMMs read in place
// ("tap conv"), for kernels larger than 1x1 (3x3, 5x5, stride 1 or 2):
// the SGEMM family's microkernel (sgemm_f32.h) with no im2col panels.
//
// The image is copied once per run into a zero-padded buffer, split by
// stride phase (space-to-depth, as MLAS and oneDNN treat strided windows):
// plane (a, b, c)[q][r] = x[c][q*sh + a - ph][r*sw + b - pw] (0 outside),
// Hq x Wq per plane. Output pixel (oy, ox) then reads, for tap (i, j),
// plane ((i*dh) % sh, (j*dw) % sw, c) at (oy + (i*dh) / sh, ox + (j*dw) / sw),
// so on the flattened output grid n = oy * Wq + ox (ox < ow valid; the
// Wq - ow columns past it are computed and dropped) every tap is one
// matrix B_t[c][n] = plane_c[n + off_t] whose rows are `plane` floats apart:
// y = sum over taps t of W_t (M x C) * B_t, with the B panels read straight
// from the buffer (the microkernel's in-place mode) instead of packed.
//
// Under 16 channels (a network's stem, one group; kw * C >= 16) the taps' slices would be
// too short, so the buffer holds kw column-shifted copies instead of the sw
// phases, plane (a, kx, c)[q][r] = x[c][q*sh + a - ph][r*sw + kx*dw - pw],
// the grid is exactly ow wide, and the rows (kx, c) of one kernel row i form
// one matrix B_i (rows `plane` apart): y = sum over i of W_i (M x kw*C) * B_i,
// summed kernel row by kernel row, (kx, c) ascending within one.
//
// Summation order: taps in row-major order (i, then j), within a tap the
// channels ascending; that sequence of rows is cut into slices of equal
// size, at most the microkernel's kc, which may span taps (the microkernel
// reads each B row at its own offset, SgemmTile::b_rows); each slice is one
// microkernel call accumulating into C, the first adding the
// bias, the last clipping (SgemmEpilogue, as sgemm applies it; a residual
// is added as the valid columns are copied out, then the clip). Fixed by
// the layer's shape and the microkernel alone (never by the thread count);
// not the order of the im2col path (c, then i, j), so the two paths differ
// within FP32 summation error (tests/test_conv_taps_f32.py bounds it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {

struct TapConvShape {
  int64_t C = 0, H = 0, W = 0;  // input channels (all groups) and size
  int64_t M = 0, G = 1;         // output channels (all groups), groups
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0, oh = 0, ow = 0;
};

// "" when the tap conv should run `s`, else why the im2col path suits it
// better (1x1 kernels, few channels per group, mostly dropped columns).
std::string tap_conv_declines(const TapConvShape& s);

// Columns of the output grid the tap conv computes for `s` (the valid
// oh * ow plus the dropped ones between rows), before padding to the tile.
int64_t tap_conv_columns(const TapConvShape& s);

// dst[i] = v[i] + r[i], then ep's clip (SgemmEpilogue's order: the residual
// after the product, the clip last), for i < n; dst may be v. The residual
// add of the tap and NHWC convs, applied after their tiles are stored.
void add_clip(const float* v, const float* r, const SgemmEpilogue& ep, float* dst, int64_t n);

// One layer's constant weights [M][C/G][kh][kw] (C, M, G, kh, kw of the
// shape; the rest is read per run), packed once for `uk` in the tap order
// above; run() is const and may be called from any thread.
class TapConv {
 public:
  TapConv(const SgemmKernel& uk, const TapConvShape& weights, const float* w);

  // y[M][oh][ow] of one image x[C][H][W] for `s` (whose C, M, G, kh, kw must
  // be the weights'; tap_conv_declines(s) == ""); `ep` as in sgemm (row_bias
  // over all M channels, or nullptr; residual [M][oh * ow] with ldr = oh * ow,
  // or nullptr). Uses the calling thread's scratch
  // buffers (grown, never shrunk), and parallel_for over C tiles when `parallel`.
  void run(const TapConvShape& s, const float* x, const SgemmEpilogue& ep, float* y, bool parallel) const;

 private:
  // kc consecutive rows of the flattened (group, row) order, group = tap
  // (or kernel row when expanded), row = channel (or (kx, channel)).
  struct Slice {
    int64_t first, kc;  // first flattened row, rows
    int64_t a_off;      // offset of its panels in a_ (per group)
  };
  struct Grid;  // one run's plane and output-grid geometry
  void fill_planes(const Grid& g, const float* x, float* buf) const;
  void group_gemm(const Grid& g, int64_t grp, const float* buf, const int64_t* row_offsets, float* cbuf,
                  int64_t i0, int64_t mc, int64_t j0, int64_t nc, const SgemmEpilogue& ep) const;

  const SgemmKernel* uk_;
  TapConvShape w_;  // C, M, G, kh, kw
  int64_t Cg_, Mg_;
  bool expand_ = false;  // kx-expanded planes (under 16 channels, one group)
  int64_t groups_ = 0, rows_ = 0;  // row groups (taps, or kernel rows) and rows per group
  std::vector<Slice> slices_;
  std::vector<float> a_;  // per group: every slice's ceil(Mg / mr) panels [kc][mr]
  int64_t a_group_ = 0;   // floats per group in a_
};

}  // namespace kernels
}  // namespace int8rt
