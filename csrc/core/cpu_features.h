// What the CPU and the OS let int8rt use, detected once per process.
//
// x86: CPUID feature bits (named, see cpu_features.cc), checked against XCR0
// (XGETBV) so a feature counts only when the OS saves its register state
// (YMM for AVX*, opmask+ZMM for AVX-512, tile config+data for AMX); AMX also
// needs Linux's per-process permission, requested once through
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). This follows ONNX
// Runtime MLAS's platform detection. Other architectures: everything false.
// Thread safety: cpu_features() may be called from any thread.
//
// The CpuFeatures struct and cpu_features() are public API (int8rt/isa.h);
// this header is what the library's own code includes.
#pragma once

#include "int8rt/isa.h"
