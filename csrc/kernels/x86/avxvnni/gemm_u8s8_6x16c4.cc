// u8 x s8 -> int32 GEMM microkernel, AVX-VNNI (VEX, 256-bit), tile 6 x 16,
// reduction c4 (abi/gemm_u8s8.h has the packed layout: one block of 16
// columns is two ymm per group of 4 k).
//
// Register tile: MR (<= 6) rows x one block = up to 12 int32 accumulators
// (two ymm per row), two B registers, one broadcast (15 of 16 ymm). Each
// step broadcasts 4 bytes of a row and vpdpbusd multiplies them, as u8, by
// the block's 16 x 4 s8 bytes, the four products summed into each int32 lane
// without saturation (mod 2^32): ref::gemm_u8s8 exactly, as the AVX512-VNNI
// tile. K is a multiple of 4 (the driver pads A's rows); one loop, no tail.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/gemm_u8s8.h"
#include "kernels/x86/tile_for_mr.h"
#include "kernels/x86/avxvnni/dpbusd.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AVXVNNI_NS {
namespace {

template <int MR>
void tile(const GemmU8S8Tile& t) {
  __m256i lo[MR], hi[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  const int64_t groups = t.K / 4;
  const int8_t* b = t.b;
  const uint8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      int32_t bytes;
      __builtin_memcpy(&bytes, a + i * t.lda, 4);
      const __m256i x = _mm256_set1_epi32(bytes);
      lo[i] = INT8RT_DPBUSD256(lo[i], x, w0);
      hi[i] = INT8RT_DPBUSD256(hi[i], x, w1);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    int32_t* c = t.c + i * t.ldc;
    if (t.n_last == 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), lo[i]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), hi[i]);
    } else {
      alignas(32) int32_t row[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(row), lo[i]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(row + 8), hi[i]);
      for (int n = 0; n < t.n_last; ++n) c[n] = row[n];
    }
  }
}

}  // namespace

GemmU8S8Fn gemm_u8s8_fn(int mr, int /*nb: always 1*/) {
  return tile_for_mr<6>(mr, [](auto rows) -> GemmU8S8Fn { return tile<decltype(rows)::value>; });
}

}  // namespace INT8RT_AVXVNNI_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
