// The AVX-VNNI (VEX) provider (registry.h): baseline code, compiled into
// int8rt without ISA flags when the folder's microkernels were built
// (INT8RT_HAVE_AVXVNNI_KERNELS).
//   conv_s8: conv_s8_dw_4x16_avxvnni (depthwise),
//            conv_s8_igemm_6x16c4_avxvnni (declines depthwise; inputs known
//            to hold no negative value, or held as u8 codes: its unshifted
//            twin, igemm_6x16c4.cc's igemm_u8_fn; both take u8-coded tensors)
//   gemm_s8: gemm_s8_6x16c4_avxvnni
//   gemm_u8s8: gemm_u8s8_6x16c4_avxvnni (x86/gemm_u8s8.cc's driver)
// Element-wise int8 ops, pooling and SGEMM have no kernel of this tier: with
// the cap at avxvnni they run AVX2's or the reference kernels.
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/avxvnni/igemm_ukernel.h"
#include "kernels/x86/gemm_u8s8_driver.h"
#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_avxvnni_kernels(KernelRegistry& r) {
  static const IgemmUkernel u8_uk =
      avxvnni::igemm_ukernel("conv_s8_igemm_6x16c4u_avxvnni", "", avxvnni::igemm_u8_fn, /*unsigned_rows=*/true, nullptr);
  static const IgemmUkernel uk = avxvnni::igemm_ukernel("conv_s8_igemm_6x16c4_avxvnni", "gemm_s8_6x16c4_avxvnni",
                                                        avxvnni::igemm_fn, /*unsigned_rows=*/false, &u8_uk);
  static const DwUkernel dw_uk = {Isa::kAvxVnni, "conv_s8_dw_4x16_avxvnni", avxvnni::kDwBlock,
                                  avxvnni::dwconv_row};
  static const DwConvKernel dw(dw_uk);
  static const IgemmConvKernel conv(uk);
  static const IgemmGemmKernel gemm(uk);
  static const X86GemmU8S8Kernel gemm_u8s8("gemm_u8s8_6x16c4_avxvnni", Isa::kAvxVnni, avxvnni::gemm_u8s8_fn,
                                           avxvnni::kU8S8MR, avxvnni::kU8S8NB);
  r.add(dw, conv, gemm, gemm_u8s8);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
