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
// tile (avx2/broadcast4.h). Epilogue: avx2/epilogue.h.
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
        const __m256i ax = _mm256_abs_epi8(x);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * q + j * bs));
          const __m256i pairs = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv, x));
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

IgemmFn igemm_s8_fn(int mr, int nb) { return kTable[mr - 1][nb - 1]; }

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
