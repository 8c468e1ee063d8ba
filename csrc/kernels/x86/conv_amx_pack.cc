// The AMX int8 B-tile packers (conv_amx_pack.h). Each clears the whole
// buffer, then writes the values: padding bytes are zero (tdpbssd multiplies
// them by A's zero padding), and a buffer that held another product's B of
// the same shape is packed again in place.
#include "kernels/x86/conv_amx_pack.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/gemm_s8_pairs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Offset of (reduction index red, channel l of its block) within one block:
// tile kk = red / 64, its row q = red % 64 / 4, so the row of 64 bytes is
// kk * 16 + q = red / 4, then 4 bytes per channel.
int64_t in_block(int64_t red, int l) { return red / 4 * amx::kKChunk + l * 4 + red % 4; }

}  // namespace

void pack_amx_oihw(const AmxLayout& L, const int8_t* w, int8_t* dst) {
  std::memset(dst, 0, static_cast<size_t>(L.packed_bytes()));
  const int taps = L.R * L.S;
  if (taps == 1) {  // red = c: each channel's row is its reduction, in 4-byte groups (see pack_amx_kn)
    const int64_t c4 = L.cg / 4;
    for (int g = 0; g < L.groups; ++g) {
      for (int k = 0; k < L.kg; ++k) {
        int8_t* block = dst + (int64_t{g} * L.nbk + k / amx::kBlock) * L.block_stride;
        const int l = k % amx::kBlock;
        const int8_t* wk = w + (int64_t{g} * L.kg + k) * L.cg;
        for (int64_t q = 0; q < c4; ++q) std::memcpy(block + (q * amx::kBlock + l) * 4, wk + 4 * q, 4);
        for (int64_t c = 4 * c4; c < L.cg; ++c) block[in_block(c, l)] = wk[c];
      }
    }
    return;
  }
  for (int g = 0; g < L.groups; ++g) {
    for (int k = 0; k < L.kg; ++k) {
      int8_t* block = dst + (int64_t{g} * L.nbk + k / amx::kBlock) * L.block_stride;
      const int l = k % amx::kBlock;
      const int8_t* wk = w + (int64_t{g} * L.kg + k) * L.cg * taps;  // [cg][R][S]
      for (int c = 0; c < L.cg; ++c) {
        for (int tap = 0; tap < taps; ++tap) {
          block[in_block(int64_t{tap} * L.cg + c, l)] = wk[int64_t{c} * taps + tap];
        }
      }
    }
  }
}

// The GEMM packers (pack_amx_kn, and pack_amx_oihw of a 1x1 / [N][K]) run on
// every product of two activations (attention's keys and values,
// PerRunAmxGemm), so they move whole 4-byte groups (4 reduction bytes of one
// channel: the unit of the B tile, one 32-bit store) or 16-byte rows (SSE2,
// baseline) rather than bytes; the byte-wise packing made AMX attention
// products 2x slower than AVX512-VNNI's (RESULTS.md sections 168, 170).

void pack_amx_kn(const AmxLayout& L, const int8_t* b_kn, int8_t* dst) {
  // Per 4 rows of B and 16 channels, the four 16-byte rows interleaved byte
  // by byte (two unpack steps) into one 64-byte tile row: channel n's 4
  // bytes adjacent. Rows past K and lanes past N in the last block are zero.
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

void amx_compensation(const AmxLayout& L, const int8_t* w, int32_t* comp) {
  for (int g = 0; g < L.groups; ++g) {
    int32_t* cg = comp + int64_t{g} * L.nbk * amx::kBlock;
    for (int k = 0; k < L.nbk * amx::kBlock; ++k) {
      cg[k] = k < L.kg ? shift_compensation(w + (int64_t{g} * L.kg + k) * L.kred, L.kred) : 0;
    }
  }
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
