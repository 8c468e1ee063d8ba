// The direct BF16 convolution of the BF16 GEMM driver (kernels/gemm_bf16.h):
// for left weights (a convolution's W x im2col(X)), B is not packed per
// column panel from an im2col view; instead the image is converted once
// per call into channel pairs, split into its stride phases,
//   image[c / 2][phase][Hq][Wq][2] (+ a zero tail), c = 2 * pair + (0 | 1),
// phase (fy, fx) < (phase_rows, phase_cols) (the phases a tap reads)
// holding the zero-padded input pixel (qy * sh + fy - ph, qx * sw + fx - pw), Wq = ow + (kw - 1) * dw / sw, and
// the microkernel reads B straight from it (Bf16Tile::b_step): output pixel
// q = oy * Wq + ox (the columns ox >= ow are computed and dropped), tap
// (r, s), v = (r * dh, s * dw), at phase (vy % sh, vx % sw), position q +
// (vy / sh) * Wq + vx / sw. The reduction order is tap-major,
// k' = tap * Ce + c (Ce = C rounded up to even, the odd channel zero), so
// the weights are re-laid once as A panels in that order (bf16_direct_weights,
// when they are packed: Bf16Weights::taps).
// The arithmetic is the microkernel contract's on that k' order: one chain
// per output over the whole k', the reference's bits on those operands.
// A plain B (a 1x1 stride-1 conv reading its input in place) is the image
// with H = 1, W = n, one tap: k' = k, so the weights are the panels as
// packed. oneDNN's direct convolutions read their images the same way.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/abi/gemm_bf16.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {

class Bf16PanelKernel;

struct Bf16DirectGeom {
  const float* x = nullptr;  // channel c's plane at x + c * plane, rows W apart
  // The same planes as a bfloat16 tensor (its bits), read instead of x when
  // set: the image's pairs are then these values as they are (no rounding).
  const uint16_t* x16 = nullptr;
  int64_t plane = 0;
  int64_t C = 0, H = 0, W = 0, ph = 0, pw = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, oh = 0, ow = 0;
  int64_t taps() const { return kh * kw; }
  // The stride phases a tap reads (rows fy < phase_rows(), columns fx <
  // phase_cols()): tap offset v = r * dh falls in phase v % sh < min(sh,
  // (kh - 1) * dh + 1), so a strided 1x1 conv builds phase (0, 0) alone,
  // not the sh * sw phases of the whole input.
  int64_t phase_rows() const { return std::min(sh, (kh - 1) * dh + 1); }
  int64_t phase_cols() const { return std::min(sw, (kw - 1) * dw + 1); }
  int64_t phases() const { return phase_rows() * phase_cols(); }
  int64_t wq() const { return ow + (kw - 1) * dw / sw; }  // a phase's width
  int64_t hq() const { return oh + (kh - 1) * dh / sh; }  // a phase's height
};

// The direct geometry of B (k_len rows, n columns) when the direct path
// takes it: an im2col view whose dropped columns are under a third, or a
// plain untransposed matrix. bf16: the values are a bfloat16 tensor's
// (Bf16DirectGeom::x16), so x's float pointer may be null.
std::optional<Bf16DirectGeom> bf16_direct_geom(const GemmOperand& x, int64_t k_len, int64_t n, bool bf16 = false);

// Left-weight A panels [pairs][mr][2] (k in im2col order c * taps + tap)
// re-laid in the direct order k' = tap * Ce + c: panels x [taps * Ce / 2][mr][2].
std::vector<uint16_t> bf16_direct_weights(const uint16_t* panels, int64_t n_panels, int mr, int64_t pairs,
                                          int64_t C, int64_t taps);

// The epilogue fields of `t` (bias, residual, clip) for the C tile whose
// first row is `row` and first column `col`, from `ep` (none when null);
// r16 (when set): the residual as BF16 bits, laid out as ep->residual
// would be (row stride ep->ldr), into Bf16Tile::residual16.
void bf16_tile_epilogue(const SgemmEpilogue* ep, int64_t row, int64_t col, Bf16Tile& t,
                        const uint16_t* r16 = nullptr);

// C[M][oh * ow] = W * X through the image; `w` the direct panels (or the
// packed ones when taps == 1), `panels` of them; ep as PackedBf16Gemm::run.
// c16 (when set, c unused): C rounded to BF16 (Bf16Tile::c16), row stride ldc.
// r16 (when set, ep->residual null): a bfloat16 residual, row stride ep->ldr.
void bf16_direct_run(const Bf16PanelKernel& k, const Bf16DirectGeom& g, const uint16_t* w, int64_t panels,
                     int64_t M, float* c, int64_t ldc, bool parallel, const SgemmEpilogue* ep,
                     uint16_t* c16 = nullptr, const uint16_t* r16 = nullptr);

}  // namespace kernels
}  // namespace int8rt
