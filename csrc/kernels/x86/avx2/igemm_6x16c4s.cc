// int8 indirect-GEMM microkernel, AVX2, tile 6 x 16, reduction c4, for
// inputs of any sign against weights in [-127, 127] (IgemmUkernel::
// abs_sign_rows): exact.
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// = up to 12 int32 accumulators, one broadcast, its absolute value, the
// int16 ones constant and a product register.
//
// Packed weights: the u8 tile's (igemm_6x16c4u.cc; pack_igemm_weights,
// block 8, c4, not compensated), so a conv packed for both shares one copy
// (x86/conv_igemm.cc). Rows: a[tap * 6 + i] points at kc raw int8
// activations of any sign (the input itself or the padding row).
//
// The sign trick (as in intgemm and llama.cpp's AVX2 dot products): with x
// a group of 4 activations broadcast and w the weights,
//   x * w = |x| * (w * sign(x)),
// |x| = vpabsb(x) read as u8 (<= 128: -128 gives 0x80 = 128) and
// w * sign(x) = vpsignb(w, x) as s8, which is exact while w != -128 (-128
// negated wraps to -128), so the packer's caller checks that no weight is
// -128 (IgemmConvKernel::pack) and otherwise packs the int16 kernel
// (igemm_6x16c2.cc). vpmaddubsw adds the two products of each pair into
// int16: |pair| <= 2 * 128 * 127 = 32512 < 32767, never saturated;
// vpmaddwd with ones adds the pairs of each group into int32, exact.
// Per 32 multiply-adds: one vpsignb, 2 multiplier instructions and one add,
// plus one vpabsb per row shared by both blocks: 1.4x the int16 kernel's
// rate in registers on Zen 3 (benchmarks/avx2_igemm_loops.c, RESULTS.md
// section 58), 0.75x the u8 kernel's, which therefore still takes inputs
// with no negative value (x86/conv_igemm_nonneg.cc). It reads the raw input,
// where the int16 kernel reads a widened copy the driver makes per run.
// The weights are loaded into a register (vpsignb's memory operand would be
// the sign source). An incomplete last group (kc % 4) is read as in the u8
// tile (avx2/broadcast4.h). Epilogue: avx2/epilogue.h. The loop is
// avx2/igemm_c4_loop.h's, shared with the u8 tile; this file is its product,
// and the same tile run as a strip of pointwise rows (igemm_strip_s8, below).
//
// Why nothing faster takes signed inputs on AVX2 (RESULTS.md section 74):
// the loop issues 4 vector instructions per 32 products where the u8 tile
// issues 3, and on Zen 3 it runs at that ratio (0.70-0.80 of the u8 loop).
// Every exact scheme with fewer instructions needs a rule on the weights:
// x + 128 as u8 (the u8 loop, OpenVINO's on weights scaled by 0.5) needs
// each weight pair's positives <= 128 and negatives >= -128; two groups
// added in int16 before one vpmaddwd (as igemm_6x16c4u2.cc) need
// sum |w| <= 255 over each four. On per-channel weights of MobileNetV2 /
// EfficientNet-Lite0 expansions 40-50% of the (block, step)s hold a pair or
// four that breaks them (benchmarks/s8s8_rules.py), so residual groups cost
// more than they save; and a run-time check of each 6-pixel tile's input
// range would admit 0.2-0.5% of the tiles to the u8 loop (x + 64) and
// 0.6-9% to the pair loop. Tried in this kernel and no faster: weights
// reloaded per row (no spilled accumulators), 5 x 16 and 3 x 32 tiles.
// Also slower (RESULTS.md section 227): 16 sign-flipped copies of each
// weight group, the copy for the group's input signs read by vpmaddubsw
// (1.6-2.8x this tile's time: scalar offset work per row, 16x the weights),
// and the sign applied by vpblendvb or xor / subtract. Symmetric inputs
// only a few codes below 0 take the shifted u8 tile instead
// (igemm_6x16c4a.cc, chosen per run by x86/conv_igemm_nonneg.cc).
#include <immintrin.h>

#include "kernels/x86/avx2/abs_sign_product.h"
#include "kernels/x86/avx2/igemm_c4_loop.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

IgemmFn igemm_s8_fn(int mr, int nb) { return igemm_c4_fn<AbsSignProduct>(mr, nb); }

// The full 6 x 16 tile over a strip of pointwise rows (rows i0..i0+5 at
// x + i * x_stride; the driver's run_strips): the same loop and epilogue
// inlined per tile, with the row pointers and the output moved here rather
// than by the driver's per-tile fill, prefetch and indirect call (an eighth
// of the C = 3 stem's time as merged taps, RESULTS.md section 235). The
// output rows of the tile two ahead are prefetched, as the driver does.
void igemm_strip_s8(const IgemmStrip& s) {
  const int8_t* rows[kMR];
  IgemmTile t;
  t.taps = 1;
  t.kc = s.kc;
  t.a = reinterpret_cast<const void* const*>(rows);
  t.w = s.w;
  t.w_block_stride = s.w_block_stride;
  t.acc_init = s.acc_init;
  t.nc = kNB * kBlock;
  t.ep = s.ep;
  int8_t* const y = static_cast<int8_t*>(s.ep.y);
  const int64_t ys = s.ep.y_stride, rs = s.ep.residual_stride;
  for (int64_t i0 = 0; i0 < s.m; i0 += kMR) {
    #pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) rows[i] = s.x + (i0 + i) * s.x_stride;
    t.ep.y = y + i0 * ys;
    t.ep.residual = s.ep.residual ? s.ep.residual + i0 * rs : nullptr;
    if (i0 + 2 * kMR < s.m) {
      #pragma GCC unroll 6
      for (int i = 0; i < kMR; ++i) {
        __builtin_prefetch(y + (i0 + 2 * kMR + i) * ys, 1, 3);
        if (s.ep.residual) __builtin_prefetch(s.ep.residual + (i0 + 2 * kMR + i) * rs, 0, 3);
      }
    }
    igemm_c4<AbsSignProduct, kMR, kNB>(t);
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
