// The AMX provider (registry.h): baseline code, compiled into int8rt without
// ISA flags when the folder's microkernels were built (INT8RT_HAVE_AMX_KERNELS).
//   conv_s8: conv_s8_igemm_32x32c4_amx (declines depthwise and shapes whose
//            tiles would be under 25% useful; x86/conv_amx.cc; takes u8-coded
//            tensors, reading u8-coded inputs with tdpbusd: gemm_tile_u8)
//   gemm_s8: gemm_s8_32x32c4_amx
//   gemm_bf16: gemm_bf16_32x32_amx (TDPBF16PS; activations converted by the
//            AVX512-BF16 converters, so it needs that too and is built only
//            with them)
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/abi/gemm_bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_amx_kernels(KernelRegistry& r) {
  static const AmxUkernel uk = {Isa::kAmx, "conv_s8_igemm_32x32c4_amx", "gemm_s8_32x32c4_amx",
                                amx::gemm_tile, amx::gemm_tile_u8};
  static const AmxConvKernel conv(uk);
  static const AmxGemmKernel gemm(uk);
  r.add(conv, gemm);
#if defined(INT8RT_HAVE_AVX512BF16_KERNELS)
  static const Bf16PanelKernel gemm_bf16("gemm_bf16_32x32_amx", Isa::kAmx, amx::kBf16MR, amx::kBf16NR,
                                         amx::gemm_bf16_32x32, avx512bf16::bf16_pairs, avx512bf16::bf16_rows,
                                         amx::kBf16PairBlock, Bf16Needs::kAmxBf16);
  r.add(gemm_bf16);
#endif
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
