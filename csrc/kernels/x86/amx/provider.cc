// The AMX provider (registry.h): baseline code, compiled into int8rt without
// ISA flags when the folder's microkernels were built (INT8RT_HAVE_AMX_KERNELS).
//   conv_s8: conv_s8_igemm_32x32c4_amx (declines depthwise and shapes whose
//            tiles would be under 15% useful read in place, 25% gathered;
//            x86/conv_amx.cc; takes u8-coded
//            tensors, reading u8-coded inputs with tdpbusd: gemm_tile_u8)
//   gemm_s8: gemm_s8_32x32c4_amx
//   gemm_bf16: gemm_bf16_32x32_amx (TDPBF16PS; activations converted by the
//            AVX512-BF16 converters, so it needs that too and is built only
//            with them)
//   nchw16c_bf16: nchw16c_bf16_amx (the channel-blocked 1x1 and dense BF16
//            convs on TDPBF16PS tiles, amx/conv_nchw16c_bf16_32x32.cc; the
//            depthwise conv, max pool, mean and entry conversion are the
//            AVX512-BF16 kernels'; same build condition and CPU check)
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/abi/gemm_bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/nchw16c_bf16.h"
#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_amx_kernels(KernelRegistry& r) {
  static const AmxUkernel uk = {Isa::kAmx, "conv_s8_igemm_32x32c4_amx", "gemm_s8_32x32c4_amx",
                                amx::gemm_tile, amx::gemm_tile_u8, amx::conv_direct_strip, amx::conv_direct_strip_u8};
  static const AmxConvKernel conv(uk);
  static const AmxGemmKernel gemm(uk);
  r.add(conv, gemm);
#if defined(INT8RT_HAVE_AVX512BF16_KERNELS)
  static const Bf16PanelKernel gemm_bf16("gemm_bf16_32x32_amx", Isa::kAmx, amx::kBf16MR, amx::kBf16NR,
                                         amx::gemm_bf16_32x32, avx512bf16::bf16_pairs, avx512bf16::bf16_rows,
                                         amx::kBf16PairBlock, Bf16Needs::kAmxBf16, nullptr, /*col_runs=*/true);
  static const Nchw16cBf16Kernel nchw16c("nchw16c_bf16_amx", Isa::kAmx, true, amx::pointwise_bf16x16c,
                                         avx512bf16::depthwise_bf16x16c, avx512bf16::block_mean_bf16,
                                         amx::conv_bf16x16c, avx512bf16::maxpool_bf16x16c,
                                         avx512bf16::to_blocked_bf16, /*needs_amx_bf16=*/true,
                                         /*reads_f32=*/true);
  r.add(gemm_bf16, nchw16c);
#endif
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
