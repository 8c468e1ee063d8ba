// Kernel selection controls and the CPU feature report (DESIGN.md, "Kernel
// selection"): the C++ face of int8rt.kernels.
//
// int8rt picks one kernel per layer from an ordered candidate list (best ISA
// first, the reference kernel last) when an engine is built or loaded. The
// ISA tier it may use is capped by the lowest of: what this CPU supports, the
// INT8RT_MAX_ISA environment variable, and set_max_isa(). Tier names, lowest
// first: "ref", "avx2", "avxvnni", "avx512", "avx512vnni", "avx512bf16",
// "amx"; a cap holds back every tier above it (at "avx512vnni" no BF16
// vector kernel runs). INT8RT_LOG=dispatch
// prints each choice (and why other candidates declined) to stderr.
//
// Thread safety: every function may be called from any thread; a new cap
// applies to kernels chosen after the call (layers already built keep theirs).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace int8rt {

// What the CPU and the OS let int8rt use (detection: core/cpu_features.cc).
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
  bool avx512vbmi = false;  // vpermb, vpermi2b/vpermt2b (Ice Lake, Zen 4)
  bool avx512_bf16 = false;  // vdpbf16ps, vcvtne2ps2bf16 (Cooper Lake, Sapphire Rapids, Zen 4)
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

// Detected on first call, then cached for the process.
const CpuFeatures& cpu_features();

// The effective cap's tier name: min(the CPU's best tier, INT8RT_MAX_ISA,
// set_max_isa()). Throws InvalidArgument if INT8RT_MAX_ISA is not a tier name.
std::string get_max_isa();

// Caps kernel selection at the tier `isa` names (case-insensitive), the
// programmatic mirror of INT8RT_MAX_ISA; nullopt removes this cap (the
// environment variable and the CPU still apply). Throws InvalidArgument,
// listing the tier names, for an unknown name.
void set_max_isa(const std::optional<std::string>& isa);

// One ISA tier's state.
struct IsaInfo {
  std::string name;       // "ref", "avx2", ...
  bool cpu = false;       // this CPU (and OS) can run its kernels
  bool compiled = false;  // kernels of this tier are built into the library
  bool enabled = false;   // may be chosen now (under the cap and on this CPU)
};

// Every tier, lowest first.
std::vector<IsaInfo> isa_info();

}  // namespace int8rt
