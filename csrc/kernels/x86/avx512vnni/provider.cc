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

  namespace uk = avx512vnni;
  static const QuantizeS8Kernel quantize("quantize_s8_avx512vnni", kIsa,
                                         bind<quantize_s8, uk::quantize>,
                                         bind<quantize_nchw_to_nhwc_s8, uk::quantize_nchw_to_nhwc>);
  static const DequantizeS8Kernel dequantize(
      "dequantize_s8_avx512vnni", kIsa, bind<dequantize_s8, uk::dequantize>,
      bind<dequantize_nhwc_to_nchw_s8, uk::dequantize_nhwc_to_nchw>);
  static const AddS8Kernel add("add_s8_avx512vnni", kIsa, bind<add_s8, uk::add>);
  static const ConcatS8Kernel concat("concat_s8_avx512vnni", kIsa, bind<concat_s8, uk::rescale>);
  static const MaxPoolS8Kernel maxpool("maxpool_s8_avx512vnni", kIsa,
                                       bind<maxpool_s8, uk::maxpool_row>);
  static const AvgPoolS8Kernel avgpool("avgpool_s8_avx512vnni", kIsa,
                                       bind<avgpool_s8, uk::avgpool_row>);
  static const GlobalAvgPoolS8Kernel global_avgpool("global_avgpool_s8_avx512vnni", kIsa,
                                                    bind<global_avgpool_s8, uk::global_avgpool>);
  static const LookupS8Kernel lookup("lookup_s8_avx512vnni", kIsa, bind<lookup_s8, uk::lookup>);
  static const ChannelMulS8Kernel channel_mul("channel_mul_s8_avx512vnni", kIsa,
                                              bind<channel_mul_s8, uk::channel_mul_row>);
  r.add(quantize, dequantize, add, concat, maxpool, avgpool, global_avgpool, lookup, channel_mul);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
