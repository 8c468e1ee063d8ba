// KsConvTransposeKernel: a conv_transpose_s8 candidate (baseline code) for
// transposed convs whose kernel equals their stride (R == stride_h, S ==
// stride_w: the 2 x 2 / 2 upsampling of FPN and DB-style detector heads),
// with no pads, no output_padding, dilation 1 and one group: every output
// pixel then takes exactly one tap (abi/conv_transpose_s8.h), and the layer
// is, per input row and phase row qy, a GEMM of the row's pixels against
// that qy's S*K weights whose output row is written in place: no phase
// buffer and no scatter (conv_transpose_s8_phases runs the same sums as one
// merged 1x1 conv into a buffer, then copies every pixel's phases out).
//
// Microkernels (an ISA's provider binds them):
//   s8 / u8  igemm tiles (abi/conv_gemm_s8.h) of mr rows x nb blocks of
//            `block` channels, c4, `strip` blocks interleaved per run (the
//            tiles' packing, x86/packing.h): the tile for inputs of any sign
//            (AVX2's sign tile, uncompensated, weights in [-127, 127];
//            AVX512-VNNI's shifted tile, `compensate`: its sums start at
//            -128 * sum(w), any weight), the u8 tile for input rows with no
//            negative byte (checked per input row, as
//            x86/conv_igemm_nonneg.cc checks per run; sums start at 0).
//   dot      the 2 x 2, K = 1 head (S*K = 2 fills 2 of a tile's 16
//            channels): pixels in the lanes (TransposeDotRow). Null: such
//            layers take the tiles.
// Where the s8 tile does not take -128 weights (any_weight false), layers
// with one run conv_transpose_s8_phases, packed by pack() (the dot kernel
// takes them); INT8RT_LOG=dispatch says so. The driver declines where a
// VNNI / AMX tier above its own is enabled (the phases' merged conv then
// runs that tier's tiles; not measured against this driver).
#pragma once

#include <memory>
#include <string>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/abi/conv_transpose_s8.h"
#include "kernels/conv_transpose_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

struct KsTransposeUkernels {
  IgemmFn (*s8)(int mr, int nb) = nullptr;
  IgemmFn (*u8)(int mr, int nb) = nullptr;
  int mr = 1, nb = 1, block = 8, cgroup = 4;
  TransposeDotFn dot = nullptr;
  int strip = 1;            // blocks interleaved per run (nb must equal it when > 1)
  bool compensate = false;  // the s8 tile's sums start at -128 * sum(w) (IgemmTile::acc_init)
  bool any_weight = false;  // the s8 tile is exact for -128 weights too
};

class KsConvTransposeKernel final : public NamedKernel<ConvTransposeKernel> {
 public:
  KsConvTransposeKernel(const char* name, Isa isa, const KsTransposeUkernels& u) : NamedKernel(name, isa), u_(u) {}
  std::string supports(const ConvTransposeShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConvTranspose> pack(const ConvTransposeShape& shape, OutputType out,
                                            const int8_t* w) const override;

 private:
  KsTransposeUkernels u_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
