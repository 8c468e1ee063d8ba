// Fused int8 GEMM + bias + activation (+ residual) on DP4A, the arithmetic
// of ref/gemm_s8.cc:
//   acc[m][n] = sum_k a[m][k] * b[n][k]  (int32),  y[m][n] = epilogue_n(acc)
// a: [M][K] int8 row-major (activations), b packed at build time into
// [K4][N] words (pack_gemm_weights_dp4a, K4 = ceil(K/4), zero past K).
// Grid: x = 64-row tiles of M, y = 64-column tiles of N. Block: 256 threads,
// the tile of dp4a_tile.h. Each reduction step thread t loads
//   A word (row m0 + t/8 + 32i, word q0 + t%8), i < 2: 8 consecutive threads
//     read 32 consecutive bytes of one row;
//   B word (word q0 + t/64 + 4i, column n0 + t%64), i < 2: consecutive
//     threads read consecutive columns.
// When K % 4 == 0 rows start on word boundaries and an A word is one aligned
// 32-bit load; otherwise its bytes are gathered one by one (zero past K).
#include <vector>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/dp4a_tile.h"

namespace int8rt {
namespace kernels {
namespace cuda {
namespace {

// Word q of row m of a ([M][K] int8).
__device__ __forceinline__ int32_t load_row_word(const int8_t* a, int K, int64_t m, int q) {
  const int8_t* row = a + m * K;
  if ((K & 3) == 0) return load_s32(row + 4 * q);
  int32_t v[4];
  INT8RT_UNROLL
  for (int j = 0; j < 4; ++j) v[j] = 4 * q + j < K ? row[4 * q + j] : 0;
  return pack_s8x4(v[0], v[1], v[2], v[3]);
}

__global__ __launch_bounds__(kTileThreads) void gemm_s8_dp4a_kernel(
    int64_t M, int N, int K, const int8_t* __restrict__ a, const int32_t* __restrict__ b,
    Epilogue ep, void* __restrict__ y) {
  __shared__ int32_t a_tile[kTileWords][kTileRows];
  __shared__ int32_t b_tile[kTileWords][kTileCols];

  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * kTileRows;
  const int n0 = blockIdx.y * kTileCols;
  const int K4 = div_up(K, 4);

  const int a_q = tid % kTileWords, a_row = tid / kTileWords;  // row 0..31, plus 32*i
  const int b_col = tid % kTileCols, b_q = tid / kTileCols;    // word 0..3, plus 4*i
  const bool b_col_ok = n0 + b_col < N;

  int32_t acc[kRowsPerThread][kColsPerThread] = {};
  for (int q0 = 0; q0 < K4; q0 += kTileWords) {
    INT8RT_UNROLL
    for (int i = 0; i < 2; ++i) {
      const int64_t m = m0 + a_row + 32 * i;
      const int qa = q0 + a_q;
      a_tile[a_q][a_row + 32 * i] = m < M && qa < K4 ? load_row_word(a, K, m, qa) : 0;
      const int qb = q0 + b_q + 4 * i;
      b_tile[b_q + 4 * i][b_col] =
          b_col_ok && qb < K4 ? b[static_cast<int64_t>(qb) * N + n0 + b_col] : 0;
    }
    __syncthreads();
    dp4a_tile_step(a_tile, b_tile, tx, ty, acc);
    __syncthreads();
  }

  // Epilogue: thread owns rows m0 + ty + 16i and columns n_first .. n_first+3.
  const int n_first = n0 + kColsPerThread * tx;
  INT8RT_UNROLL
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int64_t m = m0 + ty + kThreadRowStride * i;
    if (m >= M) continue;
    for (int j = 0; j < kColsPerThread && n_first + j < N; ++j) {
      const int64_t off = m * N + n_first + j;
      const int8_t res = ep.residual ? ep.residual[off] : int8_t{0};
      const float t = requantize_dev(acc[i][j], n_first + j, ep, res);
      if (ep.out_type == OutputType::kInt8) {
        static_cast<int8_t*>(y)[off] = static_cast<int8_t>(round_to_s8_dev(t));
      } else {
        static_cast<float*>(y)[off] = t;
      }
    }
  }
}

}  // namespace

std::vector<int32_t> pack_gemm_weights_dp4a(const GemmShape& s, const int8_t* b) {
  const int K4 = div_up(s.K, 4);
  std::vector<int32_t> packed(static_cast<size_t>(K4) * s.N, 0);
  for (int n = 0; n < s.N; ++n) {
    for (int kw = 0; kw < K4; ++kw) {
      int32_t v[4] = {0, 0, 0, 0};
      for (int j = 0; j < 4 && 4 * kw + j < s.K; ++j) {
        v[j] = b[static_cast<int64_t>(n) * s.K + 4 * kw + j];
      }
      packed[static_cast<size_t>(kw) * s.N + n] = pack_s8x4(v[0], v[1], v[2], v[3]);
    }
  }
  return packed;
}

void launch_gemm_s8_dp4a(const GemmShape& s, int64_t M, const int8_t* a, const int32_t* b_packed,
                         const Epilogue& ep, void* y, cudaStream_t stream) {
  if (M == 0) return;
  const dim3 grid(static_cast<unsigned>((M + kTileRows - 1) / kTileRows),
                  static_cast<unsigned>(div_up(s.N, kTileCols)));
  const int N = s.N, K = s.K;
  INT8RT_LAUNCH(gemm_s8_dp4a_kernel, grid, dim3(kTileThreads), stream, M, N, K, a, b_packed, ep, y);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
