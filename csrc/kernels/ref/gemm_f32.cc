// FP32 GEMM for the FP32 path and calibration (Gemm with transB=1 / Linear):
//   y[m][n] = bias[n] (0 if null), then for k ascending: y += a[m][k] * b[n][k]
// (product rounded, then added; no FMA). For M >= 8, B is transposed once
// per call to [K][N] so the inner loop runs along n and vectorises (each
// lane a different output, so the documented order per output is kept).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace kernels {
namespace ref {

constexpr int64_t kTransposeMinRows = 8;

void gemm_f32(const GemmShape& sh, int64_t M, const float* a, const float* b, const float* bias,
              float* y) {
  if (sh.N <= 0 || sh.K <= 0) throw InvalidArgument("gemm_f32: N and K must be > 0");
  if (M < 0) throw InvalidArgument("gemm_f32: M must be >= 0");
  const int64_t N = sh.N, K = sh.K;
  if (M < kTransposeMinRows) {
    // Few rows: a transpose would cost as much as the product. Dot products
    // in the same order (bias, then k ascending) give the same results; four
    // outputs at a time keep four independent add chains in flight.
    const int64_t quads = (N + 3) / 4;
    parallel_for(M * quads, 16, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t m = task / quads, n0 = (task % quads) * 4, n1 = std::min(N, n0 + 4);
        const float* am = a + m * K;
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float* bn[4];
        for (int64_t j = 0; j < 4; ++j) {
          const int64_t n = std::min(n0 + j, N - 1);  // lanes past N repeat the last row
          bn[j] = b + n * K;
          acc[j] = bias ? bias[n] : 0.0f;
        }
        for (int64_t k = 0; k < K; ++k) {
          for (int j = 0; j < 4; ++j) acc[j] = acc[j] + am[k] * bn[j][k];
        }
        for (int64_t n = n0; n < n1; ++n) y[m * N + n] = acc[n - n0];
      }
    });
    return;
  }
  std::vector<float> bt(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) bt[k * N + n] = b[n * K + k];
  }
  // A task is a block of up to kBlockM rows x kBlockN columns: each B^T row
  // segment loaded is used for kBlockM rows, and the y block stays in L1.
  constexpr int64_t kBlockM = 8, kBlockN = 256;
  const int64_t blocks_m = (M + kBlockM - 1) / kBlockM;
  const int64_t blocks_n = (N + kBlockN - 1) / kBlockN;

  parallel_for(blocks_m * blocks_n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t m0 = (task / blocks_n) * kBlockM, m1 = std::min(M, m0 + kBlockM);
      const int64_t n0 = (task % blocks_n) * kBlockN, n1 = std::min(N, n0 + kBlockN);
      for (int64_t m = m0; m < m1; ++m) {
        for (int64_t n = n0; n < n1; ++n) y[m * N + n] = bias ? bias[n] : 0.0f;
      }
      for (int64_t k = 0; k < K; ++k) {
        const float* bk = bt.data() + k * N;
        for (int64_t m = m0; m < m1; ++m) {
          const float av = a[m * K + k];
          float* ym = y + m * N;
          for (int64_t n = n0; n < n1; ++n) ym[n] = ym[n] + av * bk[n];
        }
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
