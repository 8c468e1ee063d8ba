// int8 indirect-GEMM microkernel, AVX2, tile 6 x 16, reduction c2, exact.
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// = up to 12 int32 accumulators, 2 weight registers, 1 broadcast (15 of 16).
//
// Packed weights (pack_igemm_weights, int16 c2 layout), per block of 8:
//   [tap][q = 0 .. ceil(kc/2) - 1][8 channels][2 input channels] int16,
// zero past kc and K/groups; blocks w_block_stride bytes apart.
//
// Rows: a[tap * 6 + i] points at ceil(kc/2)*2 int16 activations (the driver
// sign-extends the input and pads each group with a zero; padding taps point
// at its int16 padding row of pad_value). Each pair is broadcast and
// vpmaddwd multiplies int16 pairs into int32 sums: |x*w| <= 2^14, so a pair
// sum never overflows and no saturation is possible (vpmaddubsw's int16 pair sums could saturate, which
// is why this path does not use it). No shift, no compensation.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/avx2/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

inline __m256i broadcast_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int MR, int NB>
void igemm(const IgemmTile& t) {
  const int64_t bs = t.w_block_stride;
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_si256();
  }
  const int q_total = (t.kc + 1) / 2;
  const int8_t* w = t.w;
  const int16_t* const* rows = reinterpret_cast<const int16_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += q_total * 32) {
    const int16_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR + i];
    const int8_t* wq = w;
    for (int q = 0; q < q_total; ++q, wq += 32) {
      __m256i wv[NB];
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        wv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq + j * bs));
      }
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = broadcast_pair(a[i] + 2 * q);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, wv[j]));
        }
      }
    }
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = t.ep;
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      const int valid = t.nc - 8 * j;
      if (valid > 0) store_requantized(acc[i][j], ep, i, 8 * j, valid);
    }
  }
}

template <int MR>
constexpr IgemmFn row_fns[kNB] = {igemm<MR, 1>, igemm<MR, 2>};

constexpr const IgemmFn* kTable[kMR] = {row_fns<1>, row_fns<2>, row_fns<3>,
                                        row_fns<4>, row_fns<5>, row_fns<6>};

}  // namespace

IgemmFn igemm_fn(int mr, int nb) { return kTable[mr - 1][nb - 1]; }

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
