// The AVX512-BF16 provider (registry.h): baseline code, compiled into int8rt
// without ISA flags when the folder's microkernel was built
// (INT8RT_HAVE_AVX512BF16_KERNELS).
//   gemm_bf16: gemm_bf16_8x32_avx512bf16 (VDPBF16PS). Its tier is avx512bf16
//              (INT8RT_MAX_ISA=avx512bf16 and amx allow it; avx512vnni and
//              below do not); supports() declines where the CPU lacks
//              AVX512-BF16.
//   dwconv_bf16: dwconv_bf16_avx512bf16 (FMA on padded FP32 planes,
//              VCVTNEPS2BF16 stores); same tier and CPU check, windows of
//              up to 64 taps.
//   nchw16c_bf16: nchw16c_bf16_avx512bf16 (the BF16 channel-blocked convs,
//              max pool and mean; its dense conv reads a stem's float
//              image, conv_reads_f32); same tier and CPU check.
//   attention_bf16: attention_bf16_8x32_avx512bf16 (the products of
//              int8rt.Bf16Attention on gemm_bf16_8x32's tile, operands
//              converted straight into its layouts); same tier and CPU check.
#include "kernels/abi/attention_bf16.h"
#include "kernels/abi/dwconv_bf16.h"
#include "kernels/abi/gemm_bf16.h"
#include "kernels/attention_bf16.h"
#include "kernels/dwconv_bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/nchw16c_bf16.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_avx512bf16_kernels(KernelRegistry& r) {
  static const Bf16PanelKernel gemm("gemm_bf16_8x32_avx512bf16", Isa::kAvx512Bf16, avx512bf16::kBf16MR,
                                    avx512bf16::kBf16NR, avx512bf16::gemm_bf16_8x32,
                                    avx512bf16::bf16_pairs, nullptr, 1, Bf16Needs::kAvx512Bf16,
                                    avx512bf16::bf16_interleave);
  static const DwConvBf16Kernel dwconv("dwconv_bf16_avx512bf16", Isa::kAvx512Bf16, avx512bf16::dwconv_bf16_plane,
                                      true, 64);
  static const Nchw16cBf16Kernel nchw16c("nchw16c_bf16_avx512bf16", Isa::kAvx512Bf16, true, avx512bf16::pointwise_bf16x16c,
                                         avx512bf16::depthwise_bf16x16c, avx512bf16::block_mean_bf16,
                                         avx512bf16::conv_bf16x16c, avx512bf16::maxpool_bf16x16c, avx512bf16::to_blocked_bf16,
                                         /*needs_amx_bf16=*/false, /*reads_f32=*/true);
  static const AttentionBf16Kernel attention("attention_bf16_8x32_avx512bf16", Isa::kAvx512Bf16,
                                             "gemm_bf16_8x32_avx512bf16", avx512bf16::kBf16MR, avx512bf16::kBf16NR,
                                             avx512bf16::gemm_bf16_8x32, avx512bf16::bf16_scaled_rows,
                                             avx512bf16::bf16_scaled_panel, true);
  r.add(gemm, dwconv, nchw16c, attention);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
