// int8 pooling on NC/4HW4 tensors, the arithmetic of ref/pool_s8.cc:
//   max:        y = max of x over the window positions inside the input
//               (padding skipped; the scale is unchanged)
//   avg:        sum over the window positions inside the input (int32),
//               count = count_include_pad ? R*S : those positions,
//               m = s_in / (s_out * (float)count)  (ref::avgpool_multiplier,
//               IEEE multiply then divide, so the device computes it alike),
//               y = rne(min(max((float)sum * m, -128), 127))
//   global avg: sum = sum of x over all H*W positions (int32),
//               y = rne(min(max((float)sum * m, -128), 127)),
//               m = ref::avgpool_multiplier(s_in, s_out, H*W), host-computed
// and the flatten of an [N, C, 1, 1] tensor to row-major [N, C] (what
// int8rt.QFlatten is on the CPU, where NHWC already is that order).
// Mapping: max, average and global average pooling, one thread per output word
// (n, c4, oh, ow), its 4 lanes pooled side by side (padding lanes too: their
// results are unspecified, as everywhere in NC/4HW4); flatten, one thread
// per output byte.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ __launch_bounds__(kThreads) void maxpool_nc4hw4_kernel(PoolShape p, int batch, int OH, int OW,
                                                                  const int8_t* __restrict__ x,
                                                                  int8_t* __restrict__ y) {
  const int C4 = div_up(p.C, 4);
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(batch) * C4 * OH * OW) return;
  const int ow = static_cast<int>(t % OW);
  const int oh = static_cast<int>((t / OW) % OH);
  const int64_t nc4 = t / (static_cast<int64_t>(OW) * OH);  // n * C4 + c4
  const int h0 = oh * p.stride_h - p.pad_top, w0 = ow * p.stride_w - p.pad_left;
  const int r0 = h0 > 0 ? h0 : 0, r1 = h0 + p.R < p.H ? h0 + p.R : p.H;
  const int s0 = w0 > 0 ? w0 : 0, s1 = w0 + p.S < p.W ? w0 + p.S : p.W;
  int32_t best[4] = {-128, -128, -128, -128};
  for (int h = r0; h < r1; ++h) {
    for (int w = s0; w < s1; ++w) {
      const int32_t word = load_s32(x + ((nc4 * p.H + h) * p.W + w) * 4);
      INT8RT_UNROLL
      for (int j = 0; j < 4; ++j) {
        const int32_t v = byte_s8(word, j);
        best[j] = v > best[j] ? v : best[j];
      }
    }
  }
  store_s32(y + 4 * t, pack_s8x4(best[0], best[1], best[2], best[3]));
}

__device__ __forceinline__ int32_t avg_round(int32_t sum, float m) {
  float v = __fmul_rn(static_cast<float>(sum), m);
  v = v >= -128.0f ? v : -128.0f;
  v = v <= 127.0f ? v : 127.0f;
  return round_to_s8_dev(v);
}

__global__ __launch_bounds__(kThreads) void avgpool_nc4hw4_kernel(PoolShape p, int batch, int OH, int OW,
                                                                  const int8_t* __restrict__ x, float s_in,
                                                                  float s_out, int8_t* __restrict__ y) {
  const int C4 = div_up(p.C, 4);
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(batch) * C4 * OH * OW) return;
  const int ow = static_cast<int>(t % OW);
  const int oh = static_cast<int>((t / OW) % OH);
  const int64_t nc4 = t / (static_cast<int64_t>(OW) * OH);
  const int h0 = oh * p.stride_h - p.pad_top, w0 = ow * p.stride_w - p.pad_left;
  const int r0 = h0 > 0 ? h0 : 0, r1 = h0 + p.R < p.H ? h0 + p.R : p.H;
  const int s0 = w0 > 0 ? w0 : 0, s1 = w0 + p.S < p.W ? w0 + p.S : p.W;
  int32_t sum[4] = {0, 0, 0, 0};
  for (int h = r0; h < r1; ++h) {
    for (int w = s0; w < s1; ++w) {
      const int32_t word = load_s32(x + ((nc4 * p.H + h) * p.W + w) * 4);
      INT8RT_UNROLL
      for (int j = 0; j < 4; ++j) sum[j] += byte_s8(word, j);
    }
  }
  const int count = p.count_include_pad ? p.R * p.S : (r1 - r0) * (s1 - s0);
  const float m = __fdiv_rn(s_in, __fmul_rn(s_out, static_cast<float>(count)));
  store_s32(y + 4 * t, pack_s8x4(avg_round(sum[0], m), avg_round(sum[1], m), avg_round(sum[2], m),
                                 avg_round(sum[3], m)));
}

__global__ __launch_bounds__(kThreads) void global_avgpool_nc4hw4_kernel(int64_t words, int64_t HW,
                                                                         const int8_t* __restrict__ x,
                                                                         float m, int8_t* __restrict__ y) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // n * C4 + c4
  if (t >= words) return;
  int32_t sum[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < HW; ++i) {
    const int32_t word = load_s32(x + (t * HW + i) * 4);
    INT8RT_UNROLL
    for (int j = 0; j < 4; ++j) sum[j] += byte_s8(word, j);
  }
  store_s32(y + 4 * t, pack_s8x4(avg_round(sum[0], m), avg_round(sum[1], m), avg_round(sum[2], m),
                                 avg_round(sum[3], m)));
}

__global__ __launch_bounds__(kThreads) void flatten_nc4_kernel(int batch, int C, const int8_t* __restrict__ x,
                                                               int8_t* __restrict__ y) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(batch) * C) return;
  const int64_t n = t / C;
  const int c = static_cast<int>(t % C);
  y[t] = x[n * div_up(C, 4) * 4 + c];  // [N][C4][1][1][4]: channel c at byte c of image n
}

unsigned blocks(int64_t threads) { return static_cast<unsigned>((threads + kThreads - 1) / kThreads); }

}  // namespace

void launch_maxpool_nc4hw4(const PoolShape& p, int batch, const int8_t* x, int8_t* y, cudaStream_t stream) {
  const int OH = p.out_h(), OW = p.out_w();
  const int64_t words = static_cast<int64_t>(batch) * div_up(p.C, 4) * OH * OW;
  if (words == 0) return;
  INT8RT_LAUNCH(maxpool_nc4hw4_kernel, dim3(blocks(words)), dim3(kThreads), stream, p, batch, OH, OW, x, y);
}

void launch_avgpool_nc4hw4(const PoolShape& p, int batch, const int8_t* x, float s_in, float s_out, int8_t* y,
                           cudaStream_t stream) {
  const int OH = p.out_h(), OW = p.out_w();
  const int64_t words = static_cast<int64_t>(batch) * div_up(p.C, 4) * OH * OW;
  if (words == 0) return;
  INT8RT_LAUNCH(avgpool_nc4hw4_kernel, dim3(blocks(words)), dim3(kThreads), stream, p, batch, OH, OW, x, s_in,
                s_out, y);
}

void launch_global_avgpool_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, float m, int8_t* y,
                                  cudaStream_t stream) {
  const int64_t words = static_cast<int64_t>(batch) * div_up(C, 4);
  if (words == 0) return;
  INT8RT_LAUNCH(global_avgpool_nc4hw4_kernel, dim3(blocks(words)), dim3(kThreads), stream, words, HW, x, m, y);
}

void launch_flatten_nc4(int batch, int C, const int8_t* x, int8_t* y, cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(batch) * C;
  if (n == 0) return;
  INT8RT_LAUNCH(flatten_nc4_kernel, dim3(blocks(n)), dim3(kThreads), stream, batch, C, x, y);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
