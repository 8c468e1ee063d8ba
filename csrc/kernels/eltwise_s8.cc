// What the element-wise int8 families (eltwise_s8.h) decide beyond their
// ISA tier: the lookup_s8 and lookup_channels_s8 VBMI candidates decline on
// CPUs without AVX512-VBMI (an avx512-tier CPU need not have it: Skylake-SP
// has not).
#include "kernels/eltwise_s8.h"

#include "core/cpu_features.h"

namespace int8rt {
namespace kernels {

namespace {
std::string vbmi_support(bool needs_vbmi) {
  return needs_vbmi && !cpu_features().avx512vbmi ? "CPU lacks avx512vbmi" : "";
}
}  // namespace

std::string LookupS8Kernel::supports() const { return vbmi_support(needs_vbmi_); }
std::string LookupChannelsS8Kernel::supports() const { return vbmi_support(needs_vbmi_); }

}  // namespace kernels
}  // namespace int8rt
