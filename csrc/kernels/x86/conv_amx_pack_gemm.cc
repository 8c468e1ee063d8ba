// The AMX B-tile packers' GEMM case (conv_amx_pack_gemm.h). Offsets as
// conv_amx_pack.cc's in_block: (reduction index k, channel n) goes to block
// n / 16, byte k / 4 * 64 + (n % 16) * 4 + k % 4 of it (tile row k / 4 of
// the block's 16-row tiles, laid end to end).
#include "kernels/x86/conv_amx_pack_gemm.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstring>

namespace int8rt {
namespace kernels {
namespace x86 {

void pack_amx_gemm_nk(const AmxLayout& L, const int8_t* b_nk, int8_t* dst) {
  std::memset(dst, 0, static_cast<size_t>(L.packed_bytes()));
  const int64_t K = L.kred, full = K / 4, rest = K % 4;
  constexpr int64_t kRow = amx::kKChunk;  // bytes per tile row: 16 channels x 4
  for (int n = 0; n < L.kg; ++n) {
    int8_t* col = dst + int64_t{n / amx::kBlock} * L.block_stride + (n % amx::kBlock) * 4;
    const int8_t* row = b_nk + n * K;
    for (int64_t g = 0; g < full; ++g) std::memcpy(col + g * kRow, row + 4 * g, 4);
    for (int64_t e = 0; e < rest; ++e) col[full * kRow + e] = row[4 * full + e];
  }
}

void pack_amx_gemm_kn(const AmxLayout& L, const int8_t* b_kn, int8_t* dst) {
  std::memset(dst, 0, static_cast<size_t>(L.packed_bytes()));
  const int N = L.kg;
  const int64_t K = L.kred;
  for (int64_t k = 0; k < K; k += 4) {
    const int8_t* rows[4];
    for (int64_t i = 0; i < 4; ++i) rows[i] = k + i < K ? b_kn + (k + i) * N : nullptr;
    int8_t* out = dst + k / 4 * amx::kKChunk;
    for (int n0 = 0; n0 < N; n0 += amx::kBlock, out += L.block_stride) {
      const int count = std::min(amx::kBlock, N - n0);
      __m128i r[4];
      for (int i = 0; i < 4; ++i) {
        if (!rows[i]) {
          r[i] = _mm_setzero_si128();
        } else if (count == amx::kBlock) {
          r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i] + n0));
        } else {  // the last block's channels, zero past N
          alignas(16) int8_t part[16] = {};
          std::memcpy(part, rows[i] + n0, static_cast<size_t>(count));
          r[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(part));
        }
      }
      // Channel n's 4 bytes (rows 0..3) adjacent: bytes of rows 0/1 and 2/3
      // paired, then the pairs paired.
      const __m128i p01lo = _mm_unpacklo_epi8(r[0], r[1]), p01hi = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i p23lo = _mm_unpacklo_epi8(r[2], r[3]), p23hi = _mm_unpackhi_epi8(r[2], r[3]);
      __m128i* o = reinterpret_cast<__m128i*>(out);
      _mm_storeu_si128(o + 0, _mm_unpacklo_epi16(p01lo, p23lo));  // channels 0..3
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(p01lo, p23lo));  // 4..7
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(p01hi, p23hi));  // 8..11
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(p01hi, p23hi));  // 12..15
    }
  }
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
