// What the element-wise int8 families (eltwise_s8.h) decide beyond their
// ISA tier: lookup_channels_s8's VBMI candidate declines on CPUs without
// AVX512-VBMI (an avx512-tier CPU need not have it: Skylake-SP has not).
#include "kernels/eltwise_s8.h"

#include "core/cpu_features.h"

namespace int8rt {
namespace kernels {

std::string LookupChannelsS8Kernel::supports() const {
  return needs_vbmi_ && !cpu_features().avx512vbmi ? "CPU lacks avx512vbmi" : "";
}

}  // namespace kernels
}  // namespace int8rt
