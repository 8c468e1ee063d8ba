// The igemm driver's weights (x86/conv_igemm.cc): which microkernel packs
// them and in which layout. A tier's descriptor may name a sign-trick twin
// (signed_alt), packed where no weight is -128, and its nonneg kernel a
// pair-sum twin (pairs_alt), packed where its residual groups stay few.
// Merged rows (the C = 3 stem) reorder the weights so the S taps of a filter
// row are one reduction; merged taps (a stem whose whole window is small)
// make every tap one reduction. The driver's run-time loop lives in conv_igemm.cc.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/kernel_types.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace igemm {

// Whether the conv runs in merged-row mode (few input channels, groups 1,
// dilation_w 1, S > 1).
bool use_merged_rows(const ConvShape& s);

// The reduction length of a merged tap for u (S*C, rounded up to whole
// groups of cgroup for int8 rows).
int merged_reduction(const IgemmUkernel& u, const ConvShape& s);

// The most input values R*S*C of one output pixel's window that merged taps
// gather (x86/conv_igemm_taps.h: one copy of that many bytes per pixel).
constexpr int kMaxMergedTaps = 32;

// Whether the conv runs u in merged-tap mode: merged rows for int8 rows
// whose whole window R*S*C, rounded up to whole groups, is at most
// kMaxMergedTaps values (MobileNet's and EfficientNet's 3x3 C = 3 stems: 28). The driver then gathers each
// output pixel's window into one row (x86/conv_igemm_taps.h) and runs a 1x1
// conv over those rows, one tap of merged_tap_reduction values.
bool use_merged_taps(const IgemmUkernel& u, const ConvShape& s);

// The reduction length of merged taps: R*S*C rounded up to whole groups of
// cgroup (the values past R*S*C meet zero weights).
int merged_tap_reduction(const IgemmUkernel& u, const ConvShape& s);

// Whether the conv runs u with row taps (IgemmUkernel::row_taps): the S
// taps of each filter row read as one tap of S * C values over S adjacent
// input pixels, from the packing pack_for makes anyway (tap-major steps),
// where that packing allows it (groups 1, dilation_w 1, S > 1, C whole
// groups of cgroup, neither merged mode).
bool use_row_taps(const IgemmUkernel& u, const ConvShape& s);

// Whether u's packing carries the -128 * sum(w) compensation of rows shifted
// to u8 inside the microkernel.
bool compensated(const IgemmUkernel& u);

// Whether pack_for gives a and b the same bytes for every shape.
bool same_packing(const IgemmUkernel& a, const IgemmUkernel& b);

// Whether any of w[0 .. n) is -128.
bool has_min_weight(const int8_t* w, int64_t n);

// The microkernel that packs w[0 .. n) for u's kernel: u.signed_alt when u
// has one and no weight is -128, else u (INT8RT_LOG=dispatch says which).
const IgemmUkernel& pack_ukernel(const IgemmUkernel& u, const int8_t* w, int64_t n, bool gemm);

// The weights packed for u, residual groups included for a pair-sum kernel.
PackedIgemmWeights pack_for(const IgemmUkernel& u, const ConvShape& s, const int8_t* w);

// The plain packing of w for a shifted-row microkernel (IgemmUkernel::
// shifted: block 8, c4), with row_add = the largest m in [1, 128] for which
// (127 + m) times every weight pair's larger one-signed sum stays <= 32767,
// and comp = -m * sum(w) per channel.
PackedIgemmWeights pack_shifted(const IgemmUkernel& u, const ConvShape& s, const int8_t* w);

// The weights packed for u.pairs_alt where that pays, else null.
std::shared_ptr<const PackedIgemmWeights> pack_pairs_alt(const IgemmUkernel& u, const ConvShape& s,
                                                         const int8_t* w);

}  // namespace igemm
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
