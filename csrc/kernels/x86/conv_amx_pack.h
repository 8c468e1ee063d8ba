// The B operand of the AMX int8 microkernel (amx/igemm_32x32c4.cc) and the
// routines that write it (baseline code): constant conv / GEMM weights once
// at load, and the B of a MatMul between two activations (attention's keys
// or values) on every run, from either of its row-major forms.
//
// Per group, the reduction runs over index red = (r * S + s) * C/groups + c
// (filter tap outer, input channel inner), zero-padded to a multiple of 64
// bytes: kchunks chunks. Per group g, block b of 16 output channels and
// chunk kk, one 1 KiB tile in tdpbssd's B layout:
//   w[g][b][kk][q][l][e] = W[g*Kg + b*16 + l][c][r][s] at red = kk*64 + 4q + e
// (zero past the reduction or past Kg), blocks block_stride bytes apart.
// A GEMM is the 1x1 conv of gemm_as_conv.h (one group, red = k, channel n).
// A conv reading u8 codes (amx::gemm_tile_u8) also needs each channel's
// -128 * sum(w), laid out like the blocks: comp[(g * nbk + b) * 16 + l].
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

struct AmxLayout {
  int groups = 1, kg = 0, cg = 0, R = 1, S = 1;
  int64_t kred = 0;  // R * S * cg
  int kchunks = 0;   // ceil(kred / 64)
  int nbk = 0;       // blocks of 16 channels per group
  int64_t block_stride = 0;

  explicit AmxLayout(const ConvShape& s)
      : groups(s.groups), kg(s.k_per_group()), cg(s.c_per_group()), R(s.R), S(s.S),
        kred(int64_t{s.R} * s.S * s.c_per_group()),
        kchunks(static_cast<int>((kred + amx::kKChunk - 1) / amx::kKChunk)),
        nbk((kg + amx::kBlock - 1) / amx::kBlock),
        block_stride(int64_t{kchunks} * amx::kBlock * amx::kKChunk) {}

  // Bytes of the packed weights.
  int64_t packed_bytes() const { return int64_t{groups} * nbk * block_stride; }
  // Entries of the compensation (amx_compensation).
  int64_t comp_count() const { return int64_t{groups} * nbk * amx::kBlock; }
};

// Writes every byte of dst[0, L.packed_bytes()) from OIHW weights w (for a
// GEMM: [N][K]), zeros included.
void pack_amx_oihw(const AmxLayout& L, const int8_t* w, int8_t* dst);

// Writes every byte of dst[0, L.packed_bytes()) from a GEMM's B given as
// [K][N] row-major (L of gemm_as_conv: one group, 1x1), zeros included: the
// same bytes as pack_amx_oihw of its transpose, without forming it.
void pack_amx_kn(const AmxLayout& L, const int8_t* b_kn, int8_t* dst);

// Writes comp[0, L.comp_count()): -128 * the sum of each output channel's
// OIHW weights w (shift_compensation, mod 2^32), 0 past K/groups, the start
// of the sums of rows of u8 codes (AmxTile::acc_init).
void amx_compensation(const AmxLayout& L, const int8_t* w, int32_t* comp);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
