// int8 indirect-GEMM microkernel, AVX2, tile 3 x 24, reduction c4, for
// inputs of any sign against weights in [-127, 127]: the sign trick of
// avx2/igemm_6x16c4s.cc (exact; avx2/abs_sign_product.h) on a tile of three
// 8-channel blocks, for convs of 24 output channels per group (PP-OCR det's
// FPN 3 x 3 96 -> 24), which the 6 x 16 tile runs as a full 16-channel tile
// plus a 6 x 8 one whose rows' broadcast and vpabsb serve one block: per
// group of 4 inputs and 3 rows, 3 weight loads, 3 broadcasts, 3 vpabsb and
// 9 x (vpsignb, vpmaddubsw, vpmaddwd, vpaddd) = 45 instructions per 288
// products, where the 6 x 16 + 6 x 8 pair issues 99 per 576 (9 % more).
//
// Register tile: MR (<= 3) rows x NB (<= 3) ymm blocks = up to 9 int32
// accumulators, the three blocks' weights (loaded once per group, shared
// by the rows), the broadcast, its absolute value, the int16 ones and a
// product register: 16 ymm, nothing spilled. A 4 x 24 tile (12
// accumulators) spilled three of them (GCC 12, weights hoisted or reloaded
// per row) and measured no faster than this one (RESULTS.md section 242).
// Rows: a[tap * 3 + i] (the driver's rows per tile are this tile's 3).
// Packed weights: the 6 x 16 tile's (block 8, c4, not compensated), read
// three blocks at a time. Loop and epilogue: avx2/igemm_c4_loop.h,
// avx2/epilogue.h.
#include <immintrin.h>

#include "kernels/x86/avx2/abs_sign_product.h"
#include "kernels/x86/avx2/igemm_c4_loop.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

IgemmFn igemm_s8_3x24_fn(int mr, int nb) {
  using Row = IgemmFn[kNB24];
  static constexpr Row kTable[kMR24] = {
      {igemm_c4<AbsSignProduct, 1, 1, kMR24>, igemm_c4<AbsSignProduct, 1, 2, kMR24>,
       igemm_c4<AbsSignProduct, 1, 3, kMR24>},
      {igemm_c4<AbsSignProduct, 2, 1, kMR24>, igemm_c4<AbsSignProduct, 2, 2, kMR24>,
       igemm_c4<AbsSignProduct, 2, 3, kMR24>},
      {igemm_c4<AbsSignProduct, 3, 1, kMR24>, igemm_c4<AbsSignProduct, 3, 2, kMR24>,
       igemm_c4<AbsSignProduct, 3, 3, kMR24>}};
  return kTable[mr - 1][nb - 1];
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
