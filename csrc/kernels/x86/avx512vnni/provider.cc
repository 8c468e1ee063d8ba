// The AVX512-VNNI provider (registry.h): baseline code, compiled into int8rt
// without ISA flags when the folder's microkernels were built
// (INT8RT_HAVE_AVX512VNNI_KERNELS). Binds the microkernels of this folder to
// the x86 drivers and adds them, best first per family:
//   conv_s8: conv_s8_dw_64c_avx512vnni (depthwise), conv_s8_igemm_6x64c4_avx512vnni
//   gemm_s8: gemm_s8_6x64c4_avx512vnni
//   every element-wise op: <op>_s8_avx512vnni (AVX-512 F/BW/VL microkernels).
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/abi/eltwise_s8.h"
#include "kernels/registry.h"
#include "kernels/x86/eltwise_s8_x86.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_avx512vnni_kernels(KernelRegistry& r) {
  constexpr Isa kIsa = Isa::kAvx512Vnni;
  static const IgemmUkernel igemm_uk = {
      kIsa, "conv_s8_igemm_6x64c4_avx512vnni", "gemm_s8_6x64c4_avx512vnni",
      avx512vnni::kMR, avx512vnni::kNB, avx512vnni::kBlock, avx512vnni::kCGroup,
      /*widen_s16=*/false, avx512vnni::igemm_fn};
  static const DwUkernel dw_uk = {kIsa, "conv_s8_dw_64c_avx512vnni", avx512vnni::kDwBlock,
                                  avx512vnni::dwconv_row};
  static const DwConvKernel dw(dw_uk);
  static const IgemmConvKernel conv(igemm_uk);
  static const IgemmGemmKernel gemm(igemm_uk);
  r.add(dw, conv, gemm);

  static const X86Quantize quantize("quantize_s8_avx512vnni", kIsa, avx512vnni::quantize,
                                    avx512vnni::quantize_nchw_to_nhwc);
  static const X86Dequantize dequantize("dequantize_s8_avx512vnni", kIsa,
                                        avx512vnni::dequantize,
                                        avx512vnni::dequantize_nhwc_to_nchw);
  static const X86Add add("add_s8_avx512vnni", kIsa, avx512vnni::add);
  static const X86Concat concat("concat_s8_avx512vnni", kIsa, avx512vnni::rescale);
  static const X86MaxPool maxpool("maxpool_s8_avx512vnni", kIsa, avx512vnni::maxpool_row);
  static const X86AvgPool avgpool("avgpool_s8_avx512vnni", kIsa, avx512vnni::avgpool_row);
  static const X86GlobalAvgPool global_avgpool("global_avgpool_s8_avx512vnni", kIsa,
                                               avx512vnni::global_avgpool);
  static const X86Lookup lookup("lookup_s8_avx512vnni", kIsa, avx512vnni::lookup);
  static const X86ChannelMul channel_mul("channel_mul_s8_avx512vnni", kIsa,
                                         avx512vnni::channel_mul_row);
  r.add(quantize, dequantize, add, concat, maxpool, avgpool, global_avgpool, lookup, channel_mul);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
