// The squeeze-and-excitation gate's table form over rows of C channels
// (ref::channel_mul_table_s8, contract in kernels/abi/eltwise_s8.h
// ChannelMulTableRowFn), AVX-512 F/BW + VBMI: the row pass of images with
// too few pixels for per-channel tables (x86::kChannelTablePixels).
//   y[r][c] = rne(min(max((table[x[r][c] + 128] * g[c]) * inv_scale, -128), 127))
// 64 channels a step: TablePlanes' lookup (8 byte permutes, 4 blends and 8
// unpacks for 64 floats, against 4 x (8 permutes + 7 blends) through
// Table256 in add_s8_64.cc's channel_mul_table_rows) leaves the floats in
// to_s8_x4_packed's order, so the gate row is laid out in that order once
// per call (to_pack_order) and the packs return the codes in channel order:
// per 64 values 8 products, 4 min, 4 conversions and 3 packs. The same float
// operations in the same order as the reference, so the same bytes.
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx512/s8_convert.h"
#include "kernels/x86/avx512/table_planes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

void channel_mul_table_rows_vbmi(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                                 float inv_scale, int8_t* y) {
  const TablePlanes planes(table);
  const int64_t blocks = (C + 63) / 64;
  thread_local std::vector<float> storage;  // the gate row in pack order (grown once)
  if (storage.size() < static_cast<size_t>(blocks * 64 + 16)) storage.resize(static_cast<size_t>(blocks * 64 + 16));
  float* gp = storage.data();
  for (int64_t b = 0; b < blocks; ++b) to_pack_order(g + 64 * b, C - 64 * b, gp + 64 * b);
  const __m512 inv = _mm512_set1_ps(inv_scale);
  for (int64_t r = 0; r < rows; ++r, x += C, y += C) {
    for (int64_t b = 0; b < blocks; ++b) {
      const __mmask64 k = mask64(C - 64 * b);
      __m512 v[4];
      planes.look_up(_mm512_maskz_loadu_epi8(k, x + 64 * b), v);
      for (int q = 0; q < 4; ++q) v[q] = _mm512_mul_ps(_mm512_mul_ps(v[q], _mm512_loadu_ps(gp + 64 * b + 16 * q)), inv);
      _mm512_mask_storeu_epi8(y + 64 * b, k, to_s8_x4_packed(v));
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
