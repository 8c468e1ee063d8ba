// The AVX512-VNNI provider (registry.h): baseline code, compiled into int8rt
// without ISA flags when the folder's microkernels were built
// (INT8RT_HAVE_AVX512VNNI_KERNELS). Binds the microkernels of this folder to
// the x86 drivers and adds them, best first per family:
//   conv_s8: conv_s8_dw_quads_16c_avx512vnni (depthwise, filters 4 or more
//            wide: x86/conv_dw_pairs.cc's driver, dwconv_quads_16c.cc),
//            conv_s8_dw_pairs_16c_avx512vnni (the same convs on pair rows,
//            dwconv_pairs_16c.cc: by name only, the quads accept them all),
//            conv_s8_dw_64c_avx512vnni (the other depthwise convs),
//            conv_s8_igemm_6x64c4_avx512vnni (inputs known to hold no
//            negative value, or held as u8 codes: its unshifted twin,
//            igemm_6x64c4.cc's igemm_u8_fn; both take u8-coded tensors;
//            convs of 24 channels per group with inputs of any sign on
//            the 6 x 24 ymm tile, igemm_6x24c4.cc)
//   gemm_s8: gemm_s8_6x64c4_avx512vnni
//   gemm_u8s8: gemm_u8s8_6x64c4_avx512vnni (x86/gemm_u8s8.cc's driver)
//   conv_transpose_s8: conv_transpose_s8_ks_avx512vnni (kernel == stride:
//            the igemm tiles per input row, written in place; the 2 x 2,
//            K = 1 head on AVX2's pixels-in-lanes dot kernel where the AVX2
//            tier was built; x86/conv_transpose_ks.cc)
// The element-wise ops come from the avx512 tier (they need no VNNI).
// register_avx512vnni_narrow_kernels adds conv_s8_igemm_narrow_16c4_avx512vnni
// (x86/conv_narrow.cc's driver, igemm_narrow_16c4.cc) and
// conv_s8_igemv_8x32c4_avx512vnni (x86/conv_gemv.cc, igemv_8x32c4.cc) and
// conv_s8_igemm_6x64c4_c16_avx512vnni (the igemm tile on small-channel
// expansions, x86/conv_small_c.h), which registry.cc's table lists ahead of
// the AMX tier.
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/conv_dw_pairs.h"
#include "kernels/x86/conv_gemv.h"
#include "kernels/x86/conv_narrow.h"
#include "kernels/x86/conv_small_c.h"
#include "kernels/x86/conv_transpose_ks.h"
#include "kernels/x86/gemm_u8s8_driver.h"
#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

namespace {

constexpr Isa kIsa = Isa::kAvx512Vnni;

// The igemm tile's descriptor (the conv and GEMM kernels below, and the
// small-channel rule ahead of AMX).
const IgemmUkernel& igemm_descriptor() {
  // Runs of channel tiles with up to 64 KiB of weights share a pixel tile's
  // row pointers (AVX-VNNI's budget, conv_gemm_s8.h): MobileNetV2's 1x1
  // convs 0.95x, ResNet-50's convs 0.99x at batch 1 (RESULTS.md section 77).
  // Convs whose input the engine knows holds no negative value (a ReLU's
  // output: ConvShape::nonneg_input) take the same tile without the sign
  // shift (igemm_u8_fn). It is no faster on Zen 5 (its vpbroadcastd replaces
  // the vpxord with a broadcast operand one for one: RESULTS.md section 84),
  // so the others are not scanned per run (nonneg_per_run).
  // Its pointwise convs with a reduction of up to 512 take the strip tile
  // (igemm_strip_3x64c4.cc: the epilogue inside the next tile's reduction).
  constexpr int kStripMaxKc = 512;
  // Convs of several taps whose 64-channel tile holds more than L1 of
  // weights (3x3 over 64+ input channels) share one row fill across channel
  // tiles of up to 320 KiB of weights (section 121).
  constexpr int64_t kL2RunWeightBytes = int64_t{320} << 10;
  static const IgemmUkernel igemm_u8_uk = {
      kIsa, "conv_s8_igemm_6x64c4u_avx512vnni", "",
      avx512vnni::kMR, avx512vnni::kNB, avx512vnni::kBlock, avx512vnni::kCGroup,
      /*widen_s16=*/false, avx512vnni::igemm_u8_fn, /*declines_depthwise=*/false, /*interleaved=*/true,
      /*run_weight_bytes=*/avxvnni::kRunWeightBytes, /*unsigned_rows=*/true, /*nonneg=*/nullptr,
      /*abs_sign_rows=*/false, /*signed_alt=*/nullptr, /*pair_sums=*/false, /*pairs_alt=*/nullptr,
      /*nonneg_per_run=*/true, /*pack_b=*/nullptr, /*strip=*/avx512vnni::igemm_strip_u8,
      /*strip_mr=*/avx512vnni::kStripMR, /*strip_min_kc=*/avx512vnni::kStripMinKc,
      /*strip_max_kc=*/kStripMaxKc, /*l2_run_weight_bytes=*/kL2RunWeightBytes, /*row_taps=*/true,
      /*u8_codes=*/true, /*class_tiles=*/true};
  // Convs of 24 output channels per group with inputs of any sign (any
  // reduction: its rows are this tile's 6, conv_igemm.cc's wide rule): the
  // 6 x 24 ymm tile (igemm_6x24c4.cc), all its lanes used, where this tile
  // leaves a quarter of two zmm blocks empty. PP-OCR det's 3x3 96 -> 24
  // x0.77-0.79, EfficientNet-B0's 1x1 96 / 144 -> 24 x0.82-0.89 (RESULTS.md
  // section 251). Inputs promised non-negative or held as u8 codes keep the
  // u8 tile (no 24-channel twin built).
  static const IgemmUkernel igemm_24_uk = {
      kIsa, "conv_s8_igemm_6x24c4_avx512vnni", "",
      avx512vnni::kMR24, avx512vnni::kNB24, avx512vnni::kBlock24, avx512vnni::kCGroup,
      /*widen_s16=*/false, avx512vnni::igemm_24_fn, /*declines_depthwise=*/false, /*interleaved=*/true,
      /*run_weight_bytes=*/avxvnni::kRunWeightBytes, /*unsigned_rows=*/false, /*nonneg=*/nullptr,
      /*abs_sign_rows=*/false, /*signed_alt=*/nullptr, /*pair_sums=*/false, /*pairs_alt=*/nullptr,
      /*nonneg_per_run=*/false, /*pack_b=*/nullptr, /*strip=*/nullptr, /*strip_mr=*/1,
      /*strip_min_kc=*/0, /*strip_max_kc=*/0, /*l2_run_weight_bytes=*/kL2RunWeightBytes, /*row_taps=*/true,
      /*u8_codes=*/true, /*class_tiles=*/true};
  static const IgemmUkernel igemm_uk = {
      kIsa, "conv_s8_igemm_6x64c4_avx512vnni", "gemm_s8_6x64c4_avx512vnni",
      avx512vnni::kMR, avx512vnni::kNB, avx512vnni::kBlock, avx512vnni::kCGroup,
      /*widen_s16=*/false, avx512vnni::igemm_fn, /*declines_depthwise=*/false, /*interleaved=*/true,
      /*run_weight_bytes=*/avxvnni::kRunWeightBytes, /*unsigned_rows=*/false, /*nonneg=*/&igemm_u8_uk,
      /*abs_sign_rows=*/false, /*signed_alt=*/nullptr, /*pair_sums=*/false, /*pairs_alt=*/nullptr,
      /*nonneg_per_run=*/false, /*pack_b=*/avx512vnni::pack_b_per_run, /*strip=*/nullptr, /*strip_mr=*/1,
      /*strip_min_kc=*/0, /*strip_max_kc=*/0, /*l2_run_weight_bytes=*/kL2RunWeightBytes, /*row_taps=*/true,
      /*u8_codes=*/true, /*class_tiles=*/true, /*shifted=*/nullptr, /*wide_alt=*/&igemm_24_uk};
  return igemm_uk;
}

}  // namespace

void register_avx512vnni_kernels(KernelRegistry& r) {
  const IgemmUkernel& igemm_uk = igemm_descriptor();
  static const DwUkernel dw_uk = {kIsa, "conv_s8_dw_64c_avx512vnni", avx512vnni::kDwBlock,
                                  avx512vnni::dwconv_row};
  static const DwConvKernel dw(dw_uk);
  // Pair rows pay for filters of 4 or more columns (5x5: 3 vpdpwssd per
  // pixel and row instead of 5); for 3-wide ones the one-tap kernel's
  // shared widening is faster (RESULTS.md section 77). At every batch: on
  // the nine 5x5 depthwise convs of EfficientNet-B0 / -Lite0 and
  // MobileNetV3-Large, batch 8 runs 8 x batch 1 for both kernels, and the
  // pair kernel is ahead on eight (one-tap / pairs, medians of four runs,
  // 1.02-1.30) and behind on one, 144 @ 56 x 56 stride 2 (0.93 / 0.91 at
  // b1 / b8, 0.84-1.21 run to run): one layer of B0, no rule; the one-tap
  // kernel on every 5x5 made whole B0 1.05x / 1.08x slower at b1 / b8
  // (section 165).
  static const DwPairsConvKernel dw_pairs({kIsa, "conv_s8_dw_pairs_16c_avx512vnni", avx512vnni::kDwPairBlock,
                                          /*min_width=*/4, avx512vnni::dw_pair_build, avx512vnni::dw_pair_row});
  // Quad rows (dwconv_quads_16c.cc: 5x5 in 2 vpdpbusd per pixel and row,
  // not 3 vpdpwssd) ahead of the pairs for filters 4 or more wide, which
  // they all accept (the pairs stay reachable by name): pairs / quads on
  // the nine 5x5 shapes above, two runs, 1.09-1.17 at b1 and 1.10-1.45 at
  // b8 at stride 1 (one 0.87 at 1152 @ 7 b8 in one run), 0.99-1.13 at
  // stride 2 (Xeon with AMX, RESULTS.md section 173). 3-wide filters stay
  // with the one-tap kernel: quads 0.74-1.00x its speed on 12 of 14 3x3s.
  static const DwPairsConvKernel dw_quads({kIsa, "conv_s8_dw_quads_16c_avx512vnni", avx512vnni::kDwPairBlock,
                                          /*min_width=*/4, avx512vnni::dw_quad_build, avx512vnni::dw_quad_row,
                                          /*taps=*/4});
  static const IgemmConvKernel conv(igemm_uk);
  static const IgemmGemmKernel gemm(igemm_uk);
  static const X86GemmU8S8Kernel gemm_u8s8("gemm_u8s8_6x64c4_avx512vnni", kIsa, avx512vnni::gemm_u8s8_fn,
                                           avx512vnni::kU8S8MR, avx512vnni::kU8S8NB, avx512vnni::gemm_u8s8_pack_b);
  r.add(dw_quads, dw_pairs, dw, conv, gemm, gemm_u8s8);
  // Transposed convs whose kernel equals their stride (PP-OCR det's 2 x 2
  // upsamplings) on the tiles above, one input row at a time: the shifted
  // tile with its start sums for rows of any sign, the u8 tile for rows
  // with no negative byte; vpdpbusd takes every s8 weight, -128 included.
  KsTransposeUkernels ks = {avx512vnni::igemm_fn, avx512vnni::igemm_u8_fn, avx512vnni::kMR, avx512vnni::kNB,
                            avx512vnni::kBlock, avx512vnni::kCGroup};
#if defined(INT8RT_HAVE_AVX2_KERNELS)
  ks.dot = avx2::conv_transpose_dot_2x2;  // the AVX2 tier's (every AVX512-VNNI CPU runs AVX2)
#endif
  ks.strip = avx512vnni::kNB;
  ks.compensate = true;
  ks.any_weight = true;
  static const KsConvTransposeKernel conv_transpose_ks("conv_transpose_s8_ks_avx512vnni", kIsa, ks);
  r.add(conv_transpose_ks);
}

// Listed ahead of the AMX tier (registry.cc's table): 1x1 convs with at
// most 16 output and 32 input channels, stride 1, no padding
// (conv_narrow.h; RESULTS.md section 178 for the times against AMX and the
// igemm tile).
void register_avx512vnni_narrow_kernels(KernelRegistry& r) {
  static const NarrowConvKernel narrow("conv_s8_igemm_narrow_16c4_avx512vnni", Isa::kAvx512Vnni,
                                       avx512vnni::igemm_narrow_rows);
  // The squeeze-and-excitation convs on [N, C, 1, 1]: one 32-channel tile
  // of weights read once for 8 images, where AMX fills one row of its 32
  // and the igemm tile reads the weights again for each 6 rows.
  static const GemvConvKernel gemv("conv_s8_igemv_8x32c4_avx512vnni", Isa::kAvx512Vnni, avx512vnni::igemv_rows);
  // The igemm tile's unshifted twin on 1x1 expansions from at most 16
  // unsigned input channels (u8 codes or a ReLU's output: MobileNet-class
  // 16 -> 64 / 96 at 112 x 112): AMX ÷ igemm 1.10-1.28 at b1 and b8, where
  // one 64-byte AMX reduction chunk holds 16 bytes; with signed inputs
  // (the shifted tile) 0.92-1.13, so those stay on AMX.
  static const IgemmConvKernel igemm(igemm_descriptor());
  static const SmallChannelConvKernel small_c("conv_s8_igemm_6x64c4_c16_avx512vnni", igemm);
  r.add(narrow, gemv, small_c);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
