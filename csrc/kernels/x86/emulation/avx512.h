// The AVX-512 intrinsics as the AVX-512 kernel files that have an emulated
// twin spell them (avx512vnni/epilogue.h, reached by the AMX kernels, and
// avx512bf16/*.cc), from one of two places chosen at compile time:
//
//   native (the library, compiled with the tier's AVX-512 flags):
//     <immintrin.h>; INT8RT_X86_NS(isa) is the tier's namespace `isa`.
//   INT8RT_X86_EMULATED (tests, any x86-64 CPU, baseline flags):
//     kernels/x86/emulation/avx512_emulation.h, the SDM's semantics in
//     C++; INT8RT_X86_NS(isa) is `emulated::isa`, so the twin's symbols
//     never collide with the library's and, inside it, the intrinsics'
//     names find the emulation (int8rt::kernels::x86::emulated).
//
// The kernel text is the same in both builds; only this switch differs.
#pragma once

#if defined(INT8RT_X86_EMULATED)
#include "kernels/x86/emulation/avx512_emulation.h"
#define INT8RT_X86_NS(isa) emulated::isa
#else
#include <immintrin.h>
#define INT8RT_X86_NS(isa) isa
#endif
