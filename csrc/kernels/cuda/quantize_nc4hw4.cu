// FP32 NCHW <-> int8 NC/4HW4 conversion on the GPU (the entry and exit of an
// int8 segment), the arithmetic of ref/quantize_s8.cc element for element:
//   quantize:   q = rne(min(max(x * inv_scale, -128), 127)), NaN -> -128,
//               inv_scale = 1.0f / scale computed once on the host
//   dequantize: x = (float)q * scale
// Mapping: one thread per 32-bit word, i.e. per (n, c4, h, w); flat thread
// index t = ((n*C4 + c4)*H + h)*W + w, so a warp reads 32 consecutive w of
// each of its 4 channel planes (coalesced) and writes 32 consecutive words.
// Quantize writes 0 into the padding lanes (channels >= C).
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ __launch_bounds__(kThreads) void quantize_nc4hw4_kernel(int batch, int C, int64_t HW,
                                                                   const float* __restrict__ x,
                                                                   float inv_scale,
                                                                   int8_t* __restrict__ q) {
  const int C4 = div_up(C, 4);
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(batch) * C4 * HW) return;
  const WordPos pos = word_pos(t, C4, HW);
  const int64_t n = pos.n, hw = pos.hw;
  const int c4 = pos.c4;
  int32_t v[4];
  INT8RT_UNROLL
  for (int j = 0; j < 4; ++j) {
    const int c = 4 * c4 + j;
    v[j] = c < C ? quantize_dev(x[(n * C + c) * HW + hw], inv_scale) : 0;
  }
  store_s32(q + 4 * t, pack_s8x4(v[0], v[1], v[2], v[3]));
}

__global__ __launch_bounds__(kThreads) void dequantize_nc4hw4_kernel(int batch, int C, int64_t HW,
                                                                     const int8_t* __restrict__ q,
                                                                     float scale,
                                                                     float* __restrict__ x) {
  const int C4 = div_up(C, 4);
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(batch) * C4 * HW) return;
  const WordPos pos = word_pos(t, C4, HW);
  const int64_t n = pos.n, hw = pos.hw;
  const int c4 = pos.c4;
  const int32_t word = load_s32(q + 4 * t);
  INT8RT_UNROLL
  for (int j = 0; j < 4; ++j) {
    const int c = 4 * c4 + j;
    if (c < C) x[(n * C + c) * HW + hw] = __fmul_rn(static_cast<float>(byte_s8(word, j)), scale);
  }
}

unsigned blocks_for(int batch, int C, int64_t HW) {
  const int64_t words = static_cast<int64_t>(batch) * div_up(C, 4) * HW;
  return static_cast<unsigned>((words + kThreads - 1) / kThreads);
}

}  // namespace

void launch_quantize_nc4hw4(int batch, int C, int64_t HW, const float* x, float scale, int8_t* q,
                            cudaStream_t stream) {
  if (batch == 0 || C == 0 || HW == 0) return;
  const float inv_scale = 1.0f / scale;  // as ref::quantize_s8
  INT8RT_LAUNCH(quantize_nc4hw4_kernel, dim3(blocks_for(batch, C, HW)), dim3(kThreads), stream,
                batch, C, HW, x, inv_scale, q);
}

void launch_dequantize_nc4hw4(int batch, int C, int64_t HW, const int8_t* q, float scale, float* x,
                              cudaStream_t stream) {
  if (batch == 0 || C == 0 || HW == 0) return;
  INT8RT_LAUNCH(dequantize_nc4hw4_kernel, dim3(blocks_for(batch, C, HW)), dim3(kThreads), stream,
                batch, C, HW, q, scale, x);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
