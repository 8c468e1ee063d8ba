// The 64x64 DP4A block tile shared by the implicit-GEMM conv and the GEMM:
// a block of 256 threads computes a 64 (rows: output pixels / GEMM rows) x
// 64 (output channels / GEMM columns) tile of int32 accumulators, stepping
// through the reduction 8 words (32 int8 values) at a time through two
// shared-memory tiles:
//   a_tile[q][m]  8 x 64 words, the rows' reduction words
//   b_tile[q][n]  8 x 64 words, the columns' packed weights
// Thread t = 16*ty + tx owns rows ty + 16*i (i < 4) and columns 4*tx + j
// (j < 4): 16 accumulators, 16 DP4A per reduction word. Rows strided by 16 keep
// the 16 threads of a half-warp on 16 different rows when storing, columns
// contiguous give 4 channels = one NC/4HW4 word per row.
#pragma once

#include <cstdint>

#include "kernels/cuda/cuda_common.h"

namespace int8rt {
namespace kernels {
namespace cuda {

constexpr int kTileRows = 64;
constexpr int kTileCols = 64;
constexpr int kTileWords = 8;
constexpr int kTileThreads = 256;
constexpr int kRowsPerThread = 4;  // rows ty + 16*i
constexpr int kColsPerThread = 4;  // columns 4*tx + j
constexpr int kThreadRowStride = kTileRows / kRowsPerThread;  // 16

// acc[i][j] += sum over the tile's 8 words of a_tile[q][ty+16i] . b_tile[q][4tx+j].
__device__ __forceinline__ void dp4a_tile_step(const int32_t (&a_tile)[kTileWords][kTileRows],
                                               const int32_t (&b_tile)[kTileWords][kTileCols],
                                               int tx, int ty,
                                               int32_t (&acc)[kRowsPerThread][kColsPerThread]) {
  INT8RT_UNROLL
  for (int q = 0; q < kTileWords; ++q) {
    int32_t a[kRowsPerThread], b[kColsPerThread];
    INT8RT_UNROLL
    for (int i = 0; i < kRowsPerThread; ++i) a[i] = a_tile[q][ty + kThreadRowStride * i];
    INT8RT_UNROLL
    for (int j = 0; j < kColsPerThread; ++j) b[j] = b_tile[q][kColsPerThread * tx + j];
    INT8RT_UNROLL
    for (int i = 0; i < kRowsPerThread; ++i) {
      INT8RT_UNROLL
      for (int j = 0; j < kColsPerThread; ++j) acc[i][j] = __dp4a(a[i], b[j], acc[i][j]);
    }
  }
}

}  // namespace cuda
}  // namespace kernels
}  // namespace int8rt
