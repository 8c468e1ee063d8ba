// What the element-wise int8 families (eltwise_s8.h) decide beyond their
// ISA tier: the lookup_s8 and lookup_channels_s8 VBMI candidates decline on
// CPUs without AVX512-VBMI (an avx512-tier CPU need not have it: Skylake-SP
// has not).
#include "kernels/eltwise_s8.h"

#include "core/cpu_features.h"

namespace int8rt {
namespace kernels {

std::string LookupKernelBase::supports() const {
  return needs_vbmi_ && !cpu_features().avx512vbmi ? "CPU lacks avx512vbmi" : "";
}

}  // namespace kernels
}  // namespace int8rt
