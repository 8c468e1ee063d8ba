// The squeeze-and-excitation gate's table form over rows of C channels,
// AVX2 (ref::channel_mul_table_s8; contract in kernels/abi/eltwise_s8.h
// ChannelMulTableRowFn): x is read through a 256-entry float table, times
// the image's gate row, quantized to the output scale:
//   y[r][c] = rne(min(max((table[x[r][c] + 128] * g[c]) * inv_scale, -128), 127))
// 8 channels a step: the 8 table entries loaded one by one into a ymm
// (s8_convert.h's look_up8: on Zen 3 one vgatherdps of 8 took 3.4x the time
// of eight scalar loads and inserts, 0.88 against 0.26 ms for 14 x 14 x 480
// x 8 values), then the reference's two products in its order and its clamp
// (compare + blend: NaN takes -128) and rounding (s8_convert.h), so the same
// bytes. A last partial block of C looks up a zero-padded copy of its codes
// (code 0 reads a table entry) and stores its valid bytes only. This tier ran
// the scalar reference before: MobileNetV3's five SE gates on hard-swish
// codes took 1.4-1.5 of its 11-12 ms of layers at batch 1 (RESULTS.md
// section 233).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx2/lanes8.h"
#include "kernels/x86/avx2/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

void channel_mul_table_rows(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                            float inv_scale, int8_t* y) {
  const float* centre = table + 128;
  const __m256 inv = _mm256_set1_ps(inv_scale), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  const int64_t full = C / 8 * 8;
  const int tail = static_cast<int>(C - full);
  const __m256i tail_lanes = lanes(tail);
  for (int64_t r = 0; r < rows; ++r, x += C, y += C) {
    for (int64_t c = 0; c < full; c += 8) {
      const __m256 v = look_up8(centre, x + c);
      const __m256 t = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_loadu_ps(g + c)), inv);
      store_s8x8(y + c, to_s8x8(clamp_ps(t, lo, hi)));
    }
    if (tail > 0) {
      alignas(8) int8_t xb[8] = {}, yb[8];
      std::memcpy(xb, x + full, static_cast<size_t>(tail));
      const __m256 v = look_up8(centre, xb);
      const __m256 t = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_maskload_ps(g + full, tail_lanes)), inv);
      store_s8x8(yb, to_s8x8(clamp_ps(t, lo, hi)));
      std::memcpy(y + full, yb, static_cast<size_t>(tail));
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
