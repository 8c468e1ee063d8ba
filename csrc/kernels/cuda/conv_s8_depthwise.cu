// Fused int8 depthwise convolution (groups == C == K) + bias + activation
// (+ residual): ref/conv2d_s8.cc with C/groups == 1, NC/4HW4 activations.
//   acc[n][c][oh][ow] = sum_{r, s} x[n][c][oh*sh - pt + r*dh][ow*sw - pl + s*dw] * w[c][0][r][s]
// with x = pad_value (ConvShape::pad_value, in every byte of g.pad_word) at
// padding positions.
// DP4A does not fit (its four lanes would sum four different channels), so
// each lane is multiplied on its own in int32.
// Mapping: one thread per output word (n, c4, oh, ow), i.e. 4 channels of one
// pixel; flat thread index t = ((n*C4 + c4)*OH + oh)*OW + ow is also the
// output word's index, so a warp reads and writes consecutive words. Packed
// weights [C4][R][S] int32 (pack_depthwise_weights): one word load per tap
// gives the 4 channels' weights.
#include <vector>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ __launch_bounds__(kThreads) void conv_s8_depthwise_kernel(
    ConvGeometry g, const int8_t* __restrict__ x, const int32_t* __restrict__ w, Epilogue ep,
    void* __restrict__ y) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t plane = static_cast<int64_t>(g.OH) * g.OW;
  if (t >= static_cast<int64_t>(g.batch) * g.C4 * plane) return;
  const int ow = static_cast<int>(t % g.OW);
  const int oh = static_cast<int>((t / g.OW) % g.OH);
  const int c4 = static_cast<int>((t / plane) % g.C4);
  const int n = static_cast<int>(t / (plane * g.C4));
  const int32_t* w_c4 = w + static_cast<int64_t>(c4) * g.R * g.S;

  int32_t acc[4] = {0, 0, 0, 0};
  for (int r = 0; r < g.R; ++r) {
    const int ih = oh * g.stride_h - g.pad_top + r * g.dilation_h;
    const bool row_inside = ih >= 0 && ih < g.H;
    if (!row_inside && g.pad_word == 0) continue;
    for (int s = 0; s < g.S; ++s) {
      const int iw = ow * g.stride_w - g.pad_left + s * g.dilation_w;
      const bool inside = row_inside && iw >= 0 && iw < g.W;
      if (!inside && g.pad_word == 0) continue;
      const int32_t xw = inside ? load_s32(x + nc4hw4_offset(n, 4 * c4, ih, iw, g.C4, g.H, g.W)) : g.pad_word;
      const int32_t ww = w_c4[r * g.S + s];
      INT8RT_UNROLL
      for (int j = 0; j < 4; ++j) acc[j] += byte_s8(xw, j) * byte_s8(ww, j);
    }
  }

  const int c0 = 4 * c4;
  if (ep.out_type == OutputType::kInt8) {
    int32_t q[4];
    INT8RT_UNROLL
    for (int j = 0; j < 4; ++j) {
      const int8_t res = ep.residual && c0 + j < g.C ? ep.residual[4 * t + j] : int8_t{0};
      q[j] = c0 + j < g.C ? round_to_s8_dev(requantize_dev(acc[j], c0 + j, ep, res)) : 0;
    }
    if (c0 + 3 < g.C) {
      store_s32(static_cast<int8_t*>(y) + 4 * t, pack_s8x4(q[0], q[1], q[2], q[3]));
    } else {
      INT8RT_UNROLL
      for (int j = 0; j < 4; ++j) {
        if (c0 + j < g.C) static_cast<int8_t*>(y)[4 * t + j] = static_cast<int8_t>(q[j]);
      }
    }
  } else {
    for (int j = 0; j < 4 && c0 + j < g.C; ++j) {
      const int64_t off = ((static_cast<int64_t>(n) * g.K + c0 + j) * g.OH + oh) * g.OW + ow;
      const int8_t res = ep.residual ? ep.residual[off] : int8_t{0};
      static_cast<float*>(y)[off] = requantize_dev(acc[j], c0 + j, ep, res);
    }
  }
}

}  // namespace

std::vector<int32_t> pack_depthwise_weights(const ConvShape& s, const int8_t* w) {
  const int C4 = div_up(s.C, 4), RS = s.R * s.S;
  std::vector<int32_t> packed(static_cast<size_t>(C4) * RS, 0);
  for (int c4 = 0; c4 < C4; ++c4) {
    for (int rs = 0; rs < RS; ++rs) {
      int32_t v[4] = {0, 0, 0, 0};
      for (int j = 0; j < 4 && 4 * c4 + j < s.C; ++j) {
        v[j] = w[static_cast<int64_t>(4 * c4 + j) * RS + rs];
      }
      packed[static_cast<size_t>(c4) * RS + rs] = pack_s8x4(v[0], v[1], v[2], v[3]);
    }
  }
  return packed;
}

void launch_conv_s8_depthwise(const ConvGeometry& g, const int8_t* x, const int32_t* w_packed,
                              const Epilogue& ep, void* y, cudaStream_t stream) {
  const int64_t words = static_cast<int64_t>(g.batch) * g.C4 * g.OH * g.OW;
  if (words == 0) return;
  const dim3 grid(static_cast<unsigned>((words + kThreads - 1) / kThreads));
  INT8RT_LAUNCH(conv_s8_depthwise_kernel, grid, dim3(kThreads), stream, g, x, w_packed, ep, y);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
