// int8 add, channel gate and channel concat on NC/4HW4 tensors, the
// arithmetic of ref/add_s8.cc, ref/channel_mul_s8.cc and ref/concat_s8.cc:
//   add:    ta = (float)a * a_mult; tb = (float)b * b_mult; t = ta + tb;
//           y = rne(min(max(t, lo), hi))
//   concat: input i (C_i channels, multiplier m_i) fills output channels
//           [off_i, off_i + C_i): y = rne(min(max((float)x * m_i, -128), 127)),
//           a plain copy when m_i == 1 (the same result, see ref/concat_s8.cc)
//   channel gate (ref/channel_mul_s8.cc): m = gate[n][c] * ratio with
//           ratio = s_x / s_y from the host; y = rne(min(max((float)x * m, -128), 127))
// Mapping: one thread per output 32-bit word. Add and the gate work on the word's four
// lanes side by side (padding lanes too: unspecified results). Concat
// gathers each lane from the input that owns its channel (channel counts
// need not be multiples of 4, so a word can mix inputs) and writes 0 into the
// padding lanes. At most kMaxConcatInputs inputs (ConcatArgs).
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int32_t clamp_round(float t, float lo, float hi) {
  t = t >= lo ? t : lo;
  t = t <= hi ? t : hi;
  return __float2int_rn(t);
}

__global__ __launch_bounds__(kThreads) void add_s8_kernel(int64_t words, const int8_t* __restrict__ a,
                                                          const int8_t* __restrict__ b, AddParams p,
                                                          int8_t* __restrict__ y) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= words) return;
  const int32_t wa = load_s32(a + 4 * t), wb = load_s32(b + 4 * t);
  int32_t v[4];
  INT8RT_UNROLL
  for (int j = 0; j < 4; ++j) {
    const float ta = __fmul_rn(static_cast<float>(byte_s8(wa, j)), p.a_mult);
    const float tb = __fmul_rn(static_cast<float>(byte_s8(wb, j)), p.b_mult);
    v[j] = clamp_round(__fadd_rn(__fadd_rn(ta, tb), p.offset), p.clamp_lo, p.clamp_hi);
  }
  store_s32(y + 4 * t, pack_s8x4(v[0], v[1], v[2], v[3]));
}

__global__ __launch_bounds__(kThreads) void concat_nc4hw4_kernel(int batch, int64_t HW, int C, ConcatArgs args,
                                                                 int8_t* __restrict__ y) {
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
    v[j] = 0;
    int off = 0;
    for (int i = 0; i < args.count; ++i) {
      const int ci = args.channels[i];
      if (c >= off && c < off + ci) {
        const int cc = c - off;
        const int8_t x = args.data[i][((n * div_up(ci, 4) + (cc >> 2)) * HW + hw) * 4 + (cc & 3)];
        const float m = args.multiplier[i];
        v[j] = m == 1.0f ? x : clamp_round(__fmul_rn(static_cast<float>(x), m), -128.0f, 127.0f);
      }
      off += ci;
    }
  }
  store_s32(y + 4 * t, pack_s8x4(v[0], v[1], v[2], v[3]));
}

__global__ __launch_bounds__(kThreads) void channel_mul_nc4hw4_kernel(int batch, int64_t HW, int C,
                                                                       const int8_t* __restrict__ x,
                                                                       const float* __restrict__ gate,
                                                                       int gate_batch, float ratio,
                                                                       int8_t* __restrict__ y) {
  const int C4 = div_up(C, 4);
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<int64_t>(batch) * C4 * HW) return;
  const WordPos pos = word_pos(t, C4, HW);
  const float* g = gate + (gate_batch == 1 ? 0 : pos.n) * C;
  const int32_t word = load_s32(x + 4 * t);
  int32_t v[4];
  INT8RT_UNROLL
  for (int j = 0; j < 4; ++j) {
    const int c = 4 * pos.c4 + j;
    const float m = c < C ? __fmul_rn(g[c], ratio) : 0.0f;
    v[j] = clamp_round(__fmul_rn(static_cast<float>(byte_s8(word, j)), m), -128.0f, 127.0f);
  }
  store_s32(y + 4 * t, pack_s8x4(v[0], v[1], v[2], v[3]));
}

unsigned blocks(int64_t threads) { return static_cast<unsigned>((threads + kThreads - 1) / kThreads); }

}  // namespace

void launch_add_s8(int64_t bytes, const int8_t* a, const int8_t* b, const AddParams& p, int8_t* y,
                   cudaStream_t stream) {
  const int64_t words = bytes / 4;
  if (words == 0) return;
  INT8RT_LAUNCH(add_s8_kernel, dim3(blocks(words)), dim3(kThreads), stream, words, a, b, p, y);
}

void launch_channel_mul_nc4hw4(int batch, int64_t HW, int C, const int8_t* x, const float* gate, int gate_batch,
                               float ratio, int8_t* y, cudaStream_t stream) {
  const int64_t words = static_cast<int64_t>(batch) * div_up(C, 4) * HW;
  if (words == 0) return;
  INT8RT_LAUNCH(channel_mul_nc4hw4_kernel, dim3(blocks(words)), dim3(kThreads), stream, batch, HW, C, x, gate,
                gate_batch, ratio, y);
}

void launch_concat_nc4hw4(int batch, int64_t HW, const ConcatArgs& args, int8_t* y, cudaStream_t stream) {
  int C = 0;
  for (int i = 0; i < args.count; ++i) C += args.channels[i];
  const int64_t words = static_cast<int64_t>(batch) * div_up(C, 4) * HW;
  if (words == 0) return;
  INT8RT_LAUNCH(concat_nc4hw4_kernel, dim3(blocks(words)), dim3(kThreads), stream, batch, HW, C, args, y);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
