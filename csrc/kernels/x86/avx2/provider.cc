// The AVX2 provider (registry.h): baseline code, compiled into int8rt without
// ISA flags when the folder's microkernels were built (INT8RT_HAVE_AVX2_KERNELS).
//   conv_s8:   conv_s8_dw_pairs_8c_avx2 (depthwise: x86/conv_dw_pairs.cc's driver,
//              dwconv_pairs_8c.cc), conv_s8_igemm_6x16c2_avx2
//              (packed for the sign-trick microkernel igemm_6x16c4s.cc when
//              no weight is -128; runs on inputs with no negative value take
//              the u8 microkernel igemm_6x16c4u.cc: conv_igemm_nonneg.cc)
//   conv_transpose_s8: conv_transpose_s8_ks_avx2 (kernel == stride: the igemm
//              tiles per input row in place, the 2 x 2, K = 1 head on
//              conv_transpose_dot_2x2.cc; x86/conv_transpose_ks.cc)
//   gemm_s8:   gemm_s8_6x16c4p_avx2 (constant W with few pairs over the pair-sum
//              rule in K order or in each block's own k order: the pair tile
//              gemm_s8_6x16c4p.cc, x86/gemm_s8_pairs.h; else
//              hands on to) gemm_s8_6x16c2_avx2 (igemm_6x16c4s.cc when no weight is -128)
//   gemm_u8s8: gemm_u8s8_4x16c4s_avx2 (x86/gemm_u8s8.cc's driver; shifted tiles,
//              exact through vpsignb: gemm_u8s8_4x16c4s.cc; a run-time B
//              packed by gemm_u8s8_pack_b.cc; a B packed once with few
//              unsafe pairs: the pair tile gemm_u8s8_6x16c4p.cc)
//   dynamic_quantize_u8: dynamic_quantize_u8_avx2 (8 lanes)
//   sgemm_f32: sgemm_6x16_avx2 (AVX2+FMA)
//   dwconv_f32: dwconv_f32_avx2 (8 channels per ymm, FMA: dwconv_f32_c8.cc)
//   maxpool_f32: maxpool_f32_avx2 (8 outputs per ymm: maxpool_f32_8.cc)
//   unary_f32: unary_f32_avx2 (math_f32.h's loop, 8 lanes)
//   softmax_f32: softmax_f32_avx2 (ref/softmax_f32.h's loops, 8 lanes)
//   layernorm_f32: layernorm_f32_avx2 (ref/layernorm_f32.h's loop)
//   binary_f32: binary_f32_avx2 (binary_f32_loop.h's loop, 8 lanes; the chain on float_chain_lanes.h's blocks)
//   plane_mean_f32: plane_mean_f32_avx2 (plane_mean_f32_loop.h's order, two ymm of partials)
//   transpose_f32: transpose_f32_avx2 (8 x 8 blocks in registers)
//   every int8 element-wise op: <op>_avx2 (pool_s8_32c.cc: the pools;
//              eltwise_s8_32.cc: quantize, dequantize, add, concat, lookup,
//              channel_mul; channel_mul_table_rows_8.cc: channel_mul's table
//              form; lookup_channels_s8_32x16.cc: lookup_channels;
//              lookup_f32_8.cc: lookup_f32, softmax_s8), bound to the drivers of x86/eltwise_s8_x86.h;
//              the avxvnni tier runs them too.
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/abi/eltwise_s8.h"
#include "kernels/abi/sgemm_f32.h"
#include "kernels/dynamic_quantize_u8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"
#include "kernels/dwconv_f32.h"
#include "kernels/maxpool_f32.h"
#include "kernels/layernorm_f32.h"
#include "kernels/softmax_f32.h"
#include "kernels/transpose_x32.h"
#include "kernels/unary_f32.h"
#include "kernels/binary_f32.h"
#include "kernels/plane_mean_f32.h"
#include "kernels/x86/conv_dw_pairs.h"
#include "kernels/x86/conv_transpose_ks.h"
#include "kernels/x86/eltwise_s8_x86.h"
#include "kernels/x86/gemm_s8_pairs.h"
#include "kernels/x86/gemm_u8s8_driver.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_avx2_kernels(KernelRegistry& r) {
  // Convs whose input of a run has no negative value take the u8 kernel
  // (conv_igemm_nonneg.cc); the sign-trick one (same tile and packing, one
  // copy of the weights) the others and the GEMMs, where no weight is -128;
  // the int16 one what is left (conv_igemm.cc, pack_ukernel).
  // The u8 kernel's tile has AVX-VNNI's geometry and bytes (6 x 16, c4,
  // int8), and runs of channel tiles sharing a row fill up to the same
  // 64 KiB of weights: ResNet-50's conv shapes 0.96x the time of runs of
  // one on Zen 3 (RESULTS.md section 56).
  // Where few weights break the pair-sum rule (most convs), the u8 kernel's
  // work goes to its pair-sum twin, which widens two groups' int16 sums at
  // once (avx2/igemm_6x16c4u2.cc; conv_igemm.cc, pack_pairs_alt).
  static const IgemmUkernel igemm_u8_pairs_uk = {
      Isa::kAvx2, "conv_s8_igemm_6x16c4u2_avx2", "",
      avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroupU8, /*widen_s16=*/false, avx2::igemm_u8_pairs_fn,
      /*declines_depthwise=*/false, /*interleaved=*/false, /*run_weight_bytes=*/avxvnni::kRunWeightBytes,
      /*unsigned_rows=*/true, /*nonneg=*/nullptr, /*abs_sign_rows=*/false, /*signed_alt=*/nullptr,
      /*pair_sums=*/true};
  static const IgemmUkernel igemm_u8_uk = {
      Isa::kAvx2, "conv_s8_igemm_6x16c4u_avx2", "",
      avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroupU8, /*widen_s16=*/false, avx2::igemm_u8_fn,
      /*declines_depthwise=*/false, /*interleaved=*/false, /*run_weight_bytes=*/avxvnni::kRunWeightBytes,
      /*unsigned_rows=*/true, /*nonneg=*/nullptr, /*abs_sign_rows=*/false, /*signed_alt=*/nullptr,
      /*pair_sums=*/false, /*pairs_alt=*/&igemm_u8_pairs_uk};
  // Pointwise rows of short reductions (the merged-taps stems, kc 28; 1x1
  // convs of at most 32 input channels) run its tile as a strip
  // (avx2/igemm_6x16c4s.cc, igemm_strip_s8): the C = 3 stems x0.80-0.92 per
  // layer; 1x1 convs of 160-320 channels measured no gain (RESULTS.md
  // section 235), so they keep the driver's runs of channel tiles.
  // Convs of 24 output channels per group (PP-OCR det's FPN 3x3 96 -> 24)
  // take the sign trick on a 3 x 24 tile (avx2/igemm_3x24c4s.cc): x0.91-0.98
  // on those convs (RESULTS.md section 242).
  static const IgemmUkernel igemm_s8_24_uk = {
      Isa::kAvx2, "conv_s8_igemm_3x24c4s_avx2", "",
      avx2::kMR24, avx2::kNB24, avx2::kBlock, avx2::kCGroupU8, /*widen_s16=*/false, avx2::igemm_s8_3x24_fn,
      /*declines_depthwise=*/false, /*interleaved=*/false, /*run_weight_bytes=*/avxvnni::kRunWeightBytes,
      /*unsigned_rows=*/false, /*nonneg=*/nullptr, /*abs_sign_rows=*/true};
  static const IgemmUkernel igemm_s8_uk = [] {
    IgemmUkernel u{Isa::kAvx2, "conv_s8_igemm_6x16c4s_avx2", "gemm_s8_6x16c4s_avx2",
                   avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroupU8, /*widen_s16=*/false, avx2::igemm_s8_fn,
                   /*declines_depthwise=*/false, /*interleaved=*/false, /*run_weight_bytes=*/avxvnni::kRunWeightBytes,
                   /*unsigned_rows=*/false, /*nonneg=*/nullptr, /*abs_sign_rows=*/true};
    u.strip = avx2::igemm_strip_s8;
    u.strip_mr = avx2::kStripMR;
    u.strip_min_kc = 4;
    u.strip_max_kc = 32;
    u.wide_alt = &igemm_s8_24_uk;
    return u;
  }();
  // Inputs whose minimum is a few codes below 0 (after a hard-swish or
  // SiLU): each byte plus m read as u8 by the u8 tile's loop, m as large as
  // the conv's weight pairs allow (avx2/igemm_6x16c4a.cc;
  // conv_igemm_nonneg.cc).
  static const IgemmUkernel igemm_u8_add_uk = {
      Isa::kAvx2, "conv_s8_igemm_6x16c4a_avx2", "",
      avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroupU8, /*widen_s16=*/false, avx2::igemm_u8_add_fn,
      /*declines_depthwise=*/false, /*interleaved=*/false, /*run_weight_bytes=*/avxvnni::kRunWeightBytes,
      /*unsigned_rows=*/true};
  static const IgemmUkernel igemm_uk = [] {
    IgemmUkernel u{Isa::kAvx2, "conv_s8_igemm_6x16c2_avx2", "gemm_s8_6x16c2_avx2",
                   avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroup, /*widen_s16=*/true, avx2::igemm_fn,
                   /*declines_depthwise=*/false, /*interleaved=*/false, /*run_weight_bytes=*/0,
                   /*unsigned_rows=*/false, /*nonneg=*/&igemm_u8_uk, /*abs_sign_rows=*/false,
                   /*signed_alt=*/&igemm_s8_uk};
    u.shifted = &igemm_u8_add_uk;
    return u;
  }();
  static const DwPairsConvKernel dw_pairs({Isa::kAvx2, "conv_s8_dw_pairs_8c_avx2", avx2::kDwPairBlock,
                                          /*min_width=*/1, avx2::dw_pair_build, avx2::dw_pair_row});
  static const IgemmConvKernel conv(igemm_uk);
  static const IgemmGemmKernel gemm(igemm_uk);
  static const SgemmKernel sgemm("sgemm_6x16_avx2", Isa::kAvx2, avx2::kSgemmMR, avx2::kSgemmNR,
                                 /*kc=*/256, /*mc=*/96, /*nc=*/512, avx2::sgemm_6x16,
                                 /*epilogue=*/true, /*pixel_rows=*/true);
  static const UnaryF32Kernel unary("unary_f32_avx2", Isa::kAvx2, avx2::unary_f32);
  static const SoftmaxF32Kernel softmax("softmax_f32_avx2", Isa::kAvx2, avx2::softmax_rows, avx2::attention_rows,
                                        avx2::head_mix);
  static const BinaryF32Kernel binary("binary_f32_avx2", Isa::kAvx2, avx2::binary_f32, avx2::float_chain_f32);
  static const PlaneMeanF32Kernel plane_mean("plane_mean_f32_avx2", Isa::kAvx2, avx2::plane_mean_f32);
  static const LayerNormF32Kernel layernorm("layernorm_f32_avx2", Isa::kAvx2, avx2::layernorm_rows);
  static const TransposeX32Kernel transpose("transpose_f32_avx2", Isa::kAvx2, avx2::transpose_x32,
                                             avx2::transpose_add_f32);
  static const DwConvF32Kernel dwconv_f32("dwconv_f32_avx2", Isa::kAvx2, avx2::dwconv_f32_plane);
  static const MaxPoolF32Kernel maxpool_f32("maxpool_f32_avx2", Isa::kAvx2, avx2::maxpool_f32_planes);
  static const GemmS8PairsTiles s8_pair_tiles = {avx2::gemm_s8_pairs_fn, avx2::gemm_s8_pairs_u8_fn,
                                                 avx2::gemm_s8_permute_a, avx2::kS8PairsMR};
  static const PairsGemmS8Kernel gemm_pairs("gemm_s8_6x16c4p_avx2", Isa::kAvx2, s8_pair_tiles, gemm);
  r.add(gemm_pairs);
  // Transposed convs whose kernel equals their stride (PP-OCR det's 2 x 2
  // upsamplings): the tiles above per input row, written in place, and the
  // 2 x 2, K = 1 head on avx2/conv_transpose_dot_2x2.cc (x86/conv_transpose_ks.cc).
  static const KsConvTransposeKernel conv_transpose_ks(
      "conv_transpose_s8_ks_avx2", Isa::kAvx2,
      {avx2::igemm_s8_fn, avx2::igemm_u8_fn, avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroupU8,
       avx2::conv_transpose_dot_2x2});
  r.add(conv_transpose_ks);
  r.add(dw_pairs, conv, gemm, sgemm, unary, binary, plane_mean, softmax, layernorm, transpose, dwconv_f32, maxpool_f32);

  static const GemmU8S8SignTiles u8s8_tiles = {avx2::gemm_u8s8_shifted_b_fn, avx2::gemm_u8s8_shifted_a_fn,
                                               avx2::gemm_u8s8_pairs_fn, avx2::gemm_u8s8_pairs_a_fn,
                                               avx2::kU8S8PairsMR};
  static const X86GemmU8S8Kernel gemm_u8s8("gemm_u8s8_4x16c4s_avx2", Isa::kAvx2, u8s8_tiles, avx2::kU8S8MR,
                                           avx2::kU8S8NB, avx2::gemm_u8s8_pack_b);
  static const DynamicQuantizeU8Kernel dynamic_quantize("dynamic_quantize_u8_avx2", Isa::kAvx2, avx2::dynamic_range,
                                                          avx2::dynamic_quantize_u8);
  r.add(gemm_u8s8, dynamic_quantize);

  static const MaxPoolS8Kernel maxpool("maxpool_s8_avx2", Isa::kAvx2,
                                       bind<maxpool_s8, avx2::maxpool_row>);
  static const AvgPoolS8Kernel avgpool("avgpool_s8_avx2", Isa::kAvx2,
                                       bind<avgpool_s8, avx2::avgpool_row>);
  static const GlobalAvgPoolS8Kernel global_avgpool("global_avgpool_s8_avx2", Isa::kAvx2,
                                                    bind<global_avgpool_s8, avx2::global_avgpool>,
                                                    bind<global_avgpool_table_s8, avx2::global_avgpool_table>);
  r.add(maxpool, avgpool, global_avgpool);

  namespace uk = avx2;
  static const QuantizeS8Kernel quantize("quantize_s8_avx2", Isa::kAvx2, bind<quantize_s8, uk::quantize>,
                                         bind<quantize_nchw_to_nhwc_s8, uk::quantize_nchw_to_nhwc>);
  static const DequantizeS8Kernel dequantize("dequantize_s8_avx2", Isa::kAvx2, bind<dequantize_s8, uk::dequantize>,
                                             bind<dequantize_nhwc_to_nchw_s8, uk::dequantize_nhwc_to_nchw>);
  static const AddS8Kernel add("add_s8_avx2", Isa::kAvx2, bind<add_s8, uk::add>);
  static const ConcatS8Kernel concat("concat_s8_avx2", Isa::kAvx2, bind<concat_s8, uk::rescale>);
  static const LookupS8Kernel lookup("lookup_s8_avx2", Isa::kAvx2, bind<lookup_s8, uk::lookup>);
  // One table per channel (PP-OCR's hard-swishes on per-channel grids): lookup_channels_s8_32x16.cc.
  static const LookupChannelsS8Kernel lookup_channels("lookup_channels_s8_avx2", Isa::kAvx2,
                                                      bind<lookup_channels_s8, uk::lookup_channels>);
  // The table form (an exact squeeze-and-excitation gate): 8 channels a step (channel_mul_table_rows_8.cc).
  static const ChannelMulS8Kernel channel_mul("channel_mul_s8_avx2", Isa::kAvx2,
                                              bind<channel_mul_s8, uk::channel_mul_row>,
                                              bind<channel_mul_table_s8, uk::channel_mul_table_rows>);
  static const LookupF32S8Kernel lookup_f32("lookup_f32_s8_avx2", Isa::kAvx2, uk::lookup_f32);
  static const SoftmaxS8Kernel softmax_s8("softmax_s8_avx2", Isa::kAvx2, uk::softmax_s8_rows);
  r.add(quantize, dequantize, add, concat, lookup, lookup_channels, channel_mul, lookup_f32, softmax_s8);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
