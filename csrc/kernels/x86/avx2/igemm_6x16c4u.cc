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
// narrows and stores as one 16-byte write.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/avx2/broadcast4.h"
#include "kernels/x86/avx2/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

template <int MR, int NB>
void igemm(const IgemmTile& t) {
  const int64_t bs = t.w_block_stride;
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_si256();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const int q_full = t.kc / 4;
  const int tail = t.kc % 4;
  const int q_total = q_full + (tail ? 1 : 0);
  const int8_t* w = t.w;
  const int8_t* const* rows = reinterpret_cast<const int8_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += q_total * 32) {
    const int8_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR + i];
    // One group of 4 (n = 4) or the last, shorter one (n = kc % 4).
    auto step = [&](int q, int n) {
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = broadcast4(a[i] + 4 * q, n);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * q + j * bs));
          const __m256i pairs = _mm256_maddubs_epi16(x, wv);
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(pairs, ones));
        }
      }
    };
    for (int q = 0; q < q_full; ++q) step(q, 4);
    if (tail) step(q_full, tail);
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = t.ep;
  store_tile<MR, NB>(acc, ep, t.nc);
}

template <int MR>
constexpr IgemmFn row_fns[kNB] = {igemm<MR, 1>, igemm<MR, 2>};

constexpr const IgemmFn* kTable[kMR] = {row_fns<1>, row_fns<2>, row_fns<3>,
                                        row_fns<4>, row_fns<5>, row_fns<6>};

}  // namespace

IgemmFn igemm_u8_fn(int mr, int nb) { return kTable[mr - 1][nb - 1]; }

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
