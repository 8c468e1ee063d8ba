// The CUDA (DP4A) kernels' launchers and their weight packers. One kernel
// per .cu file in this folder; each file's header comment gives its thread
// and tile mapping. Every launcher is a host function that takes DEVICE
// pointers (host pointers in the C++ build through simt_emulation.h),
// enqueues work on `stream` and returns; errors surface at the next
// synchronisation (cuda_backend.h checks them). Shapes are validated by the
// caller (cuda_backend.h); launchers assume valid arguments.
//
// Activations are int8 NC/4HW4 (cuda_common.h), float tensors NCHW. Results
// equal the reference kernels' (ref/ref_kernels.h) bit for bit, with the
// reference's NHWC int8 tensors read in NC/4HW4 instead.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.h"
#include "kernels/kernel_types.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace kernels {
namespace cuda {

// ---- quantize_nc4hw4.cu ----

// FP32 NCHW x[batch][C][HW] -> int8 NC/4HW4 q (ref::quantize_s8 per value;
// padding lanes 0). q must be 4-byte aligned.
void launch_quantize_nc4hw4(int batch, int C, int64_t HW, const float* x, float scale, int8_t* q,
                            cudaStream_t stream);
// int8 NC/4HW4 -> FP32 NCHW (ref::dequantize_s8 per value).
void launch_dequantize_nc4hw4(int batch, int C, int64_t HW, const int8_t* q, float scale, float* x,
                              cudaStream_t stream);

// ---- conv_s8_dp4a_64x64.cu / conv_s8_depthwise.cu ----

// Geometry of a convolution as the kernels read it (all derived on the host).
struct ConvGeometry {
  int batch = 0, C = 0, H = 0, W = 0, K = 0, OH = 0, OW = 0, R = 1, S = 1;
  int stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0, dilation_h = 1, dilation_w = 1;
  int groups = 1;
  int Cg = 0, Kg = 0;  // channels per group, input and output
  int C4 = 0, K4 = 0;  // words per pixel of input and output (NC/4HW4)
  int Cg4 = 0;         // words of one group's input channels at one (r, s)
  int Q = 0;           // reduction length in words: R * S * Cg4
  int32_t pad_word = 0;  // a padding position's word: ConvShape::pad_value in all 4 bytes
};
ConvGeometry conv_geometry(const ConvShape& shape, int batch);

// Implicit-GEMM conv (any groups). Packed weights: [groups][Q][Kg] int32,
// word q = (r*S + s)*Cg4 + cw holding channels 4cw..4cw+3 of the group at
// (r, s), zero on lanes >= Cg.
std::vector<int32_t> pack_conv_weights_dp4a(const ConvShape& shape, const int8_t* w_oihw);
// x: NC/4HW4 int8 (4-byte aligned). y: int8 NC/4HW4 or, for float output,
// FP32 NCHW [batch][K][OH][OW]; a residual is int8 in y's layout.
void launch_conv_s8_dp4a(const ConvGeometry& g, const int8_t* x, const int32_t* w_packed,
                         const Epilogue& ep, void* y, cudaStream_t stream);

// Depthwise conv (groups == C == K), per-channel int32 products (no DP4A: the
// four lanes of a word belong to four different outputs). Packed weights:
// [C4][R][S] int32, lane j = channel 4*c4 + j, zero on lanes >= C.
std::vector<int32_t> pack_depthwise_weights(const ConvShape& shape, const int8_t* w_oihw);
void launch_conv_s8_depthwise(const ConvGeometry& g, const int8_t* x, const int32_t* w_packed,
                              const Epilogue& ep, void* y, cudaStream_t stream);

// ---- gemm_s8_dp4a_64x64.cu ----

// Packed B: [ceil(K/4)][N] int32, word (kw, n) = b[n][4kw..4kw+3], zero past K.
std::vector<int32_t> pack_gemm_weights_dp4a(const GemmShape& shape, const int8_t* b_nk);
// a: [M][K] int8 row-major (4-byte aligned), y: [M][N] of ep.out_type,
// residual (if any) [M][N] int8.
void launch_gemm_s8_dp4a(const GemmShape& shape, int64_t M, const int8_t* a,
                         const int32_t* b_packed, const Epilogue& ep, void* y,
                         cudaStream_t stream);

// ---- pool_s8_nc4hw4.cu ----

// Max pooling (ref::maxpool_s8), x and y NC/4HW4 int8.
void launch_maxpool_nc4hw4(const PoolShape& p, int batch, const int8_t* x, int8_t* y, cudaStream_t stream);
// Average pooling (ref::avgpool_s8) from s_in to s_out.
void launch_avgpool_nc4hw4(const PoolShape& p, int batch, const int8_t* x, float s_in, float s_out, int8_t* y,
                           cudaStream_t stream);
// Global average pooling (ref::global_avgpool_s8) with the multiplier
// m = ref::avgpool_multiplier(s_in, s_out, HW); y is NC/4HW4 with H = W = 1.
void launch_global_avgpool_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, float m, int8_t* y,
                                  cudaStream_t stream);
// NC/4HW4 [N, C, 1, 1] -> row-major int8 [N][C] (no arithmetic).
void launch_flatten_nc4(int batch, int C, const int8_t* x, int8_t* y, cudaStream_t stream);

// ---- eltwise_s8_nc4hw4.cu ----

// ref::add_s8 over `bytes` bytes (a multiple of 4: NC/4HW4 or any 4-byte
// aligned layout both inputs share).
void launch_add_s8(int64_t bytes, const int8_t* a, const int8_t* b, const AddParams& p, int8_t* y,
                   cudaStream_t stream);
// Channel gate (ref::channel_mul_s8) of NC/4HW4 x by float gate
// [gate_batch][C], ratio = s_x / s_y computed on the host.
void launch_channel_mul_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, const float* gate, int gate_batch,
                               float ratio, int8_t* y, cudaStream_t stream);
// Channel concat of NC/4HW4 inputs into NC/4HW4 y (ref::concat_s8), at most
// kMaxConcatInputs (cuda_backend.h) inputs.
struct ConcatArgs {
  int count = 0;
  const int8_t* data[kMaxConcatInputs] = {};
  int channels[kMaxConcatInputs] = {};
  float multiplier[kMaxConcatInputs] = {};
};
void launch_concat_nc4hw4(int batch, int64_t HW, const ConcatArgs& args, int8_t* y, cudaStream_t stream);

// ---- lookup_s8.cu ----

// y[i] = table[x[i] + 128] over n bytes (x, y 4-byte aligned; table: 256
// bytes of device memory).
void launch_lookup_s8(int64_t n, const int8_t* x, const int8_t* table, int8_t* y, cudaStream_t stream);

// ---- histogram_abs.cu ----

// Pass 1: max |x| over the finite values of x[n] and the count of NaN/Inf.
// max_abs_bits is the float32 bit pattern of the max (finite non-negative
// floats order like their bits); both outputs must be zeroed by the caller
// and are combined with atomics (several calls accumulate).
void launch_abs_max_scan(int64_t n, const float* x, uint32_t* max_abs_bits,
                         unsigned long long* nonfinite, cudaStream_t stream);
// Pass 2: adds every finite x to counts[min(num_bins-1, int(|x| * inv_width))]
// (int8rt::calib::Histogram's binning rule, float32); NaN/Inf are skipped.
void launch_histogram_abs(int64_t n, const float* x, float inv_width, int num_bins,
                          unsigned long long* counts, cudaStream_t stream);

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
