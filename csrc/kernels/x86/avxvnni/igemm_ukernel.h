// The descriptors (x86_kernels.h, IgemmUkernel) of igemm_6x16c4.cc's two
// tiles, for the library's native build (provider.cc) and the tests' twins
// of the same source (emulated, EVEX), so that every build is described
// alike: the shifted tile for inputs of any sign, and as its `nonneg` the
// unshifted one (igemm_u8_fn) for inputs known to hold no negative value and
// for inputs held as u8 codes q + 128 (u8_codes: x86/conv_igemm.cc packs it
// with the -128 * sum(w) compensation and pads with code_byte(pad_value)).
// No per-run scan for non-negative inputs (nonneg_per_run false): as on the
// AVX512-VNNI tile, the unshifted tile saves one vpxor per broadcast, which a
// scan of each run's input would cost back. Baseline code (data only).
#pragma once

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avxvnni {

// One tile's descriptor: `fn` a build's igemm_fn (unsigned_rows false,
// `nonneg` its unsigned twin's descriptor) or igemm_u8_fn (unsigned_rows
// true, nonneg null).
constexpr IgemmUkernel igemm_ukernel(const char* conv_name, const char* gemm_name, IgemmFn (*fn)(int mr, int nb),
                                     bool unsigned_rows, const IgemmUkernel* nonneg) {
  return {Isa::kAvxVnni, conv_name, gemm_name, kMR, kNB, kBlock, kCGroup,
          /*widen_s16=*/false, fn, /*declines_depthwise=*/true, /*interleaved=*/false,
          /*run_weight_bytes=*/kRunWeightBytes, unsigned_rows, nonneg,
          /*abs_sign_rows=*/false, /*signed_alt=*/nullptr, /*pair_sums=*/false, /*pairs_alt=*/nullptr,
          /*nonneg_per_run=*/false, /*pack_b=*/nullptr, /*strip=*/nullptr, /*strip_mr=*/1,
          /*strip_min_kc=*/0, /*strip_max_kc=*/0, /*l2_run_weight_bytes=*/0, /*row_taps=*/false,
          /*u8_codes=*/true};
}

}  // namespace avxvnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
