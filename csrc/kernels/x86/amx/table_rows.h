// The epilogue's table step (TileEpilogue::table, kernel_types.h's
// Epilogue::table) for the AMX GEMM microkernel (amx/igemm_32x32c4.cc): the
// int8 output bytes of one step, `rows` rows of n <= 64 bytes `stride`
// apart, each q replaced in place by table[q + 128], while they are in L1
// (BERT's GELU table after FC1: no pass of its own over the output).
//
// Natively the same five instructions per 64 values as the table layer's
// kernel (avx512/lookup_s8_64_vbmi.cc): u = q xor 0x80, vpermi2b on each
// half of the table, u's top bit picks the half. AVX512-VBMI is enabled for
// this function alone (every AMX CPU has it; the driver's applies_table()
// checks it, x86/conv_amx.cc). In the emulated twin (INT8RT_X86_EMULATED,
// tests) the same lookup as a byte loop, table[(uint8_t)(q ^ 0x80)].
#pragma once

#include <cstdint>

#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

#if defined(INT8RT_X86_EMULATED)
inline void table_rows(int8_t* y, int64_t stride, int rows, int n, const int8_t* table) {
  for (int i = 0; i < rows; ++i) {
    int8_t* r = y + i * stride;
    for (int l = 0; l < n; ++l) r[l] = table[static_cast<uint8_t>(r[l] ^ 0x80)];
  }
}
#else
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) inline void table_rows(int8_t* y, int64_t stride, int rows,
                                                                             int n, const int8_t* table) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __mmask64 m = n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
  for (int i = 0; i < rows; ++i) {
    int8_t* r = y + i * stride;
    const __m512i u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, r), flip);  // q + 128
    const __m512i lo = _mm512_permutex2var_epi8(t0, u, t1);                  // table[u & 127]
    const __m512i hi = _mm512_permutex2var_epi8(t2, u, t3);                  // table[128 + (u & 127)]
    _mm512_mask_storeu_epi8(r, m, _mm512_mask_mov_epi8(lo, _mm512_movepi8_mask(u), hi));
  }
}
#endif

}  // namespace
}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
