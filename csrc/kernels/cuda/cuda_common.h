// What every CUDA kernel file in this folder shares: the switch between the
// real CUDA build (nvcc) and the C++ build through simt_emulation.h, the
// NC/4HW4 int8 layout, and the device form of the reference epilogue
// (ref/requantize.h), which every kernel here reproduces bit for bit.
//
// Layout NC/4HW4 (what DP4A wants): int8 activations [N][ceil(C/4)][H][W][4];
// byte j of the 32-bit word at (n, c4, h, w) is channel 4*c4 + j. The lanes of
// channels >= C in the last word are padding: the quantize kernel writes 0
// there, other kernels leave them unspecified, and no kernel lets them change
// a result (packed weights are zero on those lanes).
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"

#ifdef __CUDACC__
#include <cuda_runtime.h>
#define INT8RT_UNROLL _Pragma("unroll")
// kernel<<<grid, block, 0, stream>>>(args...)
#define INT8RT_LAUNCH(kernel, grid, block, stream, ...) \
  kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#else
#include "kernels/cuda/simt_emulation.h"
#define INT8RT_UNROLL
#define INT8RT_LAUNCH(kernel, grid, block, stream, ...) \
  ((void)(stream), ::simt::launch((grid), (block), [&] { kernel(__VA_ARGS__); }))
#endif

namespace int8rt {
namespace kernels {
namespace cuda {

__host__ __device__ __forceinline__ int div_up(int a, int b) { return (a + b - 1) / b; }

// Byte offset of channel c at (n, h, w) in an NC/4HW4 tensor with C4 words per pixel.
__host__ __device__ __forceinline__ int64_t nc4hw4_offset(int n, int c, int h, int w, int C4, int H,
                                                          int W) {
  return (((static_cast<int64_t>(n) * C4 + (c >> 2)) * H + h) * W + w) * 4 + (c & 3);
}

// Where flat word t of an NC/4HW4 tensor [batch][C4][HW][4] lies: t =
// (n*C4 + c4)*HW + hw.
struct WordPos {
  int64_t n;
  int c4;
  int64_t hw;
};
__host__ __device__ __forceinline__ WordPos word_pos(int64_t t, int C4, int64_t HW) {
  const int64_t nc4 = t / HW;
  return {nc4 / C4, static_cast<int>(nc4 % C4), t % HW};
}

// Byte j (0..3) of a 32-bit word as a signed int8.
__host__ __device__ __forceinline__ int32_t byte_s8(int32_t word, int j) {
  return static_cast<int8_t>(static_cast<uint32_t>(word) >> (8 * j));
}

// Four int8 values packed little-endian (byte j = v[j]).
__host__ __device__ __forceinline__ int32_t pack_s8x4(int32_t v0, int32_t v1, int32_t v2,
                                                     int32_t v3) {
  const uint32_t b0 = static_cast<uint32_t>(v0) & 0xffu, b1 = static_cast<uint32_t>(v1) & 0xffu;
  const uint32_t b2 = static_cast<uint32_t>(v2) & 0xffu, b3 = static_cast<uint32_t>(v3) & 0xffu;
  return static_cast<int32_t>(b0 | (b1 << 8) | (b2 << 16) | (b3 << 24));
}

// 32-bit access to 4 int8 values at p, which must be 4-byte aligned (the
// emulator checks it: a GPU faults where a CPU would not).
__device__ __forceinline__ int32_t load_s32(const int8_t* p) {
#ifdef __CUDACC__
  return *reinterpret_cast<const int32_t*>(p);
#else
  return simt::load_s32(p);
#endif
}
__device__ __forceinline__ void store_s32(int8_t* p, int32_t v) {
#ifdef __CUDACC__
  *reinterpret_cast<int32_t*>(p) = v;
#else
  simt::store_s32(p, v);
#endif
}

// ref::requantize on the device, the same float32 operations in the same
// order: __fmul_rn/__fadd_rn forbid nvcc's FMA contraction, the clamps are
// the reference's two selects (NaN takes the lower bound).
__device__ __forceinline__ float requantize_dev(int32_t acc, int k, const Epilogue& ep,
                                                int8_t residual) {
  float t = __fmul_rn(static_cast<float>(acc), ep.scale[k]);
  t = __fadd_rn(t, ep.bias ? ep.bias[k] : 0.0f);
  if (ep.residual) {
    const float r = __fmul_rn(static_cast<float>(residual), ep.residual_scale);
    t = __fadd_rn(t, r);
  }
  t = t >= ep.clamp_lo ? t : ep.clamp_lo;
  t = t <= ep.clamp_hi ? t : ep.clamp_hi;
  return t;
}

// ref::round_to_s8: round half to even; the epilogue clamp keeps t in [-128, 127].
__device__ __forceinline__ int32_t round_to_s8_dev(float t) { return __float2int_rn(t); }

// ref::quantize_value: rne(min(max(x * inv_scale, -128), 127)), NaN -> -128.
__device__ __forceinline__ int32_t quantize_dev(float x, float inv_scale) {
  float v = __fmul_rn(x, inv_scale);
  v = v >= -128.0f ? v : -128.0f;
  v = v <= 127.0f ? v : 127.0f;
  return __float2int_rn(v);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
