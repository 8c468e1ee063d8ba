// The two AVX-VNNI instructions of this folder's kernels, and their namespace.
//
// Natively (the library, -mavxvnni): VEX vpdpbusd / vpdpwssd,
// _mm256_dpbusd_avx_epi32 / _mm256_dpwssd_avx_epi32, namespace avxvnni.
// Two test-only twins of the same kernel source:
//  - INT8RT_AVXVNNI_EVEX_TWIN (compiled with -mavx512vl -mavx512vnni): the
//    EVEX encodings of the same instructions, _mm256_dpbusd_epi32 /
//    _mm256_dpwssd_epi32, whose semantics the SDM defines identically (u8 x
//    s8 groups of four, or s16 x s16 pairs, summed into int32 without
//    saturation), namespace avxvnni_evex: a CPU with AVX512-VNNI but
//    without AVX-VNNI (AMD Zen 4) runs the real kernel source on hardware
//    dot products.
//  - INT8RT_X86_EMULATED (compiled with -mavx2 -mfma): the exact AVX2
//    emulation of kernels/x86/emulation/avxvnni_emulation.h, namespace
//    emulated::avxvnni: every AVX2 CPU runs the kernel source.
// Neither twin ever collides with the library's copy.
#pragma once

#include <immintrin.h>

#if defined(INT8RT_AVXVNNI_EVEX_TWIN)
#define INT8RT_AVXVNNI_NS avxvnni_evex
#define INT8RT_DPBUSD256(acc, u8, s8) _mm256_dpbusd_epi32(acc, u8, s8)
#define INT8RT_DPWSSD256(acc, a, b) _mm256_dpwssd_epi32(acc, a, b)
#elif defined(INT8RT_X86_EMULATED)
#include "kernels/x86/emulation/avxvnni_emulation.h"
#define INT8RT_AVXVNNI_NS emulated::avxvnni
#define INT8RT_DPBUSD256(acc, u8, s8) ::int8rt::kernels::x86::emulated::dpbusd256(acc, u8, s8)
#define INT8RT_DPWSSD256(acc, a, b) ::int8rt::kernels::x86::emulated::dpwssd256(acc, a, b)
#else
#define INT8RT_AVXVNNI_NS avxvnni
#define INT8RT_DPBUSD256(acc, u8, s8) _mm256_dpbusd_avx_epi32(acc, u8, s8)
#define INT8RT_DPWSSD256(acc, a, b) _mm256_dpwssd_avx_epi32(acc, a, b)
#endif
