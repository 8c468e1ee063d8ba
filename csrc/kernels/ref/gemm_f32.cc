// FP32 GEMM for the FP32 path and calibration (Gemm with transB=1 / Linear):
//   y[m][n] = bias[n] (0 if null), then for k ascending: y += a[m][k] * b[n][k]
// (product rounded, then added; no FMA). B is transposed once per call to
// [K][N] so the inner loop runs along n and vectorises (each lane a
// different output, so the documented order per output is kept).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace kernels {
namespace ref {

void gemm_f32(const GemmShape& sh, int64_t M, const float* a, const float* b, const float* bias,
              float* y) {
  if (sh.N <= 0 || sh.K <= 0) throw InvalidArgument("gemm_f32: N and K must be > 0");
  if (M < 0) throw InvalidArgument("gemm_f32: M must be >= 0");
  const int64_t N = sh.N, K = sh.K;
  std::vector<float> bt(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) bt[k * N + n] = b[n * K + k];
  }
  constexpr int64_t kBlockN = 256;  // output columns per task: y row block stays in L1
  const int64_t blocks_n = (N + kBlockN - 1) / kBlockN;
  const int64_t work = std::min(N, kBlockN) * K;
  const int64_t grain = work >= 65536 ? 1 : 65536 / (work + 1) + 1;

  parallel_for(M * blocks_n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t m = task / blocks_n;
      const int64_t n0 = (task % blocks_n) * kBlockN, n1 = std::min(N, n0 + kBlockN);
      float* ym = y + m * N;
      for (int64_t n = n0; n < n1; ++n) ym[n] = bias ? bias[n] : 0.0f;
      const float* am = a + m * K;
      for (int64_t k = 0; k < K; ++k) {
        const float av = am[k];
        const float* bk = bt.data() + k * N;
        for (int64_t n = n0; n < n1; ++n) ym[n] = ym[n] + av * bk[n];
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
