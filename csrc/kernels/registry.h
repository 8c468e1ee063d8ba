// Kernel selection as data (DESIGN.md, "Kernel selection"; oneDNN's ordered
// implementation lists, XNNPACK's kernel naming).
//
// Per op an ORDERED list of candidate kernels, best first, the reference
// kernel last. choose_*() walks the list once per layer (at engine build or
// load, never in a hot loop), skips candidates whose ISA is above the cap or
// that the CPU lacks, asks each remaining one supports(shape, out_type) and
// returns the first that accepts ("" = accepts, else the reason it declines).
//
// The ISA cap is min(best ISA the CPU has, INT8RT_MAX_ISA, set_max_isa()).
// INT8RT_LOG=dispatch (a comma-separated list may name other topics too)
// prints one line per decision to stderr: the choice and every candidate
// passed over, with its reason.
//
// Adding an ISA: new files under kernels/x86 (or cuda), compiled with that
// ISA's flags in their own object library whose CMakeLists.txt defines
// INT8RT_HAVE_<ISA>_KERNELS on the int8rt target, defining a provider
//   void x86::append_conv_kernels_<isa>(std::vector<const ConvKernel*>& list);
// (declared at the bottom of this header) that appends its candidates best
// first; plus one guarded line in the provider table of registry.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/kernel_types.h"

namespace int8rt {
namespace kernels {

// Instruction-set tiers, ordered: a cap at tier T allows kernels of tiers <= T.
// Note kAvxVnni (VEX) and kAvx512Vnni are independent CPU features; a CPU may
// have the higher tier and not the lower (AMD Zen 4), which the per-ISA
// availability check handles.
enum class Isa { kRef = 0, kAvx2, kAvxVnni, kAvx512Vnni, kAmx };
constexpr Isa kAllIsas[] = {Isa::kRef, Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni, Isa::kAmx};

// "ref", "avx2", "avxvnni", "avx512vnni", "amx".
const char* isa_name(Isa isa);
// Parses one of those names (case-insensitive); throws InvalidArgument
// listing the valid names otherwise. `what` prefixes the message.
Isa parse_isa(const std::string& name, const std::string& what = "ISA");

// Whether this CPU (and OS) can run kernels of `isa`:
//   avx2: AVX2+FMA; avxvnni: AVX2+FMA+AVX-VNNI; avx512vnni: AVX512 F/BW/VL/DQ+VNNI;
//   amx: AMX tile+int8 with the Linux permission granted, plus the
//        avx512vnni set (the AMX kernels' epilogue is AVX-512); ref: always.
bool cpu_supports_isa(Isa isa);
// The highest tier the CPU supports.
Isa cpu_max_isa();
// The effective cap: min(cpu_max_isa(), INT8RT_MAX_ISA if set, set_max_isa()
// if set). Throws InvalidArgument if INT8RT_MAX_ISA holds an unknown name.
Isa max_isa();
// Programmatic cap (nullopt removes it). Applies to choices made after the
// call; layers already built keep their kernels. Thread-safe.
void set_max_isa(std::optional<Isa> isa);
// Whether kernels of `isa` may be chosen now: at or below max_isa() and
// supported by the CPU.
bool isa_enabled(Isa isa);
// Whether any kernel of `isa` was compiled into this library.
bool isa_compiled(Isa isa);
// "" if kernels of `isa` may be chosen now, else "CPU lacks <x>" or
// "ISA <x> above cap <y>" (for the other ops' candidate walks and logs).
std::string isa_decline_reason(Isa isa);
// Whether INT8RT_LOG names "dispatch" (or "all"): choices are then printed
// to stderr, one line each, "int8rt dispatch: <op> [...] -> <kernel> (<isa>)".
bool dispatch_log_enabled();

// ---- convolution ----

// A conv layer's weights packed for one kernel. run() is const and
// thread-safe: several execution contexts may run one packed layer at once.
class PackedConv {
 public:
  virtual ~PackedConv() = default;
  // x: [batch][H][W][C] int8 NHWC; y: [batch][out_h][out_w][K] of ep.out_type,
  // which must be an output type the kernel's supports() accepted.
  virtual void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const = 0;
  virtual const ConvShape& shape() const = 0;
};

// One candidate kernel (a stateless singleton).
class ConvKernel {
 public:
  virtual ~ConvKernel() = default;
  // XNNPACK-style: "conv_s8_ref", "conv_s8_1x1_16c4_avx512vnni", ...
  virtual const char* name() const = 0;
  virtual Isa isa() const = 0;
  // "" if the kernel handles this problem, else the reason it declines.
  virtual std::string supports(const ConvShape& shape, OutputType out) const = 0;
  // Packs canonical OIHW int8 weights ([K][C/groups][R][S]) for this kernel;
  // the caller's buffer is not retained.
  virtual std::unique_ptr<PackedConv> pack(const ConvShape& shape,
                                           const int8_t* weights_oihw) const = 0;
};

// The candidate list, best first, reference last (all compiled-in kernels,
// regardless of the cap).
const std::vector<const ConvKernel*>& conv_candidates();
// First eligible candidate (see top of file). Validates the shape. Never
// fails for a valid shape: the reference kernel accepts everything.
const ConvKernel& choose_conv(const ConvShape& shape, OutputType out);
// The same walk over a caller-given list (tests, tools); throws NotSupported
// if no candidate accepts.
const ConvKernel& choose_conv_from(const std::vector<const ConvKernel*>& list,
                                   const ConvShape& shape, OutputType out);
// The candidate called `name`; throws InvalidArgument if unknown, or
// NotSupported if it is above the cap, unsupported by the CPU or declines.
const ConvKernel& conv_kernel_by_name(const std::string& name, const ConvShape& shape,
                                      OutputType out);

// ---- GEMM ----

class PackedGemm {
 public:
  virtual ~PackedGemm() = default;
  // a: [M][K] int8 row-major; y: [M][N] of ep.out_type. Const, thread-safe.
  virtual void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const = 0;
  virtual const GemmShape& shape() const = 0;
};

class GemmKernel {
 public:
  virtual ~GemmKernel() = default;
  virtual const char* name() const = 0;  // "gemm_s8_ref", ...
  virtual Isa isa() const = 0;
  virtual std::string supports(const GemmShape& shape, OutputType out) const = 0;
  // Packs canonical [N][K] int8 weights.
  virtual std::unique_ptr<PackedGemm> pack(const GemmShape& shape,
                                           const int8_t* weights_nk) const = 0;
};

const std::vector<const GemmKernel*>& gemm_candidates();
const GemmKernel& choose_gemm(const GemmShape& shape, OutputType out);
const GemmKernel& choose_gemm_from(const std::vector<const GemmKernel*>& list,
                                   const GemmShape& shape, OutputType out);
const GemmKernel& gemm_kernel_by_name(const std::string& name, const GemmShape& shape,
                                      OutputType out);

// Why a candidate would be passed over right now: "" if eligible, else
// "ISA <x> above cap <y>", "CPU lacks <x>", or the kernel's own reason.
std::string conv_decline_reason(const ConvKernel& k, const ConvShape& shape, OutputType out);
std::string gemm_decline_reason(const GemmKernel& k, const GemmShape& shape, OutputType out);

// Provider functions: each appends its kernels to a list, best first.
void append_conv_kernels_ref(std::vector<const ConvKernel*>& list);
void append_gemm_kernels_ref(std::vector<const GemmKernel*>& list);
namespace x86 {
// AMX: conv_s8_igemm_32x32c4_amx, gemm_s8_32x32c4_amx (kernels/x86/conv_amx.cc).
void append_conv_kernels_amx(std::vector<const ConvKernel*>& list);
void append_gemm_kernels_amx(std::vector<const GemmKernel*>& list);
// AVX512-VNNI: conv_s8_dw_64c_avx512vnni, conv_s8_igemm_6x64c4_avx512vnni,
// gemm_s8_6x64c4_avx512vnni (kernels/x86/x86_candidates.cc).
void append_conv_kernels_avx512vnni(std::vector<const ConvKernel*>& list);
void append_gemm_kernels_avx512vnni(std::vector<const GemmKernel*>& list);
// AVX-VNNI (VEX): conv_s8_igemm_6x16c4_avxvnni (declines depthwise, which
// falls to AVX2's dwconv), gemm_s8_6x16c4_avxvnni.
void append_conv_kernels_avxvnni(std::vector<const ConvKernel*>& list);
void append_gemm_kernels_avxvnni(std::vector<const GemmKernel*>& list);
// AVX2: conv_s8_dw_32c_avx2, conv_s8_igemm_6x16c2_avx2, gemm_s8_6x16c2_avx2.
void append_conv_kernels_avx2(std::vector<const ConvKernel*>& list);
void append_gemm_kernels_avx2(std::vector<const GemmKernel*>& list);
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
