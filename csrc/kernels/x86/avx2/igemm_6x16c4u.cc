// int8 indirect-GEMM microkernel, AVX2, tile 6 x 16, reduction c4, for
// inputs with no negative value (IgemmUkernel::unsigned_rows): exact.
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// = up to 12 int32 accumulators, one broadcast, the int16 ones constant
// and a product register; the weights are vpmaddubsw's memory operand.
//
// Packed weights (pack_igemm_weights, block 8, c4, not compensated), per
// block of 8 channels:
//   [tap][q = 0 .. ceil(kc/4) - 1][8 channels][4 input channels] int8,
// zero past kc and past K/groups; blocks w_block_stride bytes apart.
//
// Rows: a[tap * 6 + i] points at kc raw int8 activations (the input itself,
// or the driver's padding row of pad_value), which the caller guarantees
// are all in [0, 127] (x86/conv_igemm_nonneg.cc checks every run's input).
// Read as u8 they are the same numbers, so no shift and no compensation.
// Each group of 4 is broadcast; vpmaddubsw multiplies u8 x s8 and adds
// adjacent pairs into int16 with saturation, which never happens here:
// |x0 w0 + x1 w1| <= 2 * 127 * 128 = 32512 < 32767. vpmaddwd with ones then
// adds the two pair sums of each group into int32 (|sum| <= 65024), exact.
// Per 32 multiply-adds: 2 multiplier instructions and one add, where the
// int16 c2 kernel (igemm_6x16c2.cc, any sign) needs 2 of each; on Zen 3
// this loop ran 1.9x faster than the c2 one in registers
// (benchmarks/avx2_igemm_loops.c, RESULTS.md section 56), and reads half
// the activation bytes with no widened copy of the input.
// An incomplete last group (kc % 4) is read with 1- and 2-byte loads, so
// nothing past a row is read (as in avxvnni/igemm_6x16c4.cc).
// Epilogue: avx2/epilogue.h; a row of two full blocks with int8 output
// narrows and stores as one 16-byte write. The loop is avx2/igemm_c4_loop.h's,
// shared with the sign-trick tile; this file is its product.
#include <immintrin.h>

#include "kernels/x86/avx2/igemm_c4_loop.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// Inputs in [0, 127] read as u8 as they are: vpmaddubsw(x, w).
struct U8Product {
  explicit U8Product(const IgemmTile&) {}
  __m256i row(__m256i x) const { return x; }
  __m256i pairs(__m256i x, __m256i, __m256i w) const { return _mm256_maddubs_epi16(x, w); }
};

}  // namespace

IgemmFn igemm_u8_fn(int mr, int nb) { return igemm_c4_fn<U8Product>(mr, nb); }

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
