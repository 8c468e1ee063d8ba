// The int8 transposed-convolution family of the registry (registry.h): key
// conv_transpose_s8, problem (ConvTransposeShape, OutputType), chosen per
// layer with kernels::choose<ConvTransposeKernel>(shape, out).
//
// Candidates, best first (the AVX512-VNNI and AVX2 providers', then
// ref/provider.cc's two: baseline code):
//   conv_transpose_s8_ks_avx512vnni kernel == stride, no pads, one group,
//       under a cap that leaves no AMX tier: per input row, the AVX512-VNNI
//       igemm tiles written in place (x86/conv_transpose_ks.h).
//   conv_transpose_s8_ks_avx2 the same driver on the AVX2 tiles, under a cap
//       that leaves no VNNI / AMX tier.
//   conv_transpose_s8_phases  the stride-phase (sub-pixel) decomposition: the
//       outputs whose row is congruent to a given phase modulo the stride
//       read a fixed subset of kernel taps, so each of the stride_h*stride_w
//       phases is an ordinary convolution of the whole input with those taps
//       (flipped), run by the conv_s8 family's best kernel, and its output
//       rows and columns are interleaved into y. Integer sums do not depend
//       on their order and the epilogue is the same, so it equals the
//       reference bit for bit (tests/test_conv_transpose_s8.py).
//   conv_transpose_s8_ref     ref::conv_transpose2d_s8, the spec.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/kernel_types.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

// "C=.. H=.. W=.. K=.. R=.. S=.. stride=AxB pads=t,l,b,r out_pad=AxB dilation=AxB groups=G out=int8"
std::string describe_conv_transpose(const ConvTransposeShape& shape, OutputType out);

// A transposed conv layer's weights packed for one kernel. run() is const
// and thread-safe.
class PackedConvTranspose {
 public:
  virtual ~PackedConvTranspose() = default;
  // x: [batch][H][W][C] int8 NHWC; y: [batch][out_h][out_w][K] of
  // ep.out_type, the type it was packed for. ep.residual must be null.
  virtual void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const = 0;
  virtual const ConvTransposeShape& shape() const = 0;
};

class ConvTransposeKernel : public Kernel {
 public:
  static constexpr OpKey kKey{"conv_transpose", Dtype::kS8};
  static void validate(const ConvTransposeShape& shape, OutputType) { shape.validate(); }
  static std::string describe(const ConvTransposeShape& shape, OutputType out) {
    return describe_conv_transpose(shape, out);
  }
  virtual std::string supports(const ConvTransposeShape& shape, OutputType out) const = 0;
  // Packs weights in the ONNX layout [C][K/groups][R][S] for output type
  // `out` (run() refuses an epilogue of another); the caller's buffer is not
  // retained.
  virtual std::unique_ptr<PackedConvTranspose> pack(const ConvTransposeShape& shape, OutputType out,
                                                    const int8_t* weights) const = 0;
};

// The two candidates (registered by ref/provider.cc).
const ConvTransposeKernel& conv_transpose_s8_phases();
const ConvTransposeKernel& conv_transpose_s8_ref();

}  // namespace kernels
}  // namespace int8rt
