// The AMX int8 B-tile packers (conv_amx_pack.h). Each clears the whole
// buffer, then writes the values: padding bytes are zero (tdpbssd multiplies
// them by A's zero padding), and a buffer that held another product's B of
// the same shape is packed again in place.
#include "kernels/x86/conv_amx_pack.h"

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
// channel: the unit of the B tile, one 32-bit store) rather than bytes; the
// byte-wise packing made AMX attention products 2x slower than AVX512-VNNI's
// (RESULTS.md section 168).

void pack_amx_kn(const AmxLayout& L, const int8_t* b_kn, int8_t* dst) {
  const int N = L.kg;
  const int64_t K = L.kred, k4 = K / 4;
  // Channel n's groups land at block n / 16, word (g * 16 + n % 16); a
  // partial last group and the groups past K are zero, and so are the lanes
  // past N in the last block.
  std::memset(dst, 0, static_cast<size_t>(L.packed_bytes()));
  for (int64_t g = 0; g < k4; ++g) {
    const uint8_t* r0 = reinterpret_cast<const uint8_t*>(b_kn + 4 * g * N);
    const uint8_t* r1 = r0 + N;
    const uint8_t* r2 = r1 + N;
    const uint8_t* r3 = r2 + N;
    for (int n = 0; n < N; ++n) {
      const uint32_t word = uint32_t{r0[n]} | uint32_t{r1[n]} << 8 | uint32_t{r2[n]} << 16 | uint32_t{r3[n]} << 24;
      std::memcpy(dst + int64_t{n / amx::kBlock} * L.block_stride + (g * amx::kBlock + n % amx::kBlock) * 4, &word, 4);
    }
  }
  for (int64_t k = 4 * k4; k < K; ++k) {  // the partial last group, byte by byte
    for (int n = 0; n < N; ++n) {
      dst[int64_t{n / amx::kBlock} * L.block_stride + in_block(k, n % amx::kBlock)] = b_kn[k * N + n];
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
