// The portable FP32 GEMM microkernel (contract in kernels/abi/sgemm_f32.h):
// plain C++ for the baseline ISA, written so the compiler keeps the 6 x 8
// accumulator tile in (SSE) vector registers. Separate multiply and add
// (-ffp-contract=off), so it is the ref tier's FP32 GEMM.
#include <cstdint>

#include "kernels/abi/sgemm_f32.h"

namespace int8rt {
namespace kernels {
namespace {
constexpr int kMR = 6, kNR = 8;
}  // namespace

void sgemm_6x8_portable(const SgemmTile& t) {
  const float* __restrict a = t.a;
  const float* __restrict b = t.b;
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < t.kc; ++k) {
    const float* ak = a + k * kMR;
    const float* bk = t.b_rows ? b + t.b_rows[k] : b + k * t.ldb;
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      // A in place (a_rows): rows past `rows` are not read, their sums dropped.
      const float av = t.a_rows ? (r < t.rows ? a[t.a_rows[k] + r * t.lda] : 0.f) : ak[r];
#pragma GCC unroll 8
      for (int j = 0; j < kNR; ++j) acc[r][j] += av * bk[j];
    }
  }
  for (int r = 0; r < t.rows; ++r) {
    float* cr = t.c + r * t.ldc;
    for (int j = 0; j < t.cols; ++j) cr[j] = t.accumulate ? cr[j] + acc[r][j] : acc[r][j];
  }
}

}  // namespace kernels
}  // namespace int8rt
