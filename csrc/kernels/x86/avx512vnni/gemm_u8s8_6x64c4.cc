// u8 x s8 -> int32 GEMM microkernel, AVX512-VNNI, tile 6 x 64, reduction c4
// (abi/gemm_u8s8.h has the packed layout).
//
// Register tile: MR (<= 6) rows x NB (<= 4) zmm blocks of 16 columns = up to
// 24 int32 accumulators, NB B registers, one broadcast. Each step broadcasts 4
// bytes of a row (4 consecutive k) and vpdpbusd multiplies them, as u8, by the
// 16 x 4 packed s8 bytes of a block: the four products summed into each int32
// lane, added without saturation (mod 2^32), which is ref::gemm_u8s8 exactly.
// K is a multiple of 4 here: the driver pads A's rows (zeros, meeting the
// zero-packed B bytes) when the product's K is not. One loop with no tail
// keeps the accumulators in registers (a tail loop after it made GCC spill
// all 24 to the stack on every step).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/gemm_u8s8.h"
#include "kernels/x86/tile_for_mr.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

template <int MR, int NB>
void tile(const GemmU8S8Tile& t) {
  __m512i acc[MR][NB];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_si512();
  }
  const int64_t groups = t.K / 4;  // the driver pads K to a multiple of 4
  const int8_t* b = t.b;
  const uint8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    __m512i w[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(b + j * t.b_block);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      int32_t bytes;
      __builtin_memcpy(&bytes, a + i * t.lda, 4);
      const __m512i x = _mm512_set1_epi32(bytes);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, w[j]);
    }
  }
  const __mmask16 last = static_cast<__mmask16>((1u << t.n_last) - 1u);
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    int32_t* c = t.c + i * t.ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NB - 1; ++j) _mm512_storeu_si512(c + 16 * j, acc[i][j]);
    _mm512_mask_storeu_epi32(c + 16 * (NB - 1), last, acc[i][NB - 1]);
  }
}

template <int MR>
GemmU8S8Fn for_rows(int nb) {
  switch (nb) {
    case 1: return tile<MR, 1>;
    case 2: return tile<MR, 2>;
    case 3: return tile<MR, 3>;
    default: return tile<MR, 4>;
  }
}

}  // namespace

GemmU8S8Fn gemm_u8s8_fn(int mr, int nb) {
  return tile_for_mr<6>(mr, [nb](auto rows) -> GemmU8S8Fn { return for_rows<decltype(rows)::value>(nb); });
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
