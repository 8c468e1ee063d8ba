// Reference int8 GEMM (the spec for Gemm/MatMul/Linear layers).
//
//   acc[m][n] = sum_{k < K} a[m][k] * b[n][k]     (int32; b is [N][K], transB=1)
//   y[m][n]   = epilogue_n(acc[m][n])              (ref/requantize.h)
#include <cstdint>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

void gemm_s8(const GemmShape& sh, int64_t M, const int8_t* a, const int8_t* b,
             const Epilogue& ep, void* y) {
  sh.validate();
  check_epilogue(ep, "gemm_s8");
  if (M < 0) throw InvalidArgument("gemm_s8: M must be >= 0");
  const int64_t work_per_row = static_cast<int64_t>(sh.N) * sh.K;
  const int64_t grain = grain_for_work(work_per_row);

  parallel_for(M, grain, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const int8_t* am = a + m * sh.K;
      for (int n = 0; n < sh.N; ++n) {
        const int8_t* bn = b + static_cast<int64_t>(n) * sh.K;
        int32_t acc = 0;
        for (int k = 0; k < sh.K; ++k) {
          acc += static_cast<int32_t>(am[k]) * static_cast<int32_t>(bn[k]);
        }
        store_output(acc, n, m * sh.N + n, ep, y);
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
