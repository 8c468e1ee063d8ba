// Host-side conversions between the engine's int8 NHWC tensors and the CUDA
// kernels' NC/4HW4 layout (kernels/cuda/cuda_common.h): byte j of the word
// at (n, c4, h, w) is channel 4*c4 + j; lanes of channels >= C are written 0.
// Used by the CUDA runner where a tensor crosses between the GPU and a layer
// that runs on the host.
#pragma once

#include <cstdint>
#include <cstring>

namespace int8rt {
namespace engine {
namespace cuda {

inline int64_t nc4hw4_bytes(int64_t N, int64_t HW, int64_t C) { return N * ((C + 3) / 4) * HW * 4; }

// src: [N][HW][C]; dst: nc4hw4_bytes(N, HW, C) bytes.
inline void nhwc_to_nc4hw4(int64_t N, int64_t HW, int64_t C, const int8_t* src, int8_t* dst) {
  const int64_t C4 = (C + 3) / 4;
  std::memset(dst, 0, static_cast<size_t>(nc4hw4_bytes(N, HW, C)));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < HW; ++p) {
      const int8_t* px = src + (n * HW + p) * C;
      for (int64_t c = 0; c < C; ++c) dst[((n * C4 + c / 4) * HW + p) * 4 + c % 4] = px[c];
    }
  }
}

// The inverse (padding lanes ignored).
inline void nc4hw4_to_nhwc(int64_t N, int64_t HW, int64_t C, const int8_t* src, int8_t* dst) {
  const int64_t C4 = (C + 3) / 4;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < HW; ++p) {
      int8_t* px = dst + (n * HW + p) * C;
      for (int64_t c = 0; c < C; ++c) px[c] = src[((n * C4 + c / 4) * HW + p) * 4 + c % 4];
    }
  }
}

}  // namespace cuda
}  // namespace engine
}  // namespace int8rt
