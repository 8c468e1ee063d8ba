// The AMX int8 B-tile packers' GEMM case (one group, 1 x 1: the layout of
// gemm_as_conv, conv_amx_pack.h), by 4-byte groups and 16-byte rows instead
// of byte by byte. A MatMul between two activations (attention's keys and
// values, Int8Products) packs its B on every product, so these run once per
// head and batch image on every run: BERT's keys [128][64] and values
// [128][64], about 40% of MiniLM's attention GEMM time at batch 8 with the
// byte loops (RESULTS.md section 170). The same bytes as the byte loops'
// (tests/cpp/test_amx_pack_gemm.cc), every byte of dst written, zeros
// included. Baseline code (SSE2, which every x86-64 CPU has).
#pragma once

#include <cstdint>

#include "kernels/x86/conv_amx_pack.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// Whether L is a GEMM's layout (one group, 1 x 1), which the two below take.
inline bool amx_gemm_layout(const AmxLayout& L) { return L.groups == 1 && L.R == 1 && L.S == 1; }

// pack_amx_oihw's bytes for B given as [N][K] (N = L.kg, K = L.kred): per
// channel n, its row's groups of 4 bytes to consecutive tile rows.
void pack_amx_gemm_nk(const AmxLayout& L, const int8_t* b_nk, int8_t* dst);

// pack_amx_kn's bytes for B given as [K][N]: per 4 rows of B and 16
// channels, the four 16-byte rows interleaved byte by byte into one 64-byte
// tile row (two unpack steps).
void pack_amx_gemm_kn(const AmxLayout& L, const int8_t* b_kn, int8_t* dst);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
