// The nchw16c_bf16 family's candidate check (kernels/nchw16c_bf16.h).
#include "kernels/nchw16c_bf16.h"

#include "core/cpu_features.h"

namespace int8rt {
namespace kernels {

std::string Nchw16cBf16Kernel::supports() const {
  const CpuFeatures& f = cpu_features();
  if (needs_amx_bf16_ && !f.amx_bf16) return "CPU lacks amx_bf16";
  return needs_bf16_ && !f.avx512_bf16 ? "CPU lacks avx512_bf16" : "";
}

}  // namespace kernels
}  // namespace int8rt
