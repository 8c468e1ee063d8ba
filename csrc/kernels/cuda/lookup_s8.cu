// int8 table lookup on the GPU (int8rt.QLut), the arithmetic of
// ref/lookup_s8.cc: y[i] = table[x[i] + 128] for n bytes in any layout (in
// NC/4HW4 the padding lanes go through the table too; nothing reads them).
// Mapping: each block copies the 256-byte table into shared memory (one
// byte per thread), then every thread handles one 32-bit word: 4 lookups,
// one store; the last word of an n not divisible by 4 is done bytewise.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ __launch_bounds__(kThreads) void lookup_s8_kernel(int64_t n, const int8_t* __restrict__ x,
                                                             const int8_t* __restrict__ table,
                                                             int8_t* __restrict__ y) {
  __shared__ int8_t t[256];
  t[threadIdx.x] = table[threadIdx.x];
  __syncthreads();
  const int64_t w = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t i = 4 * w;
  if (i + 4 <= n) {
    const int32_t word = load_s32(x + i);
    store_s32(y + i, pack_s8x4(t[byte_s8(word, 0) + 128], t[byte_s8(word, 1) + 128],
                               t[byte_s8(word, 2) + 128], t[byte_s8(word, 3) + 128]));
  } else {
    for (int64_t k = i; k < n; ++k) y[k] = t[x[k] + 128];
  }
}

}  // namespace

void launch_lookup_s8(int64_t n, const int8_t* x, const int8_t* table, int8_t* y, cudaStream_t stream) {
  if (n == 0) return;
  const int64_t words = (n + 3) / 4;
  INT8RT_LAUNCH(lookup_s8_kernel, dim3(static_cast<unsigned>((words + kThreads - 1) / kThreads)),
                dim3(kThreads), stream, n, x, table, y);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
