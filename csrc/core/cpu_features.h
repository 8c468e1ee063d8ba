// What the CPU and the OS let int8rt use, detected once per process.
//
// x86: CPUID feature bits (named, see cpu_features.cc), checked against XCR0
// (XGETBV) so a feature counts only when the OS saves its register state
// (YMM for AVX*, opmask+ZMM for AVX-512, tile config+data for AMX); AMX also
// needs Linux's per-process permission, requested once through
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). This follows ONNX
// Runtime MLAS's platform detection. Other architectures: everything false.
// Thread safety: cpu_features() may be called from any thread.
#pragma once

#include <string>

namespace int8rt {

struct CpuFeatures {
  // Usable features (CPU has them AND the OS enabled their state).
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_vnni = false;  // EVEX vpdpbusd
  bool avx_vnni = false;     // VEX vpdpbusd (Alder Lake / Sapphire Rapids and later)
  bool amx_tile = false;     // also requires the Linux tile-data permission
  bool amx_int8 = false;
  bool amx_bf16 = false;

  // OS state (XCR0) and permission, for diagnostics.
  bool os_saves_ymm = false;
  bool os_saves_zmm = false;
  bool os_saves_tiles = false;
  bool amx_permission = false;  // arch_prctl granted XTILEDATA (Linux)

  std::string vendor;  // CPUID vendor string, e.g. "AuthenticAMD"; "" off x86
};

// Detected on first call, then cached.
const CpuFeatures& cpu_features();

}  // namespace int8rt
