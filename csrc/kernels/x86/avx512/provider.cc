// The AVX-512 (F/BW/VL/DQ, no VNNI) provider (registry.h): baseline code,
// compiled into int8rt without ISA flags when the folder's microkernels were
// built (INT8RT_HAVE_AVX512_KERNELS).
//   every element-wise op: <op>_s8_avx512 (F/BW/VL microkernels bound to
//              the drivers of x86/eltwise_s8_x86.h; lookup_channels and
//              lookup_s8_vbmi_avx512, listed before lookup_s8_avx512, and
//              channel_mul_s8_vbmi_avx512 (both forms through per-channel
//              tables and their lookup on large images, the table form's
//              small images through byte planes), before
//              channel_mul_s8_avx512, also need
//              AVX512-VBMI and decline without it, as does
//              global_avgpool_s8_vbmi_avx512 (its table form through byte
//              planes), listed before global_avgpool_s8_avx512; lookup_f32
//              and softmax_s8 through Table256)
//   unary_f32: unary_f32_avx512 (math_f32.h's loop, 16 lanes)
//   dynamic_quantize_u8: dynamic_quantize_u8_avx512 (16 lanes)
//   softmax_f32: softmax_f32_avx512 (ref/softmax_f32.h's loops, 16 lanes)
//   layernorm_f32: layernorm_f32_avx512 (ref/layernorm_f32.h's loop)
//   binary_f32: binary_f32_avx512 (binary_f32_loop.h's loop, 16 lanes; the chain on float_chain_lanes.h's blocks)
//   plane_mean_f32: plane_mean_f32_avx512 (plane_mean_f32_loop.h's order, one zmm of partials)
//   dwconv_f32: dwconv_f32_avx512 (16 outputs per zmm, FMA; flat walk for narrow planes)
//   nchw16c_f32: nchw16c_f32_avx512 (6 x 4-block pointwise and conv tiles, 8-pixel depthwise rows)
//   maxpool_f32: maxpool_f32_avx512 (column maxima, then row maxima, 16 lanes)
//   transpose_f32: transpose_f32_avx512 (16 x 16 blocks in registers)
//   sgemm_f32: sgemm_12x32_avx512 (AVX-512F), then its 8-row twin
//              sgemm_8x32_avx512 (the same bits; chosen only by name, in
//              tests and benchmarks). Blocking: the B panel (kc x 32
//              floats: 24 KiB) stays in L1 while the A block (mc x kc)
//              streams from L2; kc = 192 measured best on Zen 4 among
//              64..384 (it also divides the 3x3x64 im2col depth); mc = 192
//              is 16 tiles of 12 rows.
#include "kernels/abi/eltwise_s8.h"
#include "kernels/dwconv_f32.h"
#include "kernels/maxpool_f32.h"
#include "kernels/nchw16c_f32.h"
#include "kernels/abi/sgemm_f32.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"
#include "kernels/layernorm_f32.h"
#include "kernels/softmax_f32.h"
#include "kernels/transpose_x32.h"
#include "kernels/unary_f32.h"
#include "kernels/dynamic_quantize_u8.h"
#include "kernels/binary_f32.h"
#include "kernels/plane_mean_f32.h"
#include "kernels/x86/eltwise_s8_x86.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// The gate on VBMI CPUs: rows for small images, else per-channel tables and their lookup.
constexpr ChannelMulTableUks kChannelMulTableUks{avx512::channel_mul_table_rows_vbmi, avx512::channel_mul_tables,
                                                 avx512::lookup_channels, avx512::channel_mul_row};

}  // namespace

void register_avx512_kernels(KernelRegistry& r) {
  constexpr Isa kIsa = Isa::kAvx512;
  static const SgemmKernel sgemm("sgemm_12x32_avx512", kIsa, avx512::kSgemmMR,
                                 avx512::kSgemmNR, /*kc=*/192, /*mc=*/192, /*nc=*/512,
                                 avx512::sgemm_12x32, /*epilogue=*/true);
  static const SgemmKernel sgemm8("sgemm_8x32_avx512", kIsa, avx512::kSgemm8MR,
                                  avx512::kSgemmNR, /*kc=*/192, /*mc=*/192, /*nc=*/512,
                                  avx512::sgemm_8x32, /*epilogue=*/true);
  static const UnaryF32Kernel unary("unary_f32_avx512", kIsa, avx512::unary_f32);
  static const BinaryF32Kernel binary("binary_f32_avx512", kIsa, avx512::binary_f32, avx512::float_chain_f32);
  static const PlaneMeanF32Kernel plane_mean("plane_mean_f32_avx512", kIsa, avx512::plane_mean_f32);
  static const DwConvF32Kernel dwconv("dwconv_f32_avx512", kIsa, avx512::dwconv_f32_plane);
  static const MaxPoolF32Kernel maxpool_f32("maxpool_f32_avx512", kIsa, avx512::maxpool_f32_planes);
  static const Nchw16cF32Kernel nchw16c("nchw16c_f32_avx512", kIsa, avx512::pointwise_nchw16c,
                                        avx512::depthwise_nchw16c, avx512::dense_nchw16c, avx512::conv_nchw16c,
                                        avx512::maxpool_nchw16c, avx512::avgpool_nchw16c, avx512::block_mean_f32, avx512::block_scale_f32);
  static const TransposeX32Kernel transpose("transpose_f32_avx512", kIsa, avx512::transpose_x32,
                                             avx512::transpose_add_f32);
  static const SoftmaxF32Kernel softmax("softmax_f32_avx512", kIsa, avx512::softmax_rows, avx512::attention_rows,
                                        avx512::head_mix,
                                        avx512::attention_rows_s8);
  static const LayerNormF32Kernel layernorm("layernorm_f32_avx512", kIsa, avx512::layernorm_rows);
  static const DynamicQuantizeU8Kernel dynamic_quantize("dynamic_quantize_u8_avx512", kIsa, avx512::dynamic_range,
                                                          avx512::dynamic_quantize_u8);
  r.add(sgemm, sgemm8, unary, binary, plane_mean, dwconv, maxpool_f32, nchw16c, transpose, softmax, layernorm, dynamic_quantize);

  namespace uk = avx512;
  static const QuantizeS8Kernel quantize("quantize_s8_avx512", kIsa,
                                         bind<quantize_s8, uk::quantize>,
                                         bind<quantize_nchw_to_nhwc_s8, uk::quantize_nchw_to_nhwc>);
  static const DequantizeS8Kernel dequantize(
      "dequantize_s8_avx512", kIsa, bind<dequantize_s8, uk::dequantize>,
      bind<dequantize_nhwc_to_nchw_s8, uk::dequantize_nhwc_to_nchw>);
  static const AddS8Kernel add("add_s8_avx512", kIsa, bind<add_s8, uk::add>);
  static const ConcatS8Kernel concat("concat_s8_avx512", kIsa, bind<concat_s8, uk::rescale>);
  static const MaxPoolS8Kernel maxpool("maxpool_s8_avx512", kIsa,
                                       bind<maxpool_s8, uk::maxpool_row>);
  static const AvgPoolS8Kernel avgpool("avgpool_s8_avx512", kIsa,
                                       bind<avgpool_s8, uk::avgpool_row>);
  static const GlobalAvgPoolS8Kernel global_avgpool_vbmi("global_avgpool_s8_vbmi_avx512", kIsa,
                                                         bind<global_avgpool_s8, uk::global_avgpool>,
                                                         bind<global_avgpool_table_s8, uk::global_avgpool_table_vbmi>,
                                                         /*needs_vbmi=*/true);
  static const GlobalAvgPoolS8Kernel global_avgpool("global_avgpool_s8_avx512", kIsa,
                                                    bind<global_avgpool_s8, uk::global_avgpool>,
                                                    bind<global_avgpool_table_s8, uk::global_avgpool_table>);
  static const LookupS8Kernel lookup_vbmi("lookup_s8_vbmi_avx512", kIsa, bind<lookup_s8, uk::lookup_vbmi>,
                                          /*needs_vbmi=*/true);
  static const LookupS8Kernel lookup("lookup_s8_avx512", kIsa, bind<lookup_s8, uk::lookup>);
  static const LookupChannelsS8Kernel lookup_channels("lookup_channels_s8_avx512", kIsa,
                                                      bind<lookup_channels_s8, uk::lookup_channels>,
                                                      /*needs_vbmi=*/true);
  static const ChannelMulS8Kernel channel_mul_vbmi("channel_mul_s8_vbmi_avx512", kIsa,
                                                   bind<channel_mul_lookup_s8, &kChannelMulTableUks>,
                                                   bind<channel_mul_table_lookup_s8, &kChannelMulTableUks>,
                                                   /*needs_vbmi=*/true);
  static const ChannelMulS8Kernel channel_mul("channel_mul_s8_avx512", kIsa,
                                              bind<channel_mul_s8, uk::channel_mul_row>,
                                              bind<channel_mul_table_s8, uk::channel_mul_table_rows>);
  static const LookupF32S8Kernel lookup_f32("lookup_f32_s8_avx512", kIsa, uk::lookup_f32);
  static const SoftmaxS8Kernel softmax_s8("softmax_s8_avx512", kIsa, uk::softmax_s8_rows);
  r.add(quantize, dequantize, add, concat, maxpool, avgpool, global_avgpool_vbmi, global_avgpool, lookup_vbmi, lookup, lookup_channels,
        channel_mul_vbmi, channel_mul, lookup_f32, softmax_s8);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
