// The x86 kernel drivers as registry candidates (baseline code).
//
// A driver owns packing, tiling and threading and calls one ISA's
// microkernels through kernels/abi/conv_gemm_s8.h; the ISA is described by a plain
// descriptor, so the same driver serves AVX512-VNNI and AVX2:
//   IgemmConvKernel  - any conv (1x1 included) as an indirect GEMM over
//                      output pixels x blocks of output channels;
//   IgemmGemmKernel  - GEMM as the 1x1 conv of M "pixels";
//   DwConvKernel     - depthwise conv (groups == C == K), any R, S, stride.
//   AmxConvKernel    - any conv as a GEMM over AMX tiles (x86/conv_amx.cc);
//   AmxGemmKernel    - GEMM through the same driver.
#pragma once

#include <string>

#include "kernels/conv_gemm_s8.h"
#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/amx/conv_direct.h"

namespace int8rt {
namespace kernels {
namespace x86 {

struct IgemmUkernel {
  Isa isa = Isa::kRef;
  const char* conv_name = "";
  const char* gemm_name = "";
  int mr = 1, nb = 1, block = 16, cgroup = 4;
  // true: rows are int16 activations (the driver widens the input), no
  // compensation; false: rows are the int8 input, shifted to u8 inside the
  // microkernel and compensated by -128 * sum(w).
  bool widen_s16 = false;
  IgemmFn (*fn)(int mr, int nb) = nullptr;
  // Decline depthwise convolutions, for a tier without its own dwconv
  // kernel: a lower tier's dwconv kernel is faster than an igemm over
  // one-channel groups.
  bool declines_depthwise = false;
  // The microkernel reads its nb blocks interleaved step by step
  // (IgemmLayout::strip = nb, packing.h) rather than block_stride apart.
  bool interleaved = false;
  // Weight bytes of the consecutive channel tiles that share one fill of a
  // pixel tile's row pointers (x86/conv_igemm.cc, runs); 0: one tile each.
  int64_t run_weight_bytes = 0;
  // true: rows are raw int8 activations that the caller guarantees are all
  // >= 0, read as u8 without a shift; the weights are not compensated.
  // Such a microkernel runs only as `nonneg` of another one.
  bool unsigned_rows = false;
  // A microkernel for inputs with no negative value (and a pad_value >= 0).
  // Where the shape promises such inputs (ConvShape::nonneg_input)
  // IgemmConvKernel packs for it alone; elsewhere, where nonneg_per_run,
  // it packs for both and checks each run's input (x86/conv_igemm_nonneg.cc).
  // Null: this one always.
  const IgemmUkernel* nonneg = nullptr;
  // true: rows are raw int8 activations of any sign, multiplied as |x| (u8)
  // by w * sign(x) (s8), exact only when no weight is -128; not compensated.
  // Such a microkernel runs only as `signed_alt` of another one.
  bool abs_sign_rows = false;
  // A microkernel for inputs of any sign that needs weights in [-127, 127]
  // (abs_sign_rows): IgemmConvKernel / IgemmGemmKernel pack it in place of
  // this one when no weight is -128 (int8rt's own weight quantizer never
  // makes one; pre-quantized QDQ weights may hold it). Where it packs like
  // `nonneg`, the two share one copy of the packed weights. Null: never.
  const IgemmUkernel* signed_alt = nullptr;
  // true: the packing moves the weights that break the pair-sum rule into
  // residual groups (pack_pair_residuals, packing.h), which this microkernel
  // adds back. Such a microkernel runs only as `pairs_alt` of another one.
  bool pair_sums = false;
  // A microkernel that computes what this one does from a pair-sum packing,
  // packed in its place where the residual groups stay within a sixteenth of
  // the packing's groups (x86/conv_igemm.cc, pairs_ukernel). Null: never.
  const IgemmUkernel* pairs_alt = nullptr;
  // Whether `nonneg` is tried on runs whose shape makes no promise (a scan
  // of each run's input). False where it is no faster than this one (the
  // AVX512-VNNI tile without its xor: RESULTS.md section 84), so that a scan
  // would be pure cost.
  bool nonneg_per_run = true;
  // Writes the plain packing of a per-run B (groups = taps = 1, one-byte
  // values, runs of nb blocks interleaved, compensated where comp is not
  // null) as pack_igemm_weights[_kn]_into would, every byte of it, so the
  // buffers need no clearing (IgemmGemmKernel::pack_per_run_into, pack_kn).
  // Null: packing.cc's functions.
  void (*pack_b)(int n, int k, const int8_t* b, bool kn, int8_t* w, int32_t* comp) = nullptr;
  // A strip microkernel for this one's packing (IgemmStrip): the driver
  // hands it the full channel tiles of pointwise convs with int8 output
  // whose reduction kc is a multiple of cgroup in [strip_min_kc,
  // strip_max_kc], strip_mr rows per tile. Null: none.
  IgemmStripFn strip = nullptr;
  int strip_mr = 1, strip_min_kc = 0, strip_max_kc = 0;
  // The run budget (run_weight_bytes) of convs with more than one tap (a
  // row fill of taps x mr pointers, not mr) whose one channel tile's
  // weights already overflow L1 (conv_igemm.cc, kL1WeightBytes): the tile
  // reads them from L2 either way, so a longer run costs no locality and
  // saves fills. 0: run_weight_bytes.
  int64_t l2_run_weight_bytes = 0;
  // The microkernel reads each tap's weights right after the previous tap's
  // (packing.h: step = tap * q + q_index, one-byte values, no residual
  // groups), so where every tap's reduction is whole groups of cgroup, the
  // S taps of a filter row are one tap of S * kc values over S adjacent
  // pixels: the driver may hand it R row pointers per pixel instead of R*S
  // (conv_igemm.cc, row taps). False: never.
  bool row_taps = false;
  // Handles u8-coded tensors (ConvShape::input_codes / output_codes, kernel_types.h):
  // the epilogue honours TileEpilogue::out_xor (and the strip's), and, as
  // `nonneg` of another, the microkernel takes rows of u8 codes (values up
  // to 255: a vpdpbusd tile, no int16 pair sums) against weights packed
  // with the -128 * sum(w) compensation. False: the driver declines them.
  bool u8_codes = false;
  // The microkernel honours IgemmTile::tap_w and IgemmTile::pixel, so the
  // driver may hand it class tiles: pixels whose windows keep the same taps,
  // the taps in padding left out (conv_igemm_classes.h). False: never.
  bool class_tiles = false;
  // A microkernel for inputs in [-m, 127] that adds m to every row byte and
  // reads it as u8 (IgemmTile::row_add; plain packing, its sums starting at
  // -m * sum(w)): where nonneg_per_run, IgemmConvKernel packs it beside
  // `nonneg` with the largest m the weights allow, and a run whose input's
  // minimum is in [-m, 0) takes it (x86/conv_igemm_nonneg.cc). Null: never.
  const IgemmUkernel* shifted = nullptr;
  // A tile whose channels are 24 wide (3 blocks of 8), with this one's
  // contract (rows, compensation) and its own packing (pack_for of it):
  // IgemmConvKernel packs it in this one's place for convs of exactly 24
  // output channels per group (and, where it has fewer rows than this one,
  // a reduction of at least 256: conv_igemm.cc, kWideMinReduction), which
  // this one's tile runs with lanes empty: AVX2's 16-channel tile as one
  // full and one half-empty tile (avx2/igemm_3x24c4s.cc, RESULTS.md section
  // 242), AVX512-VNNI's as two zmm blocks of 16 (avx512vnni/igemm_6x24c4.cc,
  // section 251). Null: never.
  const IgemmUkernel* wide_alt = nullptr;
};

// A conv packed for two microkernels that runs `nonneg` when the input of a
// run has no negative byte and `general` otherwise (both exact, so the
// result is the same either way). Both share the shape.
std::unique_ptr<PackedConv> nonneg_dispatch(std::unique_ptr<PackedConv> general,
                                            std::unique_ptr<PackedConv> nonneg);

// The same with a third: `shifted` (packed by pack_shifted, or null) runs
// when the input's minimum is in [-row_add, 0).
std::unique_ptr<PackedConv> nonneg_dispatch(std::unique_ptr<PackedConv> general,
                                            std::unique_ptr<PackedConv> nonneg,
                                            std::unique_ptr<PackedConv> shifted, int row_add);

struct DwUkernel {
  Isa isa = Isa::kRef;
  const char* name = "";
  int block = 16;
  void (*fn)(const DwRow&) = nullptr;
};

class IgemmConvKernel final : public NamedKernel<ConvKernel> {
 public:
  explicit IgemmConvKernel(const IgemmUkernel& u) : NamedKernel(u.conv_name, u.isa), u_(u) {}
  std::string supports(const ConvShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override;

 private:
  IgemmUkernel u_;
};

class IgemmGemmKernel final : public NamedKernel<GemmKernel> {
 public:
  explicit IgemmGemmKernel(const IgemmUkernel& u) : NamedKernel(u.gemm_name, u.isa), u_(u) {}
  std::string supports(const GemmShape& shape, OutputType out) const override;
  std::unique_ptr<PackedGemm> pack(const GemmShape& shape, const int8_t* w) const override;
  // Packs B [K][N] straight into the block layout (packing.h, pack_igemm_weights_kn).
  std::unique_ptr<PackedGemm> pack_kn(const GemmShape& shape, const int8_t* w_kn) const override;
  // Rewrites the packed weights a slot holds (pack_igemm_weights_into) where their microkernel
  // and shape match; the widened and pair-sum forms pack anew.
  void pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                         std::unique_ptr<PackedGemm>* slot) const override;

 private:
  IgemmUkernel u_;
};

class DwConvKernel final : public NamedKernel<ConvKernel> {
 public:
  explicit DwConvKernel(const DwUkernel& u) : NamedKernel(u.name, u.isa), u_(u) {}
  std::string supports(const ConvShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override;

 private:
  DwUkernel u_;
};

// An AMX microkernel (abi/conv_gemm_s8.h, AmxTile). The library passes the
// native one; tests pass the same source compiled against the emulation
// header, under another name.
struct AmxUkernel {
  Isa isa = Isa::kAmx;
  const char* conv_name = "";
  const char* gemm_name = "";
  AmxFn fn = nullptr;
  // The same tile for inputs held as u8 codes (tdpbusd, AmxTile::acc_init):
  // AmxConvKernel takes u8-coded tensors where it is set. Null: declines them.
  AmxFn fn_u8 = nullptr;
  // Spatial convs of one group (x86/conv_amx_direct.h): the direct strip for
  // int8 and for u8-coded inputs. Null: those convs take the gather.
  AmxConvStripFn strip = nullptr, strip_u8 = nullptr;
};

class AmxConvKernel final : public NamedKernel<ConvKernel> {
 public:
  explicit AmxConvKernel(const AmxUkernel& u) : NamedKernel(u.conv_name, u.isa), u_(u) {}
  // Declines depthwise convolutions and shapes whose tiles would be mostly
  // padding (estimated tile utilisation under 15% read in place, 25%
  // gathered: conv_amx.cc), where VNNI is faster.
  std::string supports(const ConvShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override;

 private:
  AmxUkernel u_;
};

class AmxGemmKernel final : public NamedKernel<GemmKernel> {
 public:
  explicit AmxGemmKernel(const AmxUkernel& u) : NamedKernel(u.gemm_name, u.isa), u_(u) {}
  std::string supports(const GemmShape& shape, OutputType out) const override;
  std::unique_ptr<PackedGemm> pack(const GemmShape& shape, const int8_t* w) const override;
  // B an activation (a MatMul of two activations, x86/conv_amx.cc): packed
  // straight from [K][N] (or [N][K]) into the tile layout, no transpose;
  // pack_per_run_into rewrites the slot's buffer when it holds this
  // kernel's packing of the same (N, K), so repeated products allocate nothing.
  std::unique_ptr<PackedGemm> pack_kn(const GemmShape& shape, const int8_t* w_kn) const override;
  void pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                         std::unique_ptr<PackedGemm>* slot) const override;

 private:
  AmxUkernel u_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
