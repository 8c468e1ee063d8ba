// Fused int8 convolution + bias + activation (+ residual) as an implicit GEMM
// on DP4A: the arithmetic of ref/conv2d_s8.cc (int32 accumulation, then the
// epilogue of ref/requantize.h), with NC/4HW4 activations.
//
// The GEMM view, per group g:   acc[m][kl] = sum_q A[m][q] . B[q][kl]
//   m  = output pixel (n, oh, ow), M = batch*OH*OW rows
//   kl = output channel within the group (k = g*Kg + kl), Kg columns
//   q  = reduction word (r, s, cw): q = (r*S + s)*Cg4 + cw, Q = R*S*Cg4 words
//   A[m][q] = the 4 input channels c0+4cw .. c0+4cw+3 (c0 = g*Cg) at input
//             position (oh*sh - pt + r*dh, ow*sw - pl + s*dw); outside the
//             input, pad_word (ConvShape::pad_value in every byte)
//   B[q][kl] = the packed weights (pack_conv_weights_dp4a), zero on lanes
//             past the group's Cg channels, so padding lanes and the next
//             group's channels never count.
// Grid: x = 64-pixel tiles of M, y = groups * ceil(Kg/64) (one group per
// block). Block: 256 threads, the tile of dp4a_tile.h. Each reduction step
// thread t loads A[m0 + t%64][q0 + t/64 + 4i] and B[q0 + t/64 + 4i][n0 + t%64]
// (i < 2): consecutive threads read consecutive pixels (consecutive words of
// NC/4HW4) and consecutive output channels (consecutive packed words).
// When c0 is a multiple of 4 an A word is one aligned 32-bit load; otherwise
// (grouped conv with Cg % 4 != 0) its 4 bytes are gathered one by one.
#include <vector>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/dp4a_tile.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

// A[m][q] for the pixel (n, oh, ow) of this thread; pad_word outside the input.
__device__ __forceinline__ int32_t load_input_word(const ConvGeometry& g, const int8_t* x, int c0,
                                                   int n, int oh, int ow, int q) {
  const int rs = q / g.Cg4, cw = q - rs * g.Cg4;
  const int r = rs / g.S, s = rs - r * g.S;
  const int ih = oh * g.stride_h - g.pad_top + r * g.dilation_h;
  const int iw = ow * g.stride_w - g.pad_left + s * g.dilation_w;
  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return g.pad_word;
  const int c = c0 + 4 * cw;
  if ((c0 & 3) == 0) {
    return load_s32(x + nc4hw4_offset(n, c, ih, iw, g.C4, g.H, g.W));
  }
  int32_t v[4];
  INT8RT_UNROLL
  for (int j = 0; j < 4; ++j) {
    v[j] = c + j < g.C ? x[nc4hw4_offset(n, c + j, ih, iw, g.C4, g.H, g.W)] : 0;
  }
  return pack_s8x4(v[0], v[1], v[2], v[3]);
}

__global__ __launch_bounds__(kTileThreads) void conv_s8_dp4a_kernel(
    ConvGeometry g, const int8_t* __restrict__ x, const int32_t* __restrict__ w, Epilogue ep,
    void* __restrict__ y) {
  __shared__ int32_t a_tile[kTileWords][kTileRows];
  __shared__ int32_t b_tile[kTileWords][kTileCols];

  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int tiles_per_group = div_up(g.Kg, kTileCols);
  const int group = blockIdx.y / tiles_per_group;
  const int n0 = (blockIdx.y % tiles_per_group) * kTileCols;
  const int c0 = group * g.Cg;
  const int64_t M = static_cast<int64_t>(g.batch) * g.OH * g.OW;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * kTileRows;
  const int32_t* w_group = w + static_cast<int64_t>(group) * g.Q * g.Kg;

  // The pixel whose A words this thread loads, decoded once.
  const int load_col = tid % kTileRows;  // also the B column it loads
  const int load_q = tid / kTileRows;    // 0..3, plus 4*i
  const int64_t load_m = m0 + load_col;
  const bool load_m_ok = load_m < M;
  const int load_n = static_cast<int>(load_m / (static_cast<int64_t>(g.OH) * g.OW));
  const int load_hw = static_cast<int>(load_m % (static_cast<int64_t>(g.OH) * g.OW));
  const int load_oh = load_hw / g.OW, load_ow = load_hw % g.OW;
  const bool load_k_ok = n0 + load_col < g.Kg;

  int32_t acc[kRowsPerThread][kColsPerThread] = {};
  for (int q0 = 0; q0 < g.Q; q0 += kTileWords) {
    INT8RT_UNROLL
    for (int i = 0; i < 2; ++i) {
      const int q = q0 + load_q + 4 * i;
      a_tile[load_q + 4 * i][load_col] =
          load_m_ok && q < g.Q ? load_input_word(g, x, c0, load_n, load_oh, load_ow, q) : 0;
      b_tile[load_q + 4 * i][load_col] =
          load_k_ok && q < g.Q ? w_group[static_cast<int64_t>(q) * g.Kg + n0 + load_col] : 0;
    }
    __syncthreads();
    dp4a_tile_step(a_tile, b_tile, tx, ty, acc);
    __syncthreads();
  }

  // Epilogue: thread owns pixels m0 + ty + 16i and channels k0 .. k0+3.
  const int kl0 = n0 + kColsPerThread * tx;
  const int k0 = group * g.Kg + kl0;
  const bool int8_out = ep.out_type == OutputType::kInt8;
  INT8RT_UNROLL
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int64_t m = m0 + ty + kThreadRowStride * i;
    if (m >= M) continue;
    const int n = static_cast<int>(m / (static_cast<int64_t>(g.OH) * g.OW));
    const int hw = static_cast<int>(m % (static_cast<int64_t>(g.OH) * g.OW));
    const int oh = hw / g.OW, ow = hw % g.OW;
    if (int8_out) {
      int32_t q[kColsPerThread];
      INT8RT_UNROLL
      for (int j = 0; j < kColsPerThread; ++j) {
        const int64_t off = nc4hw4_offset(n, k0 + j, oh, ow, g.K4, g.OH, g.OW);
        const int8_t res = ep.residual && kl0 + j < g.Kg ? ep.residual[off] : int8_t{0};
        q[j] = kl0 + j < g.Kg ? round_to_s8_dev(requantize_dev(acc[i][j], k0 + j, ep, res)) : 0;
      }
      int8_t* y8 = static_cast<int8_t*>(y);
      if ((k0 & 3) == 0 && kl0 + 3 < g.Kg) {  // the 4 channels are one NC/4HW4 word
        store_s32(y8 + nc4hw4_offset(n, k0, oh, ow, g.K4, g.OH, g.OW),
                  pack_s8x4(q[0], q[1], q[2], q[3]));
      } else {
        for (int j = 0; j < kColsPerThread && kl0 + j < g.Kg; ++j) {
          y8[nc4hw4_offset(n, k0 + j, oh, ow, g.K4, g.OH, g.OW)] = static_cast<int8_t>(q[j]);
        }
      }
    } else {
      float* yf = static_cast<float*>(y);
      for (int j = 0; j < kColsPerThread && kl0 + j < g.Kg; ++j) {
        const int64_t off = ((static_cast<int64_t>(n) * g.K + k0 + j) * g.OH + oh) * g.OW + ow;
        const int8_t res = ep.residual ? ep.residual[off] : int8_t{0};
        yf[off] = requantize_dev(acc[i][j], k0 + j, ep, res);
      }
    }
  }
}

}  // namespace

ConvGeometry conv_geometry(const ConvShape& s, int batch) {
  ConvGeometry g;
  g.batch = batch;
  g.C = s.C; g.H = s.H; g.W = s.W; g.K = s.K;
  g.OH = s.out_h(); g.OW = s.out_w();
  g.R = s.R; g.S = s.S;
  g.stride_h = s.stride_h; g.stride_w = s.stride_w;
  g.pad_top = s.pad_top; g.pad_left = s.pad_left;
  g.dilation_h = s.dilation_h; g.dilation_w = s.dilation_w;
  g.groups = s.groups;
  g.Cg = s.c_per_group(); g.Kg = s.k_per_group();
  g.C4 = div_up(s.C, 4); g.K4 = div_up(s.K, 4);
  g.Cg4 = div_up(g.Cg, 4);
  g.Q = s.R * s.S * g.Cg4;
  const int32_t p = s.pad_value;
  g.pad_word = pack_s8x4(p, p, p, p);
  return g;
}

std::vector<int32_t> pack_conv_weights_dp4a(const ConvShape& s, const int8_t* w) {
  const int Cg = s.c_per_group(), Kg = s.k_per_group(), Cg4 = div_up(Cg, 4);
  const int Q = s.R * s.S * Cg4;
  std::vector<int32_t> packed(static_cast<size_t>(s.groups) * Q * Kg, 0);
  for (int k = 0; k < s.K; ++k) {
    const int group = k / Kg, kl = k % Kg;
    for (int r = 0; r < s.R; ++r) {
      for (int sx = 0; sx < s.S; ++sx) {
        for (int cw = 0; cw < Cg4; ++cw) {
          int32_t v[4] = {0, 0, 0, 0};
          for (int j = 0; j < 4 && 4 * cw + j < Cg; ++j) {
            v[j] = w[((static_cast<int64_t>(k) * Cg + 4 * cw + j) * s.R + r) * s.S + sx];
          }
          const int q = (r * s.S + sx) * Cg4 + cw;
          packed[(static_cast<size_t>(group) * Q + q) * Kg + kl] =
              pack_s8x4(v[0], v[1], v[2], v[3]);
        }
      }
    }
  }
  return packed;
}

void launch_conv_s8_dp4a(const ConvGeometry& g, const int8_t* x, const int32_t* w_packed,
                         const Epilogue& ep, void* y, cudaStream_t stream) {
  const int64_t M = static_cast<int64_t>(g.batch) * g.OH * g.OW;
  if (M == 0) return;
  const dim3 grid(static_cast<unsigned>((M + kTileRows - 1) / kTileRows),
                  static_cast<unsigned>(g.groups * div_up(g.Kg, kTileCols)));
  INT8RT_LAUNCH(conv_s8_dp4a_kernel, grid, dim3(kTileThreads), stream, g, x, w_packed, ep, y);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
