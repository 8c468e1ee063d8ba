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

void pack_amx_kn(const AmxLayout& L, const int8_t* b_kn, int8_t* dst) {
  std::memset(dst, 0, static_cast<size_t>(L.packed_bytes()));
  const int N = L.kg;
  for (int64_t k = 0; k < L.kred; ++k) {
    const int8_t* row = b_kn + k * N;
    for (int n = 0; n < N; ++n) {
      dst[int64_t{n / amx::kBlock} * L.block_stride + in_block(k, n % amx::kBlock)] = row[n];
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
